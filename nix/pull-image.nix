# pullImage: an image fetched from a registry by digest, as an OCI layout
# that fromImage takes. A fixed-output derivation: `hash` (or `sha256`) is
# the hash of the layout, which depends only on the image.
{ strataDerivation }:
{
  imageName,
  imageDigest,
  hash ? "",
  sha256 ? "",
  os ? "linux",
  # The OCI architecture (amd64, arm64, …); the system's when null.
  arch ? null,
  # false: plain HTTP.
  tlsVerify ? true,
  finalImageName ? imageName,
  finalImageTag ? "latest",
  name ? null,
}:
let
  safeName = builtins.replaceStrings [ "/" ":" "@" ] [ "-" "-" "-" ] finalImageName;
in
if hash == "" && sha256 == "" then
  throw "strata: pullImage of ${imageName} needs `hash` (or `sha256`) of the result"
else
  strataDerivation (
    {
      name = if name != null then name else "${safeName}-${finalImageTag}-oci";
      step = "pull";
      inherit
        imageName
        imageDigest
        os
        tlsVerify
        finalImageTag
        ;
      outputHashMode = "recursive";
      outputHash = if hash != "" then hash else sha256;
      impureEnvVars = [
        "STRATA_REGISTRY_CREDS"
        "REGISTRY_AUTH_FILE"
        "SSL_CERT_FILE"
      ];
    }
    // (if hash == "" then { outputHashAlgo = "sha256"; } else { })
    // (if arch != null then { inherit arch; } else { })
  )

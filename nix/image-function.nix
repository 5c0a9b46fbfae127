# An image function: the arguments of nixpkgs dockerTools' image functions,
# passed to strata, and the derivation that runs one strata step over them.
{
  strataDerivation,
  imageSpec,
  makeScript,
  customisation,
}:
{
  # What the derivation is: "archive" (the image in the store) or "stream"
  # (a script that writes it to stdout).
  step,
  # The derivation's name from the image's base name and format.
  derivationName,
  # The layering when the caller gives none.
  defaultLayering,
}:
{
  name,
  tag ? null,
  contents ? [ ],
  copyToRoot ? null,
  config ? { },
  created ? "1970-01-01T00:00:01Z",
  mtime ? "1970-01-01T00:00:01Z",
  maxLayers ? 100,
  layering ? defaultLayering,
  # The OCI architecture (amd64, arm64, arm, …) and its variant (v7, …);
  # by default the system's.
  architecture ? null,
  variant ? null,
  uid ? 0,
  gid ? 0,
  uname ? "root",
  gname ? "root",
  includeStorePaths ? true,
  # Layers of buildLayer, bottom first, below the automatic ones.
  layers ? [ ],
  # Store paths, or regular expressions over them, to leave out.
  excludePaths ? [ ],
  # Layer compression: "none", "gz" or "zstd", and its level. Unset, the
  # layers of archives and pushes are gz, those of streams and loads none.
  compressor ? null,
  compressionLevel ? null,
  # "docker" (an archive docker and podman load), "oci-archive" or
  # "oci-dir" (a directory).
  format ? "docker",
  # OCI annotations, on the manifest and on the index entry.
  annotations ? { },
  # The image this one is built on: a docker-archive (.tar, .tar.gz,
  # .tar.zst), an OCI layout (directory or tar), a strata image or the
  # output of pullImage. Its layers are kept as they are and its config is
  # inherited.
  fromImage ? null,
  # Which image of a base archive that holds several (a docker-archive of
  # `docker save a b`): its name, and its tag (any tag when null).
  fromImageName ? null,
  fromImageTag ? null,
  # The layering plan of this image's previous version (the file its `plan`
  # attribute builds, kept in your repository): each of its layers is kept
  # with the store paths of the same names, so that a new version re-sends
  # only the layers whose paths changed. Only what it lacks is laid out anew.
  previousPlan ? null,
  # Accounts, by name: { alice = { uid = 1000; groups = [ "wheel" ]; }; }
  # and { wheel.gid = 10; }, written to /etc/passwd, /etc/group and
  # /etc/shadow, with home directories owned by their users.
  users ? { },
  groups ? { },
  # Directories to make at /, with mode and owner:
  # [ { path = "/tmp"; mode = "1777"; } ].
  directories ? [ ],
  # Owners and modes of chosen entries, set in the tar:
  # [ { path = pkg; regex = ".*/bin/.*"; mode = "0755"; uid = 1000; } ].
  perms ? [ ],
  # Shell commands run in the customisation root before it is packed:
  # unprivileged, and under fakeroot (chown and chmod reach the image).
  extraCommands ? "",
  fakeRootCommands ? "",
  # A Nix database for the image's store paths, for nix inside the image.
  includeNixDB ? false,
  # dockerTools runs this as root in a VM; strata has no VM. The README's
  # migration table maps its uses to the arguments above.
  runAsRoot ? null,
  # dockerTools sizes the VM of buildImage with these; strata has no VM.
  diskSize ? null,
  buildVMMemorySize ? null,
  passthru ? { },
  meta ? { },
}:
assert
  runAsRoot == null
  || throw "strata: runAsRoot needs a VM, which strata does without; use users, groups, directories, perms, extraCommands or fakeRootCommands instead (README: Migrating from dockerTools)";
let
  warnUnused =
    argument: value: rest:
    if value == null then
      rest
    else
      builtins.trace "warning: strata: `${argument}` does nothing: strata builds images without a VM" rest;
  roots = if copyToRoot != null then copyToRoot else contents;
  hasCommands = extraCommands != "" || fakeRootCommands != "" || includeNixDB;
  # The image derivations' attributes: the spec and its closure, and the
  # root the commands made.
  builderAttrs =
    spec.builderAttrs
    // (
      if hasCommands then
        {
          customisation = customisation {
            inherit
              name
              spec
              extraCommands
              fakeRootCommands
              includeNixDB
              ;
          };
        }
      else
        { }
    );
  layerSpec =
    layer:
    if layer._type or null == "strataLayer" then
      { inherit (layer) deps copyToRoot; }
    else
      throw "strata: every entry of `layers` must come from buildLayer";
  # Set only when given, so that images without them keep their specs.
  baseChoice =
    (if fromImageName != null then { inherit fromImageName; } else { })
    // (if fromImageTag != null then { inherit fromImageTag; } else { });
  spec = imageSpec (baseChoice // {
    inherit
      name
      tag
      config
      created
      mtime
      maxLayers
      layering
      architecture
      variant
      uid
      gid
      uname
      gname
      includeStorePaths
      compressor
      compressionLevel
      format
      annotations
      ;
    contents = if builtins.isList roots then roots else [ roots ];
    fromImage = if fromImage == null then null else "${fromImage}";
    # Copied on its own, so that the store paths a plan names are no
    # references of the image.
    previousPlan =
      if previousPlan == null then
        null
      else if builtins.isAttrs previousPlan then
        throw "strata: previousPlan must be a file, such as ./image-plan.json (the image's `description` or `plan` attribute, built once and copied into your repository), not a derivation"
      else
        "${builtins.path {
          path = previousPlan;
          name = "previous-plan.json";
        }}";
    inherit users groups directories;
    perms = map (rule: rule // (if rule ? path then { path = toString rule.path; } else { })) perms;
    rootCommands = hasCommands;
    layers = map layerSpec layers;
    excludePaths = map toString excludePaths;
  });
  # The image description: the plan, the config, and every layer's diff_id
  # and size with what it was made from; hashing only, nothing compressed.
  # Streams, pushes and loads are made from it.
  description = strataDerivation (
    builderAttrs
    // {
      name = "${baseNameOf name}-description.json";
      step = "describe";
    }
  );
  isDerivation = value: builtins.isAttrs value && value.type or null == "derivation";
  # The packages Nix knows by name: those of contents, of layers and those
  # config holds as derivations (an interpolated string keeps no meta).
  namedPackages =
    let
      inConfig =
        value:
        if isDerivation value then
          [ value ]
        else if builtins.isAttrs value then
          builtins.concatMap inConfig (builtins.attrValues value)
        else if builtins.isList value then
          builtins.concatMap inConfig value
        else
          [ ];
      roots' = if builtins.isList roots then roots else [ roots ];
      inLayers = builtins.concatMap (layer: layer.deps or [ ]) layers;
    in
    builtins.filter isDerivation (roots' ++ inLayers) ++ inConfig config;
  # What the bill of materials takes of a package's meta.
  licenseMeta =
    license:
    if builtins.isAttrs license then
      {
        spdxId = license.spdxId or null;
        text = license.fullName or license.shortName or null;
      }
    else
      {
        spdxId = null;
        text = toString license;
      };
  packageMeta =
    package:
    let
      meta = package.meta or { };
      license = meta.license or [ ];
      homepage = meta.homepage or null;
    in
    {
      path = builtins.unsafeDiscardStringContext (toString package);
      licenses = map licenseMeta (if builtins.isList license then license else [ license ]);
      homepage =
        if builtins.isList homepage then
          (if homepage == [ ] then null else toString (builtins.head homepage))
        else if homepage == null then
          null
        else
          toString homepage;
      description = if meta ? description then toString meta.description else null;
    };
  # What the bill of materials says of the store paths: NAR hashes and
  # references from the closure, and the named packages' meta. Cheap: it
  # needs no layer, so a push makes the bill from it.
  sbomFacts = strataDerivation (
    builderAttrs
    // {
      name = "${baseNameOf name}-sbom-facts.json";
      step = "sbom-facts";
      packagesMeta = map packageMeta namedPackages;
    }
  );
  # The bill of materials, of the image as built (a stream's as pushed).
  billOfMaterials =
    sbomFormat: extension:
    strataDerivation (
      builderAttrs
      // {
        name = "${baseNameOf name}-sbom.${extension}";
        step = "sbom";
        inherit sbomFormat;
        facts = sbomFacts;
        image = if step == "stream" then null else result;
      }
    );
  script = makeScript { inherit description sbomFacts; };
  result =
    if step == "stream" then
      script (derivationName (baseNameOf name) format) "stream" false
    else
      strataDerivation (
        builderAttrs
        // {
          name = derivationName (baseNameOf name) format;
          inherit step;
        }
      );
  allPassthru = passthru // {
    inherit (spec) imageName imageTag;
    inherit description;
    # What buildImageIndex checks its images by.
    strataImage = step;
  }
  // (
    if step == "stream" then
      # As nixpkgs marks a stream: run it, do not load it.
      { isExe = true; }
    else
      # The same image as a stream script, as streamLayeredImage makes it.
      { stream = script "stream-${baseNameOf name}" "stream" false; }
  )
  // {
    # Bills of materials: SPDX 2.3 and CycloneDX 1.6 JSON, and what they
    # say of the store paths.
    sbom = billOfMaterials "spdx" "spdx.json";
    sbomCycloneDX = billOfMaterials "cyclonedx" "cdx.json";
    inherit sbomFacts;
    # Programs for `nix run`: push to a registry (docker://imageName:imageTag
    # unless given a destination), or load into Docker or podman through
    # their API socket.
    copyToRegistry = script "copy-to-registry" "push" true;
    copyToDockerDaemon = script "copy-to-docker-daemon" "docker-load" true;
    copyToPodman = script "copy-to-podman" "podman-load" true;
    # The layering plan (JSON), for `strata explain --plan`.
    plan = strataDerivation (
      builderAttrs
      // {
        name = "${baseNameOf name}-plan.json";
        step = "plan";
      }
    );
  };
in
warnUnused "diskSize" diskSize (
  warnUnused "buildVMMemorySize" buildVMMemorySize (
    result
    // allPassthru
    // {
      passthru = allPassthru;
      inherit meta;
    }
  )
)

# buildLayeredImage: the image archive in the store, an OCI layout with
# Docker's manifest.json in one tar, which `docker load` and `podman load`
# accept. Store paths are spread over up to maxLayers layers.
{ imageFunction }:
imageFunction {
  step = "archive";
  derivationName = name: format: if format == "oci-dir" then "${name}-oci" else "${name}.tar";
  defaultLayering = "stable";
}

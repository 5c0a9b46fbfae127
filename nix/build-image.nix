# buildImage: as in dockerTools, every store path in a single layer, with
# copyToRoot merged at / in a second one.
{ imageFunction }:
imageFunction {
  step = "archive";
  derivationName = name: format: if format == "oci-dir" then "${name}-oci" else "${name}.tar";
  defaultLayering = "single";
}

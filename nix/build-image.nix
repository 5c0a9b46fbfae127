# buildImage: as in dockerTools, every store path in a single layer, with
# copyToRoot merged at / in a second one.
{ imageFunction }:
imageFunction {
  step = "archive";
  derivationName = name: "${name}.tar";
  defaultLayering = "single";
}

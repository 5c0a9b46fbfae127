# streamLayeredImage: an executable that writes the image archive to stdout,
# byte for byte the one buildLayeredImage stores, without any layer in the
# store. Layer digests are computed when it is built, so streaming is a
# single pass over the store that checks each layer against its digest.
{ imageFunction }:
imageFunction {
  step = "stream";
  derivationName = name: _format: "stream-${name}";
  defaultLayering = "stable";
}

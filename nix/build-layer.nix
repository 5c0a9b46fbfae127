# buildLayer: a layer of the user's, for the `layers` argument of the image
# functions. It holds the closures of `deps` and `copyToRoot`, less what the
# layers below it hold, with `copyToRoot` merged at /. Images that use the
# same layers, in the same order, share them byte for byte.
{
  deps ? [ ],
  copyToRoot ? null,
}:
{
  _type = "strataLayer";
  inherit deps;
  copyToRoot =
    if copyToRoot == null then
      [ ]
    else if builtins.isList copyToRoot then
      copyToRoot
    else
      [ copyToRoot ];
}

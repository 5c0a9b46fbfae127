# An image function made overridable, as nixpkgs makes its functions:
# `(f args).override new` is `f (args // new)`, and with a function,
# `f (args // new args)`. Needs no nixpkgs.
let
  overridable =
    f: args:
    let
      result = f args;
      override =
        new: overridable f (args // (if builtins.isFunction new then new args else new));
    in
    if builtins.isAttrs result then result // { inherit override; } else result;
in
overridable

# A script whose interpreter is strata, running `command` (stream, push,
# docker-load, podman-load) on a description of an image or an index: the
# output itself, or with `isProgram` the program bin/<scriptName>, for
# `nix run`.
{ strataDerivation, strataBin }:
description: scriptName: command: isProgram:
strataDerivation (
  {
    name = scriptName;
    step = "script";
    inherit command;
    descriptionFile = description;
    interpreter = strataBin;
  }
  // (if isProgram then { program = scriptName; } else { })
)

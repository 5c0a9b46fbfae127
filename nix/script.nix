# A script whose interpreter is strata, running `command` (stream, push,
# docker-load, podman-load) on a description of an image or an index: the
# output itself, or with `isProgram` the program bin/<scriptName>, for
# `nix run`. A push sends the image's SPDX bill of materials along, made
# from the facts of its store paths, when it has them.
{ strataDerivation, strataBin }:
{
  description,
  sbomFacts ? null,
}:
scriptName: command: isProgram:
strataDerivation (
  {
    name = scriptName;
    step = "script";
    inherit command;
    descriptionFile = description;
    interpreter = strataBin;
  }
  // (if isProgram then { program = scriptName; } else { })
  // (if sbomFacts != null && command == "push" then { inherit sbomFacts; } else { })
)

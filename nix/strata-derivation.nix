# A derivation built by `strata builder <step>`, with structured attributes
# (strata reads them as JSON; nothing else is needed at build time).
{ strataBin, system }:
{ name, step, ... }@attrs:
derivation (
  builtins.removeAttrs attrs [ "step" ]
  // {
    inherit name system;
    builder = strataBin;
    args = [
      "builder"
      step
    ];
    __structuredAttrs = true;
  }
)

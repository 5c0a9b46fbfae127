{
  description = "strata: reproducible, layered container images from Nix closures";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      libFor =
        system: pkgs:
        import ./nix {
          strata = self.packages.${system}.default;
          inherit pkgs system;
        };
    in
    {
      packages = forAllSystems (
        system: pkgs: {
          default = pkgs.callPackage ./nix/package.nix { };
        }
      );

      # lib.<system>.buildLayeredImage and friends, bound to that system.
      lib = forAllSystems libFor;

      overlays.default = final: prev: {
        strata = final.callPackage ./nix/package.nix { };
        strataTools = import ./nix {
          inherit (final) strata;
          pkgs = final;
          system = final.stdenv.hostPlatform.system;
        };
      };

      checks = forAllSystems (
        system: pkgs:
        let
          examples = import ./examples {
            lib = libFor system pkgs;
            inherit (pkgs) busybox;
            inherit system;
          };
          reproducible = import ./nix/check-reproducible.nix {
            inherit pkgs;
            image = examples.many-paths;
          };
        in
        examples // { inherit reproducible; }
      );
    };
}

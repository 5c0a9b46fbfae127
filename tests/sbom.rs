//! Bills of materials: both documents checked by real validators (the
//! spdx-tools and cyclonedx-python-lib that scripts/install-deps installs),
//! against the store (every path, its NAR hash and references) and the
//! built image (manifest and layer digests), and pushed to a registry as an
//! artifact its referrers tag lists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::registry::Registry;
use common::*;
use serde_json::Value;

const VALIDATORS: &str = "/var/lib/strata-tests/sbom-validators/bin";

fn validator(program: &str) -> Command {
    let path = Path::new(VALIDATORS).join(program);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-deps",
        path.display()
    );
    Command::new(path)
}

/// Fails unless spdx-tools finds `file` a valid SPDX document.
fn assert_valid_spdx(file: &str) {
    run(validator("pyspdxtools").args(["-i", file]));
}

/// Fails unless cyclonedx-python-lib finds `file` valid CycloneDX 1.6.
fn assert_valid_cyclonedx(file: &str) {
    run(validator("python")
        .arg("-c")
        .arg(
            "import sys\n\
         from cyclonedx.validation.json import JsonStrictValidator\n\
         from cyclonedx.schema import SchemaVersion\n\
         error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
         if error is not None:\n    sys.exit(f'invalid CycloneDX: {error}')\n",
        )
        .arg(file));
}

fn read_json(path: &str) -> Value {
    json(&std::fs::read(path).unwrap())
}

/// The NAR hash of a store path, in hex, as the store records it.
fn nar_hash_hex(path: &str) -> String {
    let hash = run(Command::new("nix-store").args(["--query", "--hash", path]));
    let base32 = hash.trim().trim_start_matches("sha256:");
    run(Command::new("nix-hash").args(["--type", "sha256", "--to-base16", base32]))
        .trim()
        .to_owned()
}

/// The store paths of an image of the fixtures: its spec's closure, less
/// the spec.
fn image_store_paths(attribute: &str) -> BTreeSet<String> {
    expected_store_paths(&nix_build(&format!("{attribute}.drvAttrs.specFile")))
}

/// The SPDX packages, by `packageFileName` (the store paths) or `SPDXID`.
fn spdx_packages(document: &Value) -> BTreeMap<String, Value> {
    document["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let key = p["packageFileName"]
                .as_str()
                .or(p["SPDXID"].as_str())
                .unwrap();
            (key.to_owned(), p.clone())
        })
        .collect()
}

fn spdx_relations(document: &Value, kind: &str) -> BTreeSet<(String, String)> {
    document["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == kind)
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_owned(),
                r["relatedSpdxElement"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn cyclonedx_components(document: &Value) -> BTreeMap<String, Value> {
    document["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["bom-ref"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

fn checksum(package: &Value) -> &str {
    assert_eq!(package["checksums"][0]["algorithm"], "SHA256", "{package}");
    package["checksums"][0]["checksumValue"].as_str().unwrap()
}

fn property<'a>(component: &'a Value, name: &str) -> &'a str {
    component["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name} in {component}"))["value"]
        .as_str()
        .unwrap()
}

/// The archive's manifest digest, and its layers' digests.
fn manifest_digests(archive: &str) -> (String, Vec<String>) {
    let index = json(&archive_file(Path::new(archive), "index.json"));
    (
        index["manifests"][0]["digest"].as_str().unwrap().to_owned(),
        oci_layer_digests(Path::new(archive)),
    )
}

#[test]
fn both_documents_are_valid_and_hold_every_store_path_with_its_nar_hash_layer_and_references() {
    let spdx_file = nix_build("sbom.image.sbom");
    let cyclonedx_file = nix_build("sbom.image.sbomCycloneDX");
    assert_valid_spdx(&spdx_file);
    assert_valid_cyclonedx(&cyclonedx_file);
    let spdx = read_json(&spdx_file);
    let cyclonedx = read_json(&cyclonedx_file);

    // The image: its manifest digest, name and tag, and its time.
    let archive = nix_build("sbom.image");
    let (manifest, layers) = manifest_digests(&archive);
    let packages = spdx_packages(&spdx);
    let image = &packages["SPDXRef-Image"];
    assert_eq!(format!("sha256:{}", checksum(image)), manifest);
    assert_eq!(image["name"], "registry.example.com/team/sbom");
    assert_eq!(image["versionInfo"], "1");
    assert_eq!(spdx["creationInfo"]["created"], "2024-05-01T00:00:00Z");
    let component = &cyclonedx["metadata"]["component"];
    assert_eq!(
        format!(
            "sha256:{}",
            component["hashes"][0]["content"].as_str().unwrap()
        ),
        manifest
    );
    assert_eq!(component["version"], "1");
    assert_eq!(cyclonedx["metadata"]["timestamp"], "2024-05-01T00:00:00Z");

    // Every layer, by its blob's digest.
    for (number, digest) in layers.iter().enumerate() {
        let layer = &packages[&format!("SPDXRef-Layer-{}", number + 1)];
        assert_eq!(&format!("sha256:{}", checksum(layer)), digest);
    }

    // Every store path and nothing else, with the store's NAR hash, its
    // name and version as parseDrvName splits them, and a package URL.
    let store_paths = image_store_paths("sbom.image");
    let in_spdx: BTreeSet<String> = packages
        .keys()
        .filter(|k| k.starts_with("/nix/store/"))
        .cloned()
        .collect();
    assert_eq!(in_spdx, store_paths);
    let components = cyclonedx_components(&cyclonedx);
    let contains = spdx_relations(&spdx, "CONTAINS");
    let explanation = json(
        run(Command::new(strata_binary())
            .args(["explain", "--json", "--plan"])
            .arg(nix_build("sbom.image.description")))
        .as_bytes(),
    );
    for path in &store_paths {
        let hex = nar_hash_hex(path);
        let package = &packages[path];
        assert_eq!(checksum(package), hex, "{path}");
        let component = &components[path];
        assert_eq!(component["hashes"][0]["content"], hex.as_str(), "{path}");
        assert_eq!(property(component, "nix:nar-hash"), format!("sha256:{hex}"));
        // The layer that holds it, as strata explain tells it.
        let number = explanation["layers"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| {
                l["paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p[0] == path.as_str())
            })
            .unwrap()
            + 1;
        let layer = format!("SPDXRef-Layer-{number}");
        assert!(
            contains.contains(&(
                layer.clone(),
                package["SPDXID"].as_str().unwrap().to_owned()
            )),
            "{path} is not in {layer}"
        );
        assert_eq!(
            property(component, "strata:layer"),
            format!("layer-{number}")
        );
        let purl = package["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap();
        assert!(purl.starts_with("pkg:nix/"), "{purl}");
        assert_eq!(component["purl"], purl);
    }
    let app = store_paths
        .iter()
        .find(|p| p.ends_with("-sbom-app-1.0"))
        .unwrap();
    let custom = store_paths
        .iter()
        .find(|p| p.ends_with("-sbom-custom-2.0"))
        .unwrap();
    assert_eq!(packages[app]["name"], "sbom-app");
    assert_eq!(packages[app]["versionInfo"], "1.0");
    assert_eq!(
        packages[app]["externalRefs"][0]["referenceLocator"],
        format!("pkg:nix/sbom-app@1.0?path={}", app.replace('/', "%2F"))
    );
    let dual = store_paths
        .iter()
        .find(|p| p.ends_with("-sbom-dual-3.1-lib"))
        .unwrap();
    assert_eq!(packages[dual]["name"], "sbom-dual");
    assert_eq!(packages[dual]["versionInfo"], "3.1-lib");

    // The references, from the closure.
    let depends = spdx_relations(&spdx, "DEPENDS_ON");
    let id = |path: &str| packages[path]["SPDXID"].as_str().unwrap().to_owned();
    assert!(depends.contains(&(id(app), id(custom))), "{depends:?}");
    let app_dependencies = cyclonedx["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == app.as_str())
        .unwrap();
    assert_eq!(app_dependencies["dependsOn"], serde_json::json!([custom]));
}

#[test]
fn the_meta_nix_knows_is_recorded_and_a_license_without_an_spdx_id_is_noassertion() {
    let spdx = read_json(&nix_build("sbom.image.sbom"));
    let cyclonedx = read_json(&nix_build("sbom.image.sbomCycloneDX"));
    let packages = spdx_packages(&spdx);
    let components = cyclonedx_components(&cyclonedx);
    let by_name = |suffix: &str| -> (Value, Value) {
        let path = packages
            .keys()
            .find(|k| k.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix}"));
        (packages[path].clone(), components[path].clone())
    };

    let (app, app_component) = by_name("-sbom-app-1.0");
    assert_eq!(app["licenseDeclared"], "MIT");
    assert_eq!(app["homepage"], "https://example.org/app");
    assert_eq!(app["description"], "the application");
    assert_eq!(app_component["licenses"][0]["license"]["id"], "MIT");
    assert_eq!(
        app_component["externalReferences"][0]["url"],
        "https://example.org/app"
    );

    let (dual, dual_component) = by_name("-sbom-dual-3.1-lib");
    assert_eq!(dual["licenseDeclared"], "MIT AND Apache-2.0");
    assert_eq!(dual_component["licenses"][1]["license"]["id"], "Apache-2.0");

    // A license string that is an SPDX id.
    let (text, _) = by_name("-sbom-text");
    assert_eq!(text["licenseDeclared"], "GPL-2.0-only");

    // No SPDX id: NOASSERTION, its text kept.
    let (custom, custom_component) = by_name("-sbom-custom-2.0");
    assert_eq!(custom["licenseDeclared"], "NOASSERTION");
    assert_eq!(
        custom["licenseComments"],
        "meta.license: A licence of its own"
    );
    assert_eq!(
        custom_component["licenses"][0]["license"]["name"],
        "A licence of its own"
    );

    // Named in config: its meta too; a homepage that is no URL left out.
    let (tool, tool_component) = by_name("-sbom-tool-0.1");
    assert_eq!(tool["licenseDeclared"], "NOASSERTION");
    assert_eq!(tool["licenseComments"], "meta.license: see COPYING");
    assert!(tool.get("homepage").is_none(), "{tool}");
    assert!(tool_component.get("externalReferences").is_none());

    // Only what Nix named: busybox has no meta here.
    let (busybox, _) = by_name("-busybox");
    assert!(busybox.get("licenseDeclared").is_none(), "{busybox}");
}

#[test]
fn the_same_image_gives_the_same_bytes_and_identifiers_follow_the_digest() {
    for attribute in ["sbom.image.sbom", "sbom.image.sbomCycloneDX"] {
        run(nix_build_command(attribute).arg("--check"));
    }
    let one = read_json(&nix_build("sbom.image.sbom"));
    let two = read_json(&nix_build("sbom.other.sbom"));
    assert_ne!(one["documentNamespace"], two["documentNamespace"]);
    let one = read_json(&nix_build("sbom.image.sbomCycloneDX"));
    let two = read_json(&nix_build("sbom.other.sbomCycloneDX"));
    assert_ne!(one["serialNumber"], two["serialNumber"]);

    // strata sbom, from the description and the store: the same bytes as
    // the Nix library's, with the archive or building the image itself.
    let description = nix_build("images.web.description");
    let archive = nix_build("images.web");
    let work = tempfile::tempdir().unwrap();
    for (format, attribute) in [("spdx", "sbom"), ("cyclonedx", "sbomCycloneDX")] {
        let expected = std::fs::read(nix_build(&format!("images.web.{attribute}"))).unwrap();
        let with_image = run(Command::new(strata_binary()).args([
            "sbom",
            &description,
            "--image",
            &archive,
            "--format",
            format,
        ]));
        assert_eq!(with_image.as_bytes(), expected, "{format}, given the image");
        let out = work.path().join(format);
        run(Command::new(strata_binary())
            .args(["sbom", &description, "--format", format, "-o"])
            .arg(&out));
        assert_eq!(std::fs::read(&out).unwrap(), expected, "{format}, built");
    }
}

#[test]
fn a_base_images_layers_are_components_with_their_digests() {
    let spdx_file = nix_build("sbom.onBase.sbom");
    assert_valid_spdx(&spdx_file);
    assert_valid_cyclonedx(&nix_build("sbom.onBase.sbomCycloneDX"));
    let spdx = read_json(&spdx_file);
    let packages = spdx_packages(&spdx);
    let (_, base_layers) = manifest_digests(&nix_build("images.busybox"));
    let (_, layers) = manifest_digests(&nix_build("sbom.onBase"));
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
    for (number, digest) in base_layers.iter().enumerate() {
        let layer = &packages[&format!("SPDXRef-Layer-{}", number + 1)];
        assert_eq!(&format!("sha256:{}", checksum(layer)), digest);
        assert!(
            layer["comment"]
                .as_str()
                .unwrap()
                .starts_with("A layer of the base image /nix/store/"),
            "{layer}"
        );
    }
    let cyclonedx = read_json(&nix_build("sbom.onBase.sbomCycloneDX"));
    let first = &cyclonedx_components(&cyclonedx)["layer-1"];
    assert!(property(first, "strata:base-image").starts_with("/nix/store/"));
}

/// The referrers tag of `manifest` in `repository`: the artifacts listed.
fn referrers(registry: &Registry, repository: &str, manifest: &str) -> Option<Value> {
    let tag = format!("sha256-{}", manifest.trim_start_matches("sha256:"));
    let raw = skopeo_raw(&format!(
        "docker://{}/{repository}:{tag}",
        registry.address()
    ));
    raw.status.success().then(|| json(&raw.stdout))
}

/// A blob of the registry, by digest.
fn registry_blob(registry: &Registry, repository: &str, digest: &str) -> Vec<u8> {
    require("curl");
    let output = output_of(Command::new("curl").args(["-fsS"]).arg(format!(
        "http://{}/v2/{repository}/blobs/{digest}",
        registry.address()
    )));
    assert!(output.status.success(), "{}", stderr(&output));
    output.stdout
}

/// Checks that the registry's referrers tag for `manifest` lists one SPDX
/// artifact, whose subject is `manifest` and whose document is `sbom`.
fn assert_sbom_listed(registry: &Registry, repository: &str, manifest: &str, sbom: &str) {
    let index = referrers(registry, repository, manifest)
        .unwrap_or_else(|| panic!("no referrers tag for {repository}@{manifest}"));
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{index}");
    assert_eq!(listed[0]["artifactType"], "application/spdx+json");
    let artifact_digest = listed[0]["digest"].as_str().unwrap();
    let raw = skopeo_raw(&format!(
        "docker://{}/{repository}@{artifact_digest}",
        registry.address()
    ));
    let artifact = json(&raw.stdout);
    assert_eq!(artifact["artifactType"], "application/spdx+json");
    assert_eq!(artifact["subject"]["digest"], manifest);
    assert_eq!(
        artifact["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layer = &artifact["layers"][0];
    assert_eq!(layer["mediaType"], "application/spdx+json");
    assert_eq!(
        registry_blob(registry, repository, layer["digest"].as_str().unwrap()),
        std::fs::read(sbom).unwrap(),
        "the pushed document is passthru.sbom"
    );
}

fn pushed_digest(registry: &Registry, reference: &str) -> String {
    let raw = skopeo_raw(&format!("docker://{}/{reference}", registry.address()));
    assert!(raw.status.success(), "{}", stderr(&raw));
    format!("sha256:{}", sha256_hex(&raw.stdout))
}

#[test]
fn copy_to_registry_pushes_the_sbom_as_an_artifact_the_referrers_tag_lists() {
    let registry = Registry::start(None);
    let push = |attribute: &str, args: &[&str]| {
        let program = nix_build(&format!("{attribute}.copyToRegistry"));
        let output = output_of(Command::new(format!("{program}/bin/copy-to-registry")).args(args));
        assert_succeeded(&output, &[]);
        stderr(&output)
    };
    let sbom = nix_build("sbom.image.sbom");
    let destination = format!("{}/sbom:1", registry.address());
    let said = push("sbom.image", &[&destination]);
    assert!(said.contains("bill of materials sha256:"), "{said}");
    let manifest = pushed_digest(&registry, "sbom:1");
    let spdx = read_json(&sbom);
    assert_eq!(
        format!(
            "sha256:{}",
            checksum(&spdx_packages(&spdx)["SPDXRef-Image"])
        ),
        manifest,
        "the SBOM names the pushed manifest"
    );
    assert_sbom_listed(&registry, "sbom", &manifest, &sbom);
    // Pushed again: still listed once.
    push("sbom.image", &[&destination]);
    assert_sbom_listed(&registry, "sbom", &manifest, &sbom);

    // Skipped on request.
    let plain = format!("{}/plain:1", registry.address());
    let said = push("sbom.image", &[&plain, "--no-sbom"]);
    assert!(!said.contains("bill of materials"), "{said}");
    assert!(referrers(&registry, "plain", &manifest).is_none());

    // A stream's: of the image as pushed.
    let stream_sbom = nix_build("sbom.stream.sbom");
    assert_valid_spdx(&stream_sbom);
    push(
        "sbom.stream",
        &[&format!("{}/stream:1", registry.address())],
    );
    let stream_manifest = pushed_digest(&registry, "stream:1");
    assert_sbom_listed(&registry, "stream", &stream_manifest, &stream_sbom);

    // An index: each platform's image with its own.
    push(
        "platforms.index",
        &[&format!("{}/multi:1", registry.address())],
    );
    for platform in ["amd64", "arm64"] {
        let image_sbom = nix_build(&format!("platforms.{platform}.sbom"));
        let digest = format!(
            "sha256:{}",
            checksum(&spdx_packages(&read_json(&image_sbom))["SPDXRef-Image"])
        );
        assert_sbom_listed(&registry, "multi", &digest, &image_sbom);
    }
}

#[test]
fn strata_sbom_names_what_is_wrong_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("sbom.json");
    let description = nix_build("images.web.description");
    let other_image = nix_build("images.busybox");
    let mismatched = output_of(
        Command::new(strata_binary())
            .args(["sbom", &description, "--image", &other_image, "-o"])
            .arg(&out),
    );
    assert_failed(&mismatched, &[&other_image]);
    let missing = output_of(
        Command::new(strata_binary())
            .args(["sbom", "/nonexistent/description.json", "-o"])
            .arg(&out),
    );
    assert_failed(&missing, &["/nonexistent/description.json"]);
    let format =
        output_of(Command::new(strata_binary()).args(["sbom", &description, "--format", "swid"]));
    assert_failed(&format, &["swid"]);
    assert!(!out.exists(), "a failed sbom leaves no output");
}

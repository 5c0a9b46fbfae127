//! The bill as a CycloneDX 1.6 JSON document: the image as the metadata's
//! component, its layers and store paths as components (each path naming
//! its layer), and the dependencies: the image on its layers, each layer on
//! the paths it holds, each path on the paths it refers to.

use serde_json::{Value, json};

use crate::emit::sbom::bill::Bill;
use crate::emit::sbom::facts::License;

const IMAGE_REF: &str = "image";

pub fn document(bill: &Bill) -> Value {
    let image = &bill.image;
    let mut components = Vec::new();
    let mut dependencies = vec![json!({
        "ref": IMAGE_REF,
        "dependsOn": bill.layers.iter().map(|l| layer_ref(l.number)).collect::<Vec<_>>(),
    })];
    for layer in &bill.layers {
        let mut properties = vec![property("strata:media-type", &layer.media_type)];
        if let Some(base) = &layer.base_image {
            properties.push(property("strata:base-image", base));
        }
        components.push(json!({
            "type": "file",
            "bom-ref": layer_ref(layer.number),
            "name": format!("layer {}", layer.number),
            "hashes": [sha256(&layer.digest.hex())],
            "properties": properties,
        }));
        let held: Vec<&str> = bill
            .packages
            .iter()
            .filter(|p| p.layer == layer.number)
            .map(|p| p.path.as_str())
            .collect();
        dependencies.push(json!({ "ref": layer_ref(layer.number), "dependsOn": held }));
    }
    for package in &bill.packages {
        let mut component = json!({
            "type": "library",
            "bom-ref": package.path.as_str(),
            "name": package.name,
            "hashes": [sha256(&package.nar_hash.hex())],
            "purl": package.purl(),
            "properties": [
                property("nix:store-path", package.path.as_str()),
                property("nix:nar-hash", &format!("sha256:{}", package.nar_hash.hex())),
                property("strata:layer", &layer_ref(package.layer)),
            ],
        });
        if !package.version.is_empty() {
            component["version"] = package.version.clone().into();
        }
        if !package.licenses.is_empty() {
            let licenses: Vec<Value> = package
                .licenses
                .iter()
                .map(|l| match l {
                    License::Spdx(id) => json!({ "license": { "id": id } }),
                    License::Other(text) => json!({ "license": { "name": text } }),
                })
                .collect();
            component["licenses"] = licenses.into();
        }
        if let Some(description) = &package.description {
            component["description"] = description.clone().into();
        }
        if let Some(homepage) = &package.homepage {
            component["externalReferences"] = json!([{ "type": "website", "url": homepage }]);
        }
        components.push(component);
        let references: Vec<&str> = package.references.iter().map(|r| r.as_str()).collect();
        dependencies.push(json!({ "ref": package.path.as_str(), "dependsOn": references }));
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", bill.uuid("cyclonedx")),
        "version": 1,
        "metadata": {
            "timestamp": image.created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "strata",
                    "version": bill.tool_version,
                }],
            },
            "component": {
                "type": "container",
                "bom-ref": IMAGE_REF,
                "name": image.name,
                "version": image.tag,
                "hashes": [sha256(&image.manifest_digest.hex())],
                "purl": bill.image_purl(),
                "properties": [property("oci:platform", &image.platform.to_string())],
            },
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn layer_ref(number: usize) -> String {
    format!("layer-{number}")
}

fn sha256(hex: &str) -> Value {
    json!({ "alg": "SHA-256", "content": hex })
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

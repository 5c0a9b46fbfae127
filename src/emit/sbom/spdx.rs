//! The bill as an SPDX 2.3 JSON document: the image, its layers and its
//! store paths as packages, and how they relate (the document describes
//! the image, which contains its layers, which contain their store paths,
//! which depend on the paths they refer to).

use serde_json::{Value, json};

use crate::emit::sbom::bill::{Bill, LayerRecord};
use crate::emit::sbom::facts::License;

const IMAGE_ID: &str = "SPDXRef-Image";

pub fn document(bill: &Bill) -> Value {
    let image = &bill.image;
    let mut packages = vec![json!({
        "SPDXID": IMAGE_ID,
        "name": image.name,
        "versionInfo": image.tag,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [sha256(&image.manifest_digest.hex())],
        "externalRefs": [purl(&bill.image_purl())],
        "comment": format!(
            "The image manifest {} for {}.",
            image.manifest_digest, image.platform
        ),
    })];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", IMAGE_ID)];
    for layer in &bill.layers {
        packages.push(layer_package(layer));
        relationships.push(relationship(IMAGE_ID, "CONTAINS", &layer_id(layer.number)));
    }
    for package in &bill.packages {
        let mut entry = json!({
            "SPDXID": package.id(),
            "name": package.name,
            "packageFileName": package.path.as_str(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "checksums": [sha256(&package.nar_hash.hex())],
            "externalRefs": [purl(&package.purl())],
            "comment": format!(
                "The store path {}, in layer {}; its checksum is that of its NAR serialisation.",
                package.path, package.layer
            ),
        });
        if !package.version.is_empty() {
            entry["versionInfo"] = package.version.clone().into();
        }
        if !package.licenses.is_empty() {
            let (declared, comment) = declared_license(&package.licenses);
            entry["licenseDeclared"] = declared.into();
            if let Some(comment) = comment {
                entry["licenseComments"] = comment.into();
            }
        }
        if let Some(homepage) = &package.homepage {
            entry["homepage"] = homepage.clone().into();
        }
        if let Some(description) = &package.description {
            entry["description"] = description.clone().into();
        }
        packages.push(entry);
        relationships.push(relationship(
            &layer_id(package.layer),
            "CONTAINS",
            &package.id(),
        ));
        for reference in &package.references {
            relationships.push(relationship(
                &package.id(),
                "DEPENDS_ON",
                &format!("SPDXRef-Package-{}", reference.hash_part()),
            ));
        }
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}:{}", image.name, image.tag),
        "documentNamespace": format!("urn:uuid:{}", bill.uuid("spdx")),
        "creationInfo": {
            "created": image.created,
            "creators": [format!("Tool: strata-{}", bill.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

fn layer_id(number: usize) -> String {
    format!("SPDXRef-Layer-{number}")
}

fn layer_package(layer: &LayerRecord) -> Value {
    let comment = match &layer.base_image {
        Some(base) => format!("A layer of the base image {base}, {} bytes.", layer.size),
        None => format!("{}, {} bytes.", layer.media_type, layer.size),
    };
    json!({
        "SPDXID": layer_id(layer.number),
        "name": format!("layer {}", layer.number),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "ARCHIVE",
        "checksums": [sha256(&layer.digest.hex())],
        "comment": comment,
    })
}

/// An SPDX license expression of the licenses, all of which apply; with
/// one that is no SPDX identifier, `NOASSERTION` and the texts kept in a
/// comment.
fn declared_license(licenses: &[License]) -> (String, Option<String>) {
    let ids: Option<Vec<&str>> = licenses
        .iter()
        .map(|l| match l {
            License::Spdx(id) => Some(id.as_str()),
            License::Other(_) => None,
        })
        .collect();
    match ids {
        Some(ids) => (ids.join(" AND "), None),
        None => {
            let texts: Vec<&str> = licenses
                .iter()
                .map(|l| match l {
                    License::Spdx(text) | License::Other(text) => text.as_str(),
                })
                .collect();
            (
                "NOASSERTION".to_owned(),
                Some(format!("meta.license: {}", texts.join("; "))),
            )
        }
    }
}

fn sha256(hex: &str) -> Value {
    json!({ "algorithm": "SHA256", "checksumValue": hex })
}

fn purl(locator: &str) -> Value {
    json!({
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": locator,
    })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({
        "spdxElementId": from,
        "relationshipType": kind,
        "relatedSpdxElement": to,
    })
}

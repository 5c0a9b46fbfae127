//! The bill as a document, in the format asked for.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::emit::sbom::bill::Bill;
use crate::emit::sbom::{cyclonedx, spdx};

/// The document formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SbomFormat {
    Spdx,
    #[value(name = "cyclonedx")]
    #[serde(rename = "cyclonedx")]
    CycloneDx,
}

/// The bill in `format`, as bytes: indented JSON, keys sorted.
pub fn render(bill: &Bill, format: SbomFormat) -> Result<Vec<u8>> {
    let value = match format {
        SbomFormat::Spdx => spdx::document(bill),
        SbomFormat::CycloneDx => cyclonedx::document(bill),
    };
    let mut bytes = serde_json::to_vec_pretty(&value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

//! The output of a customisation derivation, as an image build reads it:
//! the root the commands made, and the modes and owners recorded beside it
//! (the store keeps neither).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The tree of the layer, below the output.
pub const ROOT_DIR: &str = "root";
/// The recorded modes and owners, beside it.
pub const ENTRIES_FILE: &str = "entries.json";

/// Mode and owner of one entry, as the commands left it. The owner only
/// under fakeroot: outside it, files belong to the build user, which says
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<(u32, u32)>,
}

/// Entry modes and owners, by path below the root (no leading `/`).
pub type RecordedEntries = BTreeMap<String, Recorded>;

/// Reads the modes and owners recorded in the customisation output `dir`.
pub fn read_recorded(dir: &Path) -> Result<RecordedEntries> {
    let path = dir.join(ENTRIES_FILE);
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

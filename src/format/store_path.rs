//! Nix store paths: `<storeDir>/<32 nixbase32 chars>-<name>`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The alphabet of Nix's base-32 encoding (no `e`, `o`, `u`, `t`).
pub const NIXBASE32_ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Length of the hash part of a store path's base name.
pub const HASH_LEN: usize = 32;

/// Longest allowed name part of a store path.
const MAX_NAME_LEN: usize = 211;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StorePathError {
    #[error("'{path}' is not in the Nix store {store_dir}")]
    NotInStore { path: String, store_dir: String },
    #[error("'{0}' is not a store path: expected <storeDir>/<32-character hash>-<name>")]
    Malformed(String),
    #[error("'{path}' is not a store path: {reason}")]
    BadName { path: String, reason: String },
}

/// A validated top-level store path, for example `/nix/store/abc…-hello-2.12`.
///
/// Ordering is bytewise on the full path; within one store directory this is
/// the order of the base names, which is the order a NAR lists them in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    full: String,
    base_start: usize,
}

impl StorePath {
    /// Parses `path`, which must be a direct child of `store_dir`. Trailing
    /// slashes are dropped, as Nix does when it canonicalises a path.
    pub fn parse(path: &str, store_dir: &str) -> Result<Self, StorePathError> {
        let store_dir = store_dir.trim_end_matches('/');
        let canonical = path.trim_end_matches('/');
        let base = canonical
            .strip_prefix(store_dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StorePathError::NotInStore {
                path: path.to_owned(),
                store_dir: store_dir.to_owned(),
            })?;
        if base.contains('/') {
            return Err(StorePathError::BadName {
                path: path.to_owned(),
                reason: "it names a file inside a store path; give the top-level store path"
                    .to_owned(),
            });
        }
        let bytes = base.as_bytes();
        if bytes.len() < HASH_LEN + 2 || bytes[HASH_LEN] != b'-' {
            return Err(StorePathError::Malformed(path.to_owned()));
        }
        if let Some(bad) = bytes[..HASH_LEN].iter().find(|&&b| !is_nixbase32(b)) {
            return Err(StorePathError::BadName {
                path: path.to_owned(),
                reason: format!(
                    "the hash part has '{}', which is not a nixbase32 character",
                    char::from(*bad)
                ),
            });
        }
        validate_name(&base[HASH_LEN + 1..]).map_err(|reason| StorePathError::BadName {
            path: path.to_owned(),
            reason,
        })?;
        Ok(StorePath {
            full: canonical.to_owned(),
            base_start: canonical.len() - base.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn as_path(&self) -> &Path {
        Path::new(&self.full)
    }

    /// `<hash>-<name>`.
    pub fn base_name(&self) -> &str {
        &self.full[self.base_start..]
    }

    /// The 32-character hash part.
    pub fn hash_part(&self) -> &str {
        &self.base_name()[..HASH_LEN]
    }

    /// The name after the hash, for example `hello-2.12`.
    pub fn name(&self) -> &str {
        &self.base_name()[HASH_LEN + 1..]
    }

    /// The store directory, without a trailing slash.
    pub fn store_dir(&self) -> &str {
        &self.full[..self.base_start - 1]
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl Serialize for StorePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

/// Reads a store path whose store directory is its parent directory.
impl<'de> Deserialize<'de> for StorePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let full = String::deserialize(deserializer)?;
        let store_dir = full.rsplit_once('/').map_or("", |(dir, _)| dir);
        StorePath::parse(&full, store_dir).map_err(serde::de::Error::custom)
    }
}

/// Whether `byte` is in [`NIXBASE32_ALPHABET`] (digits and lower-case
/// letters but e, o, t and u).
fn is_nixbase32(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'a'..=b'd' | b'f'..=b'n' | b'p'..=b's' | b'v'..=b'z')
}

fn validate_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the name is {} bytes long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if name.starts_with('.') {
        return Err("the name starts with '.'".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(*c)))
    {
        return Err(format!("the name has the character {bad:?}"));
    }
    Ok(())
}

/// Finds every store path mentioned anywhere in `text` (as Nix's reference
/// scanner would, by its hash part), in order of first appearance.
pub fn scan_store_paths(text: &str, store_dir: &str) -> Vec<StorePath> {
    let prefix = format!("{}/", store_dir.trim_end_matches('/'));
    let mut found: Vec<StorePath> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&prefix) {
        let candidate = &rest[at..];
        let base_len = candidate[prefix.len()..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-._?=".contains(c)))
            .unwrap_or(candidate.len() - prefix.len());
        let path = &candidate[..prefix.len() + base_len];
        if let Ok(p) = StorePath::parse(path, store_dir)
            && !found.contains(&p)
        {
            found.push(p);
        }
        rest = &candidate[prefix.len()..];
    }
    found
}

/// A valid store path whose hash part derives from `name`.
#[cfg(test)]
pub fn test_store_path(name: &str) -> String {
    let alphabet = NIXBASE32_ALPHABET;
    let mut seed: u64 = name
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let hash: String = (0..32)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(alphabet[(seed >> 59) as usize])
        })
        .collect();
    format!("/nix/store/{hash}-{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb-hello-2.12.1";

    #[test]
    fn parses_parts() {
        let p = StorePath::parse(P, "/nix/store").unwrap();
        assert_eq!(p.hash_part(), "7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb");
        assert_eq!(p.name(), "hello-2.12.1");
        assert_eq!(p.store_dir(), "/nix/store");
        assert_eq!(p.base_name(), &P[11..]);
    }

    #[test]
    fn the_hash_check_takes_exactly_the_alphabet() {
        for byte in 0..=u8::MAX {
            assert_eq!(
                is_nixbase32(byte),
                NIXBASE32_ALPHABET.contains(&byte),
                "byte {byte}"
            );
        }
    }

    #[test]
    fn drops_trailing_slashes() {
        let path = StorePath::parse(&format!("{P}//"), "/nix/store/").unwrap();
        assert_eq!(path.as_str(), P);
        assert_eq!(path.base_name(), &P["/nix/store/".len()..]);
        let bare = StorePath::parse("/nix/store/", "/nix/store").unwrap_err();
        assert!(bare.to_string().contains("'/nix/store/'"), "{bare}");
    }

    #[test]
    fn rejects_bad_paths() {
        let bad = [
            "/usr/bin/sh",
            "/nix/store/short-x",
            "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwce-hello", // 'e'
            "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb-.hidden",
            "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb-a b",
            "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb-hello/bin/hello",
            "/nix/store/7h3ywzxfh2nlgr2iddk8xq7hdv8fnwcb-",
        ];
        for b in bad {
            assert!(StorePath::parse(b, "/nix/store").is_err(), "{b} accepted");
        }
        let long = format!("{}-{}", &P[..43], "x".repeat(212));
        assert!(StorePath::parse(&long, "/nix/store").is_err());
        let ok = format!("{}-{}", &P[..43], "x".repeat(211));
        assert!(StorePath::parse(&ok, "/nix/store").is_ok());
    }

    #[test]
    fn scans_text_for_paths() {
        let text = format!("[\"{P}/bin/hello\", \"x {P}\", \"/nix/store/nothash\"]");
        let found = scan_store_paths(&text, "/nix/store");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].as_str(), P);
    }
}

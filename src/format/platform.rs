//! Platforms: the OS, architecture and variant an image runs on, named as
//! OCI names them (Go's `GOOS`, `GOARCH` and CPU variants).

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The architectures strata knows, each with the variants it may have
/// (an empty list: it has none).
const ARCHITECTURES: &[(&str, &[&str])] = &[
    ("amd64", &["v1", "v2", "v3", "v4"]),
    (
        "arm64",
        &[
            "v8", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9",
            "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
        ],
    ),
    ("arm", &["v5", "v6", "v7", "v8"]),
    ("386", &[]),
    ("ppc64le", &[]),
    ("ppc64", &[]),
    ("s390x", &[]),
    ("riscv64", &[]),
    ("loong64", &[]),
    ("mips", &[]),
    ("mipsle", &[]),
    ("mips64", &[]),
    ("mips64le", &[]),
    ("wasm", &[]),
];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform, once its architecture and variant are checked.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Result<Self> {
        check(architecture, variant)?;
        Ok(Platform {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            variant: variant.map(str::to_owned),
        })
    }
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`, as `--platform` options take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// Checks that strata knows `architecture`, and that `variant` is one of
/// its variants.
pub fn check(architecture: &str, variant: Option<&str>) -> Result<()> {
    let Some((_, variants)) = ARCHITECTURES.iter().find(|(a, _)| *a == architecture) else {
        let known: Vec<&str> = ARCHITECTURES.iter().map(|(a, _)| *a).collect();
        bail!(
            "unknown architecture '{architecture}'; OCI names them as Go does: {}",
            known.join(", ")
        );
    };
    match variant {
        None => Ok(()),
        Some(variant) if variants.is_empty() => {
            bail!("the architecture '{architecture}' has no variants, but `variant` is '{variant}'")
        }
        Some(variant) if !variants.contains(&variant) => bail!(
            "'{variant}' is not a variant of '{architecture}' (its variants: {})",
            variants.join(", ")
        ),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_architectures_and_their_variants() {
        assert!(check("arm64", None).is_ok());
        assert!(check("arm", Some("v7")).is_ok());
        let err = check("arm46", None).unwrap_err().to_string();
        assert!(err.contains("unknown architecture 'arm46'"), "{err}");
        let err = check("s390x", Some("v2")).unwrap_err().to_string();
        assert!(err.contains("'s390x' has no variants"), "{err}");
        let err = check("arm", Some("v9")).unwrap_err().to_string();
        assert!(err.contains("'v9' is not a variant of 'arm'"), "{err}");
        let platform = Platform::new("linux", "arm", Some("v7")).unwrap();
        assert_eq!(platform.to_string(), "linux/arm/v7");
        assert_eq!(
            serde_json::to_string(&Platform::new("linux", "amd64", None).unwrap()).unwrap(),
            r#"{"architecture":"amd64","os":"linux"}"#
        );
    }
}

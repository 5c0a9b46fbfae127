//! OCI and Docker image documents as they are read back, from a base image
//! or a registry: descriptors, indexes and manifests, and choosing the
//! manifest of a platform from an index.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::format::digest::Digest;
use crate::format::platform::Platform;

/// The annotation that names an image in an OCI index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation Docker (and containerd) give the full image name.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The media types of an index (OCI) or manifest list (Docker).
pub const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn is_index(&self) -> bool {
        INDEX_TYPES.contains(&self.media_type.as_str())
    }
}

#[derive(Debug, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl Index {
    /// The entry for `os`/`architecture` (and `variant`, when given).
    pub fn for_platform(
        &self,
        os: &str,
        architecture: &str,
        variant: Option<&str>,
    ) -> Option<&Descriptor> {
        self.manifests.iter().find(|m| {
            m.platform.as_ref().is_some_and(|p| {
                p.os == os
                    && p.architecture == architecture
                    && (variant.is_none() || p.variant.as_deref() == variant)
            })
        })
    }

    /// The platforms the index has, as `os/architecture[/variant]`.
    pub fn platforms(&self) -> String {
        let names: Vec<String> = self
            .manifests
            .iter()
            .filter_map(|m| m.platform.as_ref())
            .map(Platform::to_string)
            .collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_platform_of_an_index() {
        let digest = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
        let index: Index = serde_json::from_str(&format!(
            r#"{{"manifests":[
                {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,
                  "platform":{{"architecture":"amd64","os":"linux"}}}},
                {{"digest":"{}","size":2,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}]}}"#,
            digest(1),
            digest(2)
        ))
        .unwrap();
        assert_eq!(index.for_platform("linux", "amd64", None).unwrap().size, 1);
        assert_eq!(
            index.for_platform("linux", "arm", Some("v7")).unwrap().size,
            2
        );
        assert!(index.for_platform("linux", "arm", Some("v6")).is_none());
        assert!(index.for_platform("linux", "s390x", None).is_none());
        assert_eq!(index.platforms(), "linux/amd64, linux/arm/v7");
        assert!(!index.manifests[0].is_index());
    }
}

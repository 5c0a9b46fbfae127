//! The image spec: what the user asks for, as the Nix library passes it
//! (the `image` attribute) or as a JSON file given by hand.
//!
//! Keys are named as the arguments of nixpkgs `dockerTools`. Unknown keys are
//! an error, so a typo never silently does nothing. [`ImageSpec::resolve`]
//! fills in every default, so a resolved spec alone decides the image.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::format::compression::{Compressor, Encoding};
use crate::format::platform::{self, Platform};
use crate::format::reference;
use crate::input::perm_rule::PermRule;

/// Names the layering strategies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LayeringStrategy {
    /// strata's own: top-level packages apart, the other paths merged by
    /// what a change would re-send needlessly.
    #[default]
    Stable,
    /// Size-aware grouping (nixpkgs' `auto`): the largest paths get layers of
    /// their own, with the dependencies only they need.
    Auto,
    /// nixpkgs `referencesByPopularity`: one layer per popular path.
    Popularity,
    /// Every store path in one layer (as `buildImage`).
    Single,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ImageSpec {
    pub name: String,
    /// `None` until resolved: then the hash part of the spec's own store
    /// path, as dockerTools does.
    pub tag: Option<String>,
    /// Store paths whose top-level entries are linked into `/`.
    #[serde(alias = "copyToRoot")]
    pub contents: Vec<String>,
    pub config: ContainerConfig,
    pub created: Timestamp,
    pub mtime: Timestamp,
    pub max_layers: usize,
    pub layering: LayeringStrategy,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub os: String,
    pub uid: u32,
    pub gid: u32,
    pub uname: String,
    pub gname: String,
    /// Whether store paths go into the image at all (dockerTools'
    /// `includeStorePaths`); without them only the root layer is built.
    pub include_store_paths: bool,
    /// More store paths to put into the image, besides those that `contents`
    /// and `config` refer to.
    pub store_paths: Vec<String>,
    /// Layers chosen by the user, bottom first, below the automatic ones.
    pub layers: Vec<ExplicitLayer>,
    /// Store paths to leave out of the image: store paths, or regular
    /// expressions matched against whole store paths.
    pub exclude_paths: Vec<String>,
    /// How layers are compressed; when `None`, as suits where they go (see
    /// [`Delivery`]).
    pub compressor: Option<Compressor>,
    /// The compressor's level (gz 0–9, zstd 1–19); its default when `None`.
    pub compression_level: Option<i32>,
    /// What the image is written as.
    pub format: ImageFormat,
    /// OCI annotations, on the manifest and on the index entry.
    pub annotations: BTreeMap<String, String>,
    /// The image this one is built on: a docker-archive or an OCI layout.
    pub from_image: Option<String>,
    /// Which image of a base archive that holds several: its name, and
    /// its tag (any, when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_image_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_image_tag: Option<String>,
    /// The plan of an earlier version of this image (a plan, an image
    /// description or a stream script), whose store-path layers are kept:
    /// each holds the paths of the same names as before, and only what the
    /// earlier version lacks is laid out anew.
    pub previous_plan: Option<String>,
    /// Accounts, by name: `/etc/passwd`, `/etc/group`, `/etc/shadow` and
    /// home directories.
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    /// Directories to create at `/`, with owner and mode (`/tmp`, 1777).
    pub directories: Vec<PermRule>,
    /// Owners and modes of chosen entries.
    pub perms: Vec<PermRule>,
    /// Whether commands (`extraCommands`, `fakeRootCommands`,
    /// `includeNixDB`) make the customisation layer, in a derivation of
    /// their own that the image derivation names.
    pub root_commands: bool,
}

/// Where an image's layers go, which decides how they are compressed when
/// the spec does not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Kept as blobs: the archive in the store, a registry: gzip, which
    /// every registry and engine takes.
    Kept,
    /// Unpacked at once: a stream, a load into an engine: uncompressed, as
    /// nixpkgs' stream is, since compressing would be undone straight away.
    Unpacked,
}

impl Delivery {
    pub fn default_compressor(self) -> Compressor {
        match self {
            Delivery::Kept => Compressor::Gz,
            Delivery::Unpacked => Compressor::None,
        }
    }
}

/// What an image is written as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFormat {
    /// An OCI layout with Docker's manifest.json, in one tar: what
    /// `docker load`, `podman load` and skopeo's docker-archive and
    /// oci-archive transports all read.
    #[default]
    Docker,
    /// An OCI layout in one tar.
    OciArchive,
    /// An OCI layout as a directory, each blob a file.
    OciDir,
}

/// A layer of the user's (`buildLayer`): the closures of `deps` and of
/// `copyToRoot`, less what the layers below it hold, and `copyToRoot` merged
/// at `/`. The same layer in several images has the same digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ExplicitLayer {
    pub deps: Vec<String>,
    #[serde(alias = "contents")]
    pub copy_to_root: Vec<String>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec {
            name: String::new(),
            tag: None,
            contents: Vec::new(),
            config: ContainerConfig::default(),
            created: Timestamp::EPOCH_PLUS_ONE,
            mtime: Timestamp::EPOCH_PLUS_ONE,
            max_layers: 100,
            layering: LayeringStrategy::default(),
            architecture: None,
            variant: None,
            os: "linux".to_owned(),
            uid: 0,
            gid: 0,
            uname: "root".to_owned(),
            gname: "root".to_owned(),
            include_store_paths: true,
            store_paths: Vec::new(),
            layers: Vec::new(),
            exclude_paths: Vec::new(),
            compressor: None,
            compression_level: None,
            format: ImageFormat::default(),
            annotations: BTreeMap::new(),
            from_image: None,
            from_image_name: None,
            from_image_tag: None,
            previous_plan: None,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            directories: Vec::new(),
            perms: Vec::new(),
            root_commands: false,
        }
    }
}

/// Where a spec is resolved: what a spec cannot know by itself.
pub struct ResolveContext<'a> {
    /// The Nix system (`x86_64-linux`), for the default architecture.
    pub system: &'a str,
    /// The tag to use when the spec has none.
    pub default_tag: &'a str,
}

impl ImageSpec {
    /// Parses a spec from JSON. `null` values mean "the default", as they do
    /// for the Nix function's arguments.
    pub fn from_json(text: &str) -> Result<Self> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).context("the image spec is not valid JSON")?;
        Self::from_value(&mut value)
    }

    pub fn from_value(value: &mut serde_json::Value) -> Result<Self> {
        let object = value
            .as_object_mut()
            .context("the image spec must be a JSON object")?;
        object.retain(|_, v| !v.is_null());
        let spec: ImageSpec = serde_json::from_value(value.clone())
            .map_err(|e| anyhow::anyhow!("invalid image spec: {e}"))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what can be checked without the store.
    pub fn validate(&self) -> Result<()> {
        reference::validate_name(&self.name)?;
        if let Some(tag) = &self.tag {
            reference::validate_tag(tag)?;
        }
        if self.max_layers < 2 {
            bail!(
                "maxLayers is {}, but an image needs at least 2 (one for store paths, one for the customisation layer)",
                self.max_layers
            );
        }
        if self.os.is_empty() {
            bail!("os must not be empty");
        }
        self.compressor
            .unwrap_or(Delivery::Kept.default_compressor())
            .check_level(self.compression_level)?;
        for rule in &self.perms {
            if rule.uname.is_none() && rule.gname.is_none() {
                rule.validate()?;
            }
        }
        self.config.validate()
    }

    /// How the layers strata writes are compressed on their way to
    /// `delivery`.
    pub fn encoding(&self, delivery: Delivery) -> Encoding {
        let compressor = self.compressor.unwrap_or(delivery.default_compressor());
        Encoding::new(compressor, self.compression_level)
    }

    /// Fills in the tag, the architecture and the timestamps ("now" becomes
    /// the current time), so that every later stage reads the same values.
    pub fn resolve(mut self, context: &ResolveContext) -> Result<Self> {
        if self.tag.is_none() {
            reference::validate_tag(context.default_tag)?;
            self.tag = Some(context.default_tag.to_owned());
        }
        if self.architecture.is_none() {
            let (architecture, variant) = goarch_of_system(context.system)?;
            self.architecture = Some(architecture.to_owned());
            if self.variant.is_none() {
                self.variant = variant.map(str::to_owned);
            }
        }
        platform::check(self.architecture(), self.variant.as_deref())?;
        self.created = self.created.resolve_now();
        self.mtime = self.mtime.resolve_now();
        Ok(self)
    }

    /// The platform the image is for.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture().to_owned(),
            os: self.os.clone(),
            variant: self.variant.clone(),
        }
    }

    pub fn tag(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    pub fn architecture(&self) -> &str {
        self.architecture.as_deref().unwrap_or("amd64")
    }

    /// `name:tag`, as `docker load` and `podman load` name the image.
    pub fn repo_tag(&self) -> String {
        format!("{}:{}", self.name, self.tag())
    }
}

/// A declared user account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct User {
    pub uid: u32,
    /// The primary group; the uid when not given.
    pub gid: Option<u32>,
    /// `/home/<name>` when not given (`/root` for root).
    pub home: Option<String>,
    pub shell: Option<String>,
    pub description: String,
    /// Supplementary groups, by name.
    pub groups: Vec<String>,
    #[serde(default = "yes")]
    pub create_home: bool,
}

fn yes() -> bool {
    true
}

/// A declared group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    pub gid: u32,
}

/// Maps a Nix system double to the OCI architecture and variant.
pub fn goarch_of_system(system: &str) -> Result<(&'static str, Option<&'static str>)> {
    let cpu = system
        .strip_suffix("-linux")
        .with_context(|| format!("system '{system}' is not Linux; images run on Linux only"))?;
    Ok(match cpu {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", None),
        "i686" | "i386" => ("386", None),
        "armv7l" => ("arm", Some("v7")),
        "armv6l" => ("arm", Some("v6")),
        "powerpc64le" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "loongarch64" => ("loong64", None),
        other => bail!(
            "no OCI architecture is known for the CPU '{other}'; set `architecture` explicitly"
        ),
    })
}

/// The Nix system double of the machine strata runs on.
pub fn host_system() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// A point in time: an RFC 3339 UTC date (`1970-01-01T00:00:01Z`), a number
/// of seconds since the epoch, or `"now"` (not reproducible).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timestamp {
    Now,
    At(u64),
}

impl Timestamp {
    pub const EPOCH_PLUS_ONE: Timestamp = Timestamp::At(1);

    fn resolve_now(self) -> Self {
        match self {
            Timestamp::Now => Timestamp::At(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(1),
            ),
            at => at,
        }
    }

    /// Seconds since the epoch ("now" is read at the call).
    pub fn seconds(&self) -> u64 {
        match self.clone().resolve_now() {
            Timestamp::At(s) => s,
            Timestamp::Now => unreachable!("resolved above"),
        }
    }

    /// RFC 3339, as the image config's `created` wants it.
    pub fn rfc3339(&self) -> String {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(self.seconds()))
            .to_string()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Timestamp::Now => serializer.serialize_str("now"),
            Timestamp::At(_) => serializer.serialize_str(&self.rfc3339()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Timestamp::At(s)),
            Raw::Text(t) if t == "now" => Ok(Timestamp::Now),
            Raw::Text(t) => {
                let time = humantime::parse_rfc3339_weak(&t).map_err(|e| {
                    serde::de::Error::custom(format!(
                        "'{t}' is not a date like 1970-01-01T00:00:01Z, a number of seconds, or \"now\": {e}"
                    ))
                })?;
                let seconds = time
                    .duration_since(UNIX_EPOCH)
                    .map_err(|_| serde::de::Error::custom(format!("'{t}' is before 1970")))?;
                Ok(Timestamp::At(seconds.as_secs()))
            }
        }
    }
}

/// The runtime part of the image config, with Docker's key names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    #[serde(rename = "User", skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        deserialize_with = "set_or_map",
        serialize_with = "set_as_map"
    )]
    pub exposed_ports: BTreeSet<String>,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        deserialize_with = "set_or_map",
        serialize_with = "set_as_map"
    )]
    pub volumes: BTreeSet<String>,
    #[serde(rename = "WorkingDir", skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "StopSignal", skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker's health check, passed through as given.
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ContainerConfig {
    /// The keys of Docker's runtime config that strata models.
    pub const KEYS: [&str; 10] = [
        "User",
        "ExposedPorts",
        "Env",
        "Entrypoint",
        "Cmd",
        "Volumes",
        "WorkingDir",
        "Labels",
        "StopSignal",
        "Healthcheck",
    ];

    /// This config over a base image's, as a Dockerfile's `FROM` inherits:
    /// `Env` is merged by variable name, `Labels`, `ExposedPorts` and
    /// `Volumes` are merged, and the rest is the base's unless this config
    /// sets it. Setting `Entrypoint` drops the base's `Cmd`, which was
    /// written for the base's entrypoint.
    pub fn inherit_from(&self, base: &ContainerConfig) -> ContainerConfig {
        let mut env: Vec<String> = base
            .env
            .iter()
            .filter(|entry| {
                let name = env_name(entry);
                !self.env.iter().any(|own| env_name(own) == name)
            })
            .cloned()
            .collect();
        env.extend(self.env.iter().cloned());
        let mut labels = base.labels.clone();
        labels.extend(self.labels.clone());
        let base_cmd = if self.entrypoint.is_some() {
            None
        } else {
            base.cmd.clone()
        };
        ContainerConfig {
            user: self.user.clone().or_else(|| base.user.clone()),
            exposed_ports: base
                .exposed_ports
                .union(&self.exposed_ports)
                .cloned()
                .collect(),
            env,
            entrypoint: self.entrypoint.clone().or_else(|| base.entrypoint.clone()),
            cmd: self.cmd.clone().or(base_cmd),
            volumes: base.volumes.union(&self.volumes).cloned().collect(),
            working_dir: self
                .working_dir
                .clone()
                .or_else(|| base.working_dir.clone()),
            labels,
            stop_signal: self
                .stop_signal
                .clone()
                .or_else(|| base.stop_signal.clone()),
            healthcheck: self
                .healthcheck
                .clone()
                .or_else(|| base.healthcheck.clone()),
        }
    }

    fn validate(&self) -> Result<()> {
        for entry in &self.env {
            match entry.split_once('=') {
                Some((name, _)) if !name.is_empty() => {}
                _ => bail!("config.Env entry '{entry}' is not of the form NAME=value"),
            }
        }
        for port in &self.exposed_ports {
            let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
            let valid_number = number.parse::<u16>().is_ok_and(|n| n > 0)
                || number
                    .split_once('-')
                    .is_some_and(|(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
            if !valid_number || !matches!(protocol, "tcp" | "udp" | "sctp") {
                bail!(
                    "config.ExposedPorts entry '{port}' is not of the form PORT[/tcp|/udp|/sctp]"
                );
            }
        }
        for volume in &self.volumes {
            if !volume.starts_with('/') {
                bail!("config.Volumes entry '{volume}' is not an absolute path");
            }
        }
        if let Some(dir) = &self.working_dir
            && !dir.is_empty()
            && !dir.starts_with('/')
        {
            bail!("config.WorkingDir '{dir}' is not an absolute path");
        }
        Ok(())
    }
}

/// `NAME` of `NAME=value`.
fn env_name(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(name, _)| name)
}

/// Accepts Docker's `{"80/tcp": {}}` map form or a plain list of keys.
fn set_or_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeSet<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Map(BTreeMap<String, serde_json::Map<String, serde_json::Value>>),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::List(list) => list.into_iter().collect(),
        Raw::Map(map) => map.into_keys().collect(),
    })
}

fn set_as_map<S: Serializer>(set: &BTreeSet<String>, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(set.len()))?;
    for key in set {
        map.serialize_entry(key, &serde_json::Map::new())?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<ImageSpec> {
        ImageSpec::from_json(json)
    }

    #[test]
    fn defaults_match_dockertools() {
        let s = spec(r#"{"name":"hello","tag":null,"created":null}"#).unwrap();
        assert_eq!(s.max_layers, 100);
        assert_eq!(s.created, Timestamp::At(1));
        assert_eq!(s.created.rfc3339(), "1970-01-01T00:00:01Z");
        assert_eq!(s.uname, "root");
        assert!(s.include_store_paths);
    }

    #[test]
    fn resolves_tag_architecture_and_now() {
        let s = spec(r#"{"name":"hello","created":"now","system":null}"#).unwrap();
        let r = s
            .resolve(&ResolveContext {
                system: "aarch64-linux",
                default_tag: "abc",
            })
            .unwrap();
        assert_eq!(r.tag(), "abc");
        assert_eq!(r.architecture(), "arm64");
        assert!(matches!(r.created, Timestamp::At(s) if s > 1_600_000_000));
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            ImageSpec::from_json(&text).unwrap(),
            r,
            "a resolved spec round-trips"
        );
    }

    #[test]
    fn reads_config_forms() {
        let s = spec(
            r#"{"name":"x","config":{"Cmd":["/bin/sh"],"ExposedPorts":{"80/tcp":{}},
                "Volumes":["/data"],"Env":["A=1"],"Labels":{"b":"2","a":"1"}}}"#,
        )
        .unwrap();
        assert!(s.config.exposed_ports.contains("80/tcp"));
        assert!(s.config.volumes.contains("/data"));
        let out = serde_json::to_string(&s.config).unwrap();
        assert!(out.contains(r#""Volumes":{"/data":{}}"#), "{out}");
    }

    #[test]
    fn rejects_bad_specs_with_named_culprits() {
        let cases = [
            (r#"{"name":"Hello"}"#, "Hello"),
            (r#"{"name":"x","tag":"a:b"}"#, "a:b"),
            (r#"{"name":"x","maxLayers":1}"#, "maxLayers"),
            (r#"{"name":"x","cmd":["x"]}"#, "cmd"),
            (r#"{"name":"x","config":{"cmd":["x"]}}"#, "cmd"),
            (r#"{"name":"x","config":{"Env":["NOVALUE"]}}"#, "NOVALUE"),
            (
                r#"{"name":"x","config":{"ExposedPorts":{"http":{}}}}"#,
                "http",
            ),
            (r#"{"name":"x","created":"yesterday"}"#, "yesterday"),
            (r#"{"name":"x","mtime":"1969-01-01T00:00:00Z"}"#, "1969"),
            (r#"[]"#, "object"),
        ];
        for (json, culprit) in cases {
            let err = format!("{:#}", spec(json).unwrap_err());
            assert!(err.contains(culprit), "{json}: {err}");
        }
    }

    #[test]
    fn a_config_inherits_from_its_base_as_a_dockerfile_does() {
        let config = |json: &str| {
            spec(&format!(r#"{{"name":"x","config":{json}}}"#))
                .unwrap()
                .config
        };
        let base = config(
            r#"{"Env":["PATH=/bin","A=base"],"Cmd":["sh"],"WorkingDir":"/data","User":"1",
                "Labels":{"a":"1","b":"1"},"ExposedPorts":["80"],"StopSignal":"SIGINT"}"#,
        );
        let own = config(r#"{"Env":["A=own","B=2"],"Labels":{"b":"2"},"ExposedPorts":["443"]}"#);
        let merged = own.inherit_from(&base);
        assert_eq!(merged.env, ["PATH=/bin", "A=own", "B=2"]);
        assert_eq!(merged.cmd, Some(vec!["sh".to_owned()]));
        assert_eq!(merged.working_dir.as_deref(), Some("/data"));
        assert_eq!(merged.user.as_deref(), Some("1"));
        assert_eq!(merged.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(merged.labels["a"], "1");
        assert_eq!(merged.labels["b"], "2");
        assert_eq!(merged.exposed_ports.len(), 2);
        let with_entrypoint = config(r#"{"Entrypoint":["/app"]}"#).inherit_from(&base);
        assert_eq!(
            with_entrypoint.cmd, None,
            "the base's Cmd was for its entrypoint"
        );
        let own_cmd = config(r#"{"Cmd":["ls"],"WorkingDir":"/"}"#).inherit_from(&base);
        assert_eq!(own_cmd.cmd, Some(vec!["ls".to_owned()]));
        assert_eq!(own_cmd.working_dir.as_deref(), Some("/"));
    }

    #[test]
    fn maps_systems() {
        assert_eq!(goarch_of_system("x86_64-linux").unwrap(), ("amd64", None));
        assert_eq!(
            goarch_of_system("armv7l-linux").unwrap(),
            ("arm", Some("v7"))
        );
        assert!(goarch_of_system("x86_64-darwin").is_err());
    }
}

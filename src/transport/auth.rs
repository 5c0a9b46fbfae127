//! Registry credentials and authentication challenges.
//!
//! Credentials come from the command line or from the files `podman login`
//! and `docker login` write: `$REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.docker/config.json` (plain
//! `auths` entries; credential helpers are not run). They are never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::format::reference::DEFAULT_REGISTRY;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

impl Credentials {
    /// `user:password`, as `--creds` takes them.
    pub fn parse(text: &str) -> Result<Self> {
        let (username, password) = text
            .split_once(':')
            .context("credentials must be given as USER:PASSWORD")?;
        Ok(Self {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    /// The value of a basic `Authorization` header.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The auth files to look in, first match wins.
pub fn auth_files() -> Vec<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        files.push(Path::new(&dir).join("containers/auth.json"));
    }
    if let Some(home) = var("HOME") {
        files.push(Path::new(&home).join(".docker/config.json"));
    }
    files
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The credentials for `registry` in the first of `files` that has them.
pub fn from_files(registry: &str, files: &[PathBuf]) -> Result<Option<Credentials>> {
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        let parsed: AuthFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an auth file", file.display()))?;
        for (key, entry) in &parsed.auths {
            if auth_key_host(key) == registry {
                return entry_credentials(entry)
                    .with_context(|| format!("in {}, entry '{key}'", file.display()))
                    .map(Some);
            }
        }
    }
    Ok(None)
}

/// The host an `auths` key names: keys may be `host`, `host/path` or a URL,
/// and Docker Hub's is `https://index.docker.io/v1/`.
fn auth_key_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY,
        host => host,
    }
}

fn entry_credentials(entry: &AuthEntry) -> Result<Credentials> {
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Credentials {
            username: username.clone(),
            password: password.clone(),
        });
    }
    let Some(auth) = &entry.auth else {
        bail!("no \"auth\" field (credential helpers are not supported)");
    };
    let decoded = BASE64
        .decode(auth.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .context("\"auth\" is not base64 of USER:PASSWORD")?;
    Credentials::parse(&decoded).context("\"auth\" is not base64 of USER:PASSWORD")
}

/// A `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    pub fn parse(header: &str) -> Result<Self> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let params = challenge_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Ok(Challenge::Basic),
            "bearer" => Ok(Challenge::Bearer {
                realm: params
                    .get("realm")
                    .cloned()
                    .with_context(|| format!("bearer challenge without a realm: {header}"))?,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => bail!("unsupported authentication scheme in challenge: {header}"),
        }
    }
}

/// `key="value", key=value, …`; commas inside quotes belong to the value.
fn challenge_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            quoted.split_once('"').unwrap_or((quoted, ""))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        params.insert(key, value.to_owned());
        rest = after.trim_start_matches([',', ' ']);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#
            )
            .unwrap(),
            Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert!(Challenge::parse("Bearer service=x").is_err());
        assert!(Challenge::parse("Negotiate abc").is_err());
    }

    #[test]
    fn auth_files_in_order_and_docker_hub_keys() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        let docker = dir.path().join("config.json");
        let encoded = BASE64.encode("alice:s3cr:et");
        std::fs::write(
            &podman,
            format!(r#"{{"auths":{{"localhost:5000":{{"auth":"{encoded}"}}}}}}"#),
        )
        .unwrap();
        std::fs::write(
            &docker,
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"bob","password":"pw"},"localhost:5000":{"username":"carol","password":"x"}}}"#,
        )
        .unwrap();
        let missing = dir.path().join("missing.json");
        let files = [missing, podman, docker];
        let found = from_files("localhost:5000", &files).unwrap().unwrap();
        assert_eq!(found, Credentials::parse("alice:s3cr:et").unwrap());
        let hub = from_files("docker.io", &files).unwrap().unwrap();
        assert_eq!(hub.username, "bob");
        assert!(from_files("other.example.com", &files).unwrap().is_none());
        assert!(!format!("{found:?}").contains("s3cr"));

        std::fs::write(&files[1], r#"{"auths":{"localhost:5000":{"auth":"%%%"}}}"#).unwrap();
        let error = from_files("localhost:5000", &files).unwrap_err();
        assert!(format!("{error:#}").contains("not base64"), "{error:#}");
    }
}

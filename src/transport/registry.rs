//! A client for the OCI distribution API: just what a push and a pull
//! need.
//!
//! Every request is retried, with backoff, on connection failures and 5xx
//! answers. A 401 answer is met once per request with the credentials, as
//! its `WWW-Authenticate` challenge asks (basic, or a bearer token from the
//! realm); the authorization is then kept for later requests.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use ureq::http::{Response, StatusCode};
use ureq::{Agent, Body, SendBody};

use crate::format::digest::{Digest, HashingWriter};
use crate::format::reference::{DEFAULT_REGISTRY, Destination};
use crate::transport::auth::{Challenge, Credentials};

/// Attempts per request, the first included.
const ATTEMPTS: u32 = 5;
/// The wait before the second attempt; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

pub struct Client {
    agent: Agent,
    /// `https://host[:port]` (or `http://` when plain HTTP is allowed).
    base: String,
    repository: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

/// What a request sends.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    /// For a GET: the media types accepted.
    Accept(&'a str),
}

/// The manifest media types a pull accepts.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

impl Client {
    /// A client for `destination`'s repository. Plain HTTP is used when
    /// `insecure` is set or the registry is on this machine.
    pub fn new(
        destination: &Destination,
        credentials: Option<Credentials>,
        insecure: bool,
    ) -> Self {
        let host = match destination.registry.as_str() {
            DEFAULT_REGISTRY => "registry-1.docker.io",
            host => host,
        };
        let local = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|l| host == *l || host.starts_with(&format!("{l}:")));
        let scheme = if insecure || local { "http" } else { "https" };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(10)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .new_agent();
        Self {
            agent,
            base: format!("{scheme}://{host}"),
            repository: destination.repository.clone(),
            credentials,
            authorization: Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    /// The same registry's repository `repository`, with the same
    /// credentials.
    pub fn for_repository(&self, repository: &str) -> Self {
        Self {
            agent: self.agent.clone(),
            base: self.base.clone(),
            repository: repository.to_owned(),
            credentials: self.credentials.clone(),
            authorization: Mutex::new(None),
        }
    }

    /// The size of the blob, when the repository has it.
    pub fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let response = self.request(
            "HEAD",
            &self.url(&format!("blobs/{digest}")),
            &Payload::Empty,
        )?;
        match response.status() {
            StatusCode::OK => Ok(Some(
                response
                    .headers()
                    .get("Content-Length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .with_context(|| format!("the registry named no size for blob {digest}"))?,
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(unexpected(response, &format!("checking blob {digest}"))),
        }
    }

    /// Asks the registry to link a blob from another of its repositories;
    /// false when it would rather have it uploaded.
    pub fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool> {
        let url = format!(
            "{}?mount={digest}&from={}",
            self.url("blobs/uploads/"),
            from
        );
        let response = self.request("POST", &url, &Payload::Empty)?;
        Ok(response.status() == StatusCode::CREATED)
    }

    /// Opens an upload session; its location, or the registry's refusal.
    fn start_upload(&self) -> Result<Result<String>> {
        let response = match self.attempt("POST", &self.url("blobs/uploads/"), &Payload::Empty)? {
            Ok(response) => response,
            Err(refused) => return Ok(Err(refused)),
        };
        if response.status() != StatusCode::ACCEPTED {
            return Ok(Err(unexpected(response, "starting an upload")));
        }
        upload_location(&self.base, &response).map(Ok)
    }

    /// Uploads a blob in one streamed request; `body` gives its bytes and
    /// fails (so the upload is never completed) if they do not match
    /// `digest`. Retried from the start on failures that may pass.
    pub fn upload_blob<R: Read>(
        &self,
        digest: &Digest,
        mut body: impl FnMut() -> Result<R>,
    ) -> Result<()> {
        // One retry loop around the whole upload: a new session each time.
        retrying(&format!("uploading blob {digest}"), || {
            let location = match self.start_upload()? {
                Ok(location) => location,
                Err(refused) => return Ok(Err(refused)),
            };
            let separator = if location.contains('?') { '&' } else { '?' };
            let url = format!("{location}{separator}digest={digest}");
            let mut reader = body()?;
            let sent = self
                .authorized(self.agent.put(&url))
                .header("Content-Type", "application/octet-stream")
                .send(SendBody::from_reader(&mut reader));
            match sent {
                Ok(response) if response.status() == StatusCode::CREATED => Ok(Ok(())),
                Ok(response) if response.status().is_server_error() => {
                    Err(unexpected(response, "completing an upload"))
                }
                Ok(response) => Ok(Err(unexpected(response, "completing an upload"))),
                Err(error) => Err(anyhow::Error::new(error)),
            }
        })
    }

    /// Uploads a blob whose digest is known only once its bytes are sent:
    /// `body` gives them, in one streamed `PATCH`, and `digest_of`, given
    /// the body once it has ended, the digest the closing `PUT` names. The
    /// body fails (so the upload is never completed) if its bytes are not
    /// what they should be. Retried from the start on failures that may
    /// pass; returns the digest.
    pub fn upload_streamed<R: Read>(
        &self,
        mut body: impl FnMut() -> Result<R>,
        mut digest_of: impl FnMut(R) -> Result<Digest>,
    ) -> Result<Digest> {
        retrying("uploading a blob", || {
            let location = match self.start_upload()? {
                Ok(location) => location,
                Err(refused) => return Ok(Err(refused)),
            };
            let mut reader = body()?;
            let sent = self
                .authorized(self.agent.patch(&location))
                .header("Content-Type", "application/octet-stream")
                .send(SendBody::from_reader(&mut reader));
            let response = match sent {
                Ok(response) if response.status() == StatusCode::ACCEPTED => response,
                Ok(response) if response.status().is_server_error() => {
                    return Err(unexpected(response, "sending a blob"));
                }
                Ok(response) => return Ok(Err(unexpected(response, "sending a blob"))),
                Err(error) => return Err(anyhow::Error::new(error)),
            };
            let location = upload_location(&self.base, &response)?;
            let digest = digest_of(reader)?;
            let separator = if location.contains('?') { '&' } else { '?' };
            let url = format!("{location}{separator}digest={digest}");
            let completed = self.authorized(self.agent.put(&url)).send_empty();
            match completed {
                Ok(response) if response.status() == StatusCode::CREATED => Ok(Ok(digest)),
                Ok(response) if response.status().is_server_error() => {
                    Err(unexpected(response, "completing an upload"))
                }
                Ok(response) => Ok(Err(unexpected(response, "completing an upload"))),
                Err(error) => Err(anyhow::Error::new(error)),
            }
        })
    }

    /// The manifest `digest`, its bytes checked against it, and its media
    /// type.
    pub fn get_manifest(&self, digest: &Digest) -> Result<(Vec<u8>, String)> {
        let (bytes, media_type) = self
            .find_manifest(&digest.to_string())?
            .with_context(|| format!("fetching manifest {digest}: the registry has none"))?;
        if Digest::of(&bytes) != *digest {
            bail!("the registry sent a manifest that does not match {digest}");
        }
        Ok((bytes, media_type))
    }

    /// The manifest `reference` (a tag or a digest) names and its media
    /// type; `None` when the repository has no such manifest.
    pub fn find_manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>> {
        let url = self.url(&format!("manifests/{reference}"));
        retrying(&format!("fetching manifest {reference}"), || {
            let mut response = match self.attempt("GET", &url, &Payload::Accept(MANIFEST_TYPES))? {
                Ok(response) => response,
                Err(refused) => return Ok(Err(refused)),
            };
            if response.status() == StatusCode::NOT_FOUND {
                return Ok(Ok(None));
            }
            if response.status() != StatusCode::OK {
                return Ok(Err(unexpected(
                    response,
                    &format!("fetching manifest {reference}"),
                )));
            }
            let media_type = response
                .headers()
                .get("Content-Type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let bytes = response
                .body_mut()
                .with_config()
                .limit(16 << 20)
                .read_to_vec()?;
            // A registry that names no type: the document's own `mediaType`.
            let media_type = match media_type.split(';').next().map(str::trim) {
                Some(named) if !named.is_empty() => named.to_owned(),
                _ => serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
                    .unwrap_or_default(),
            };
            Ok(Ok(Some((bytes, media_type))))
        })
    }

    /// Blob `digest`, of at most `limit` bytes, its bytes checked.
    pub fn get_small_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let url = self.url(&format!("blobs/{digest}"));
        retrying(&format!("fetching blob {digest}"), || {
            let mut response = match self.attempt("GET", &url, &Payload::Empty)? {
                Ok(response) => response,
                Err(refused) => return Ok(Err(refused)),
            };
            if response.status() != StatusCode::OK {
                return Ok(Err(unexpected(
                    response,
                    &format!("fetching blob {digest}"),
                )));
            }
            let bytes = response
                .body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()?;
            if Digest::of(&bytes) != *digest {
                return Ok(Err(anyhow::anyhow!(
                    "the registry sent blob {digest} with other bytes"
                )));
            }
            Ok(Ok(bytes))
        })
    }

    /// Writes blob `digest` to a new file at `path`, checking its bytes.
    pub fn get_blob(&self, digest: &Digest, path: &std::path::Path) -> Result<u64> {
        let url = self.url(&format!("blobs/{digest}"));
        retrying(&format!("fetching blob {digest}"), || {
            let response = match self.attempt("GET", &url, &Payload::Empty)? {
                Ok(response) => response,
                Err(refused) => return Ok(Err(refused)),
            };
            if response.status() != StatusCode::OK {
                return Ok(Err(unexpected(
                    response,
                    &format!("fetching blob {digest}"),
                )));
            }
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut hashing = HashingWriter::new(std::io::BufWriter::new(file));
            std::io::copy(&mut response.into_body().into_reader(), &mut hashing)?;
            let (actual, size, out) = hashing.finish();
            out.into_inner().map_err(|e| e.into_error())?;
            if actual != *digest {
                return Ok(Err(anyhow::anyhow!(
                    "the registry sent blob {digest} with other bytes ({actual})"
                )));
            }
            Ok(Ok(size))
        })
    }

    /// Tags `manifest` as `reference` (a tag, or its digest). Returns
    /// whether the registry said it took note of the manifest's `subject`
    /// (the `OCI-Subject` header of a registry with the referrers API).
    pub fn put_manifest(&self, reference: &str, manifest: &[u8], media_type: &str) -> Result<bool> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.request("PUT", &url, &Payload::Bytes(manifest, media_type))?;
        if response.status() != StatusCode::CREATED {
            return Err(unexpected(
                response,
                &format!("putting the manifest as '{reference}'"),
            ));
        }
        Ok(response.headers().contains_key("oci-subject"))
    }

    /// Sends a request, retrying on connection failures and 5xx answers.
    fn request(&self, method: &str, url: &str, payload: &Payload) -> Result<Response<Body>> {
        retrying(&format!("{method} {url}"), || {
            self.attempt(method, url, payload)
        })
    }

    /// Sends a request once, answering one authentication challenge. As for
    /// [`retrying`]: `Err` is a failure that may pass, `Ok(Err)` one that
    /// will not.
    fn attempt(
        &self,
        method: &str,
        url: &str,
        payload: &Payload,
    ) -> Result<Result<Response<Body>>> {
        let mut response = self.send(method, url, payload)?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.authenticate(&response)?;
            response = self.send(method, url, payload)?;
            if response.status() == StatusCode::UNAUTHORIZED {
                return Ok(Err(self.denied()));
            }
        }
        if response.status().is_server_error() {
            return Err(unexpected(response, &format!("{method} {url}")));
        }
        Ok(Ok(response))
    }

    fn send(&self, method: &str, url: &str, payload: &Payload) -> Result<Response<Body>> {
        let sent = match (method, payload) {
            ("HEAD", _) => self.authorized(self.agent.head(url)).call(),
            ("GET", Payload::Accept(types)) => self
                .authorized(self.agent.get(url))
                .header("Accept", *types)
                .call(),
            ("GET", _) => self.authorized(self.agent.get(url)).call(),
            (_, Payload::Empty | Payload::Accept(_)) => {
                let builder = if method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                self.authorized(builder).send_empty()
            }
            (_, Payload::Bytes(bytes, media_type)) => {
                let builder = if method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                self.authorized(builder)
                    .header("Content-Type", *media_type)
                    .send(*bytes)
            }
        };
        Ok(sent?)
    }

    fn authorized<B>(&self, builder: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &*self.authorization.lock().expect("not poisoned") {
            Some(value) => builder.header("Authorization", value),
            None => builder,
        }
    }

    /// Answers the challenge of a 401 response.
    fn authenticate(&self, response: &Response<Body>) -> Result<()> {
        let header = response
            .headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .context("the registry refused the request and named no way to authenticate")?;
        let value = match Challenge::parse(header)? {
            Challenge::Basic => match &self.credentials {
                Some(credentials) => credentials.basic(),
                None => return Err(self.denied()),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let scope =
                    scope.unwrap_or_else(|| format!("repository:{}:pull,push", self.repository));
                format!("Bearer {}", self.token(&realm, service.as_deref(), &scope)?)
            }
        };
        *self.authorization.lock().expect("not poisoned") = Some(value);
        Ok(())
    }

    /// A bearer token from `realm`, asked with the credentials if any.
    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let mut request = self.agent.get(realm).query("scope", scope);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", credentials.basic());
        }
        let mut response = request
            .call()
            .with_context(|| format!("cannot reach the token service {realm}"))?;
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            return Err(self.denied());
        }
        if !response.status().is_success() {
            return Err(unexpected(response, &format!("asking {realm} for a token")));
        }
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of the token service {realm}"))?;
        let token: Token = serde_json::from_str(&text)
            .with_context(|| format!("the token service {realm} sent no token"))?;
        token
            .token
            .or(token.access_token)
            .with_context(|| format!("the token service {realm} sent no token"))
    }

    fn denied(&self) -> anyhow::Error {
        match &self.credentials {
            Some(credentials) => anyhow::anyhow!(
                "{} refused the credentials of user '{}' for {}: check the user name and password",
                self.base,
                credentials.username,
                self.repository
            ),
            None => anyhow::anyhow!(
                "{} asks for credentials to push to {}: log in with `podman login` or `docker login`, or pass --creds USER:PASSWORD",
                self.base,
                self.repository
            ),
        }
    }
}

/// Runs `attempt` until it succeeds or fails for good: `Err` is a failure
/// that may pass (it is retried, with backoff), `Ok(Err)` one that will not.
fn retrying<T>(what: &str, mut attempt: impl FnMut() -> Result<Result<T>>) -> Result<T> {
    let mut wait = FIRST_BACKOFF;
    for tries in 1.. {
        match attempt() {
            Ok(result) => return result,
            Err(error) if tries >= ATTEMPTS => {
                return Err(error.context(format!("{what} failed {ATTEMPTS} times")));
            }
            Err(error) if !transient(&error) => return Err(error),
            Err(error) => {
                eprintln!("strata: {what}: {error:#}; trying again in {wait:?}");
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

/// Whether an error may pass if the request is sent again.
fn transient(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<ServerError>().is_some()
            || matches!(
                cause.downcast_ref::<ureq::Error>(),
                Some(ureq::Error::ConnectionFailed | ureq::Error::Timeout(_))
            )
            || matches!(cause.downcast_ref::<ureq::Error>(), Some(ureq::Error::Io(e)) if transient_io(e))
            || cause.downcast_ref::<std::io::Error>().is_some_and(transient_io)
    })
}

/// A connection that broke, as opposed to a body that failed its check.
fn transient_io(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionReset
            | ConnectionAborted
            | ConnectionRefused
            | BrokenPipe
            | UnexpectedEof
            | TimedOut
    )
}

/// A 5xx answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ServerError(String);

/// An error for an answer the request did not expect, with the registry's
/// own message.
fn unexpected(mut response: Response<Body>, what: &str) -> anyhow::Error {
    let status = response.status();
    let mut text = String::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(4096)
        .read_to_string(&mut text);
    let message = format!("{what}: the registry answered {status}: {}", text.trim());
    if status.is_server_error() {
        ServerError(message).into()
    } else {
        anyhow::anyhow!(message)
    }
}

/// The upload URL from a `Location` header, which may be relative.
fn upload_location(base: &str, response: &Response<Body>) -> Result<String> {
    let location = response
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .context("the registry started an upload but gave no Location")?;
    Ok(if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    })
}

//! Loading an image into Docker, or podman, through the Docker Engine API
//! on a unix socket (`POST /images/load`), streamed: no archive is written
//! to disk.
//!
//! HTTP/1.1 is spoken by hand here: one request with a chunked body and one
//! response read to its end are all it takes, and the HTTP client used for
//! registries does not speak over unix sockets.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::emit::description::ImageDescription;
use crate::emit::stream;
use crate::input::spec::{Delivery, ImageFormat};

/// Which engine, for finding its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    /// The socket from `$DOCKER_HOST` / `$CONTAINER_HOST` (`unix://` only),
    /// or the engine's usual place.
    pub fn socket(self) -> Result<PathBuf> {
        let (variable, default) = match self {
            Engine::Docker => ("DOCKER_HOST", PathBuf::from("/var/run/docker.sock")),
            Engine::Podman => (
                "CONTAINER_HOST",
                match std::env::var_os("XDG_RUNTIME_DIR") {
                    Some(dir) if !is_root() => Path::new(&dir).join("podman/podman.sock"),
                    _ => PathBuf::from("/run/podman/podman.sock"),
                },
            ),
        };
        match std::env::var(variable) {
            Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
                Some(path) => Ok(PathBuf::from(path)),
                None => bail!("{variable}={host}: only unix:// sockets are supported"),
            },
            _ => Ok(default),
        }
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Streams the image's archive to the engine at `socket`, in the docker
/// format (which every engine loads) whatever the image's own; returns what
/// the engine said it loaded.
pub fn load(mut description: ImageDescription, socket: &Path) -> Result<String> {
    description.plan.spec.format = ImageFormat::Docker;
    let stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot connect to {}; is the engine running (for podman: `podman system service`)?",
            socket.display()
        )
    })?;
    let mut request = BufWriter::with_capacity(1 << 20, &stream);
    request.write_all(
        b"POST /images/load?quiet=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )?;
    let encoding = description.plan.spec.encoding(Delivery::Unpacked);
    let sent = stream::write_archive(&description, encoding, Chunked(request)).and_then(
        |Chunked(mut w)| {
            w.write_all(b"0\r\n\r\n")?;
            Ok(w.flush()?)
        },
    );
    let result = match sent {
        Ok(()) => read_response(&stream).and_then(|answer| answer),
        Err(error) => {
            // The request is cut short: the engine, waiting for the rest,
            // sees it end, and tags nothing. It may have answered early:
            // its answer then says why the sending failed.
            let _ = stream.shutdown(Shutdown::Write);
            match read_response(&stream) {
                Ok(Err(refusal)) => Err(refusal.context(format!("{error:#}"))),
                _ => Err(error),
            }
        }
    };
    result.with_context(|| {
        format!(
            "cannot load {} through {}",
            description.plan.spec.repo_tag(),
            socket.display()
        )
    })
}

/// Frames everything written as HTTP chunks.
struct Chunked<W: Write>(W);

impl<W: Write> Write for Chunked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !buf.is_empty() {
            write!(self.0, "{:x}\r\n", buf.len())?;
            self.0.write_all(buf)?;
            self.0.write_all(b"\r\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Reads the engine's answer: `Ok(Ok(message))` when it loaded the image,
/// `Ok(Err(reason))` when it refused.
fn read_response(stream: &UnixStream) -> Result<Result<String>> {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .context("the engine closed the connection without an answer")?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| {
            format!("the engine answered something other than HTTP: {status_line:?}")
        })?;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("transfer-encoding")
            && value.trim().eq_ignore_ascii_case("chunked")
        {
            chunked = true;
        }
    }
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw)?;
    let body = if chunked { dechunk(&raw) } else { raw };
    let body = String::from_utf8_lossy(&body);
    Ok(interpret(status, &body))
}

/// The body of a chunked message.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        raw = &raw[end + 2..];
        if size == 0 || size > raw.len() {
            break;
        }
        body.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
    body
}

/// The engine's messages: JSON objects with `stream` text or an `error`.
fn interpret(status: u16, body: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Message {
        stream: Option<String>,
        error: Option<String>,
        message: Option<String>,
    }
    let mut said = Vec::new();
    let mut errors = Vec::new();
    let stream = serde_json::Deserializer::from_str(body).into_iter::<Message>();
    for message in stream.flatten() {
        said.extend(message.stream.map(|s| s.trim().to_owned()));
        errors.extend(message.error.or(message.message));
    }
    if !(200..300).contains(&status) || !errors.is_empty() {
        let reason = if errors.is_empty() {
            body.trim().to_owned()
        } else {
            errors.join("; ")
        };
        bail!("the engine refused the image (HTTP {status}): {reason}");
    }
    Ok(said.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip() {
        let mut framed = Chunked(Vec::new());
        framed.write_all(b"hello ").unwrap();
        framed.write_all(b"").unwrap();
        framed.write_all(b"world").unwrap();
        let mut raw = framed.0;
        raw.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(dechunk(&raw), b"hello world");
    }

    #[test]
    fn engine_messages() {
        assert_eq!(
            interpret(200, "{\"stream\":\"Loaded image: a:b\\n\"}").unwrap(),
            "Loaded image: a:b"
        );
        let refused = interpret(
            200,
            r#"{"errorDetail":{"message":"bad"},"error":"bad layer"}"#,
        );
        assert!(format!("{:#}", refused.unwrap_err()).contains("bad layer"));
        let failed = interpret(500, r#"{"message":"no space"}"#).unwrap_err();
        assert!(format!("{failed:#}").contains("(HTTP 500): no space"));
    }
}

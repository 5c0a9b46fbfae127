//! Image names and tags, checked against the OCI distribution reference
//! grammar (the one `docker` and `podman` enforce).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error(
        "invalid image name '{name}': {reason} (a name is lower-case path components [a-z0-9] joined by '.', '_', '__' or '-', separated by '/', optionally after a registry host such as 'registry.example.com:5000/')"
    )]
    Name { name: String, reason: String },
    #[error(
        "invalid image tag '{tag}': {reason} (a tag is 1 to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-')"
    )]
    Tag { tag: String, reason: String },
}

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Checks an image name such as `hello`, `library/hello` or
/// `registry.example.com:5000/team/hello`. No tag or digest.
pub fn validate_name(name: &str) -> Result<(), ReferenceError> {
    let fail = |reason: &str| ReferenceError::Name {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(fail("it is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(fail("it is longer than 255 characters"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain_like(components[0]) {
        validate_domain(components[0]).map_err(|r| fail(&r))?;
        components.remove(0);
    }
    for component in components {
        validate_path_component(component).map_err(|r| fail(&r))?;
    }
    Ok(())
}

/// Checks a tag such as `latest` or `1.2.3-rc1`.
pub fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let fail = |reason: &str| ReferenceError::Tag {
        tag: tag.to_owned(),
        reason: reason.to_owned(),
    };
    let first = tag.chars().next().ok_or_else(|| fail("it is empty"))?;
    if tag.len() > MAX_TAG_LEN {
        return Err(fail("it is longer than 128 characters"));
    }
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(fail("it must start with a letter, digit or '_'"));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(fail(&format!("it contains {bad:?}")));
    }
    Ok(())
}

/// The first component is a registry host when it has a '.' or ':' or is
/// `localhost`, or has upper case (which a path component may not).
fn is_domain_like(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("the registry port '{port}' is not a number"));
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "the registry host '{host}' is not a valid host name"
            ));
        }
    }
    Ok(())
}

/// The registry Docker uses for names without a registry host.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Splits a name into its registry host and its repository, as Docker does:
/// the first component is a host when it has a '.' or a ':' or is
/// `localhost`; a bare name is in Docker Hub's `library/`.
pub fn split_registry(name: &str) -> (&str, String) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first, rest.to_owned())
        }
        Some(_) => (DEFAULT_REGISTRY, name.to_owned()),
        None => (DEFAULT_REGISTRY, format!("library/{name}")),
    }
}

/// Where an image is pushed: `[docker://]name[:tag]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Host and optional port, as in the name.
    pub registry: String,
    pub repository: String,
    pub tag: String,
}

impl Destination {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let (name, tag) = name_and_tag(text.strip_prefix("docker://").unwrap_or(text))?;
        let (registry, repository) = split_registry(name);
        Ok(Self {
            registry: registry.to_owned(),
            repository,
            tag: tag.to_owned(),
        })
    }
}

/// `name[:tag]` → the name and the tag (`latest` when none is given), both
/// checked. A ':' after the last '/' starts the tag; one before it is a
/// port.
pub fn name_and_tag(reference: &str) -> Result<(&str, &str), ReferenceError> {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    };
    validate_name(name)?;
    validate_tag(tag)?;
    Ok((name, tag))
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn validate_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("it has an empty path component".to_owned());
    }
    if let Some(bad) = component
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
    {
        return Err(if bad.is_ascii_uppercase() {
            format!("'{component}' has upper case; names must be lower case")
        } else {
            format!("'{component}' contains {bad:?}")
        });
    }
    let bytes = component.as_bytes();
    let mut i = 0;
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or one or more '-'.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if start == 0 || i == bytes.len() || !allowed {
            return Err(format!(
                "'{component}' has the separator '{separator}' in a place the grammar does not allow"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = |text| Destination::parse(text).unwrap().to_string();
        assert_eq!(d("hello"), "docker.io/library/hello:latest");
        assert_eq!(d("docker://team/app:v1"), "docker.io/team/app:v1");
        assert_eq!(
            d("localhost:5000/team/app:1.0"),
            "localhost:5000/team/app:1.0"
        );
        assert_eq!(d("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert!(Destination::parse("docker://team/App").is_err());
        assert!(Destination::parse("app:-bad").is_err());
    }

    #[test]
    fn accepts_valid_names() {
        for name in [
            "hello",
            "library/hello",
            "a.b_c__d---e",
            "localhost/x",
            "localhost:5000/team/app",
            "registry.example.com/a/b",
            "Registry.Example.com/a",
            "0",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for name in [
            "",
            "Hello",
            "hello/",
            "/hello",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a b",
            "a:b",
            "localhost:port/x",
            "bad_host.com/x",
            "a//b",
            "hello@sha256",
        ] {
            assert!(validate_name(name).is_err(), "{name} accepted");
        }
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn checks_tags() {
        for tag in ["latest", "1.0", "_x", "A-b.c_D", &"t".repeat(128)] {
            assert_eq!(validate_tag(tag), Ok(()), "{tag}");
        }
        for tag in ["", ".x", "-x", "a:b", "a/b", "é", &"t".repeat(129)] {
            assert!(validate_tag(tag).is_err(), "{tag} accepted");
        }
    }
}

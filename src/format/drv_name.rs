//! A package's name and version from a store path's name, split as Nix's
//! `builtins.parseDrvName` splits them.

/// `hello-2.12.1` → (`hello`, `2.12.1`); `gcc-wrapper-13-lib` →
/// (`gcc-wrapper`, `13-lib`). The version starts after the first dash that
/// is not followed by a letter; without one, the version is empty.
pub fn parse_drv_name(name: &str) -> (&str, &str) {
    let bytes = name.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        if byte == b'-'
            && bytes
                .get(at + 1)
                .is_some_and(|next| !next.is_ascii_alphabetic())
        {
            return (&name[..at], &name[at + 1..]);
        }
    }
    (name, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_parse_drv_name() {
        // What `nix-instantiate --eval -E 'builtins.parseDrvName "…"'` says.
        for (name, expected) in [
            ("hello-2.12.1", ("hello", "2.12.1")),
            ("gcc-wrapper-13-lib", ("gcc-wrapper", "13-lib")),
            ("busybox", ("busybox", "")),
            (
                "python3.12-requests-2.31.0",
                ("python3.12-requests", "2.31.0"),
            ),
            ("nix-2.8.0-man", ("nix", "2.8.0-man")),
            ("glibc-2.39-52-bin", ("glibc", "2.39-52-bin")),
            ("trailing-", ("trailing-", "")),
            ("a--1", ("a", "-1")),
        ] {
            assert_eq!(parse_drv_name(name), expected, "{name}");
        }
    }
}

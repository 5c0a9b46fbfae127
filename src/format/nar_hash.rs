//! NAR hashes, as Nix writes them (`sha256:` and nixbase32, SRI
//! `sha256-` and base64, or 64 hex digits), read as SHA-256 digests.

use anyhow::{Context, Result, bail};
use base64::Engine as _;

use crate::format::digest::Digest;

/// Nix's base32 alphabet (no e, o, u, t).
const NIXBASE32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// The SHA-256 digest a NAR hash of any of Nix's forms gives.
pub fn parse_nar_hash(text: &str) -> Result<Digest> {
    read(text).with_context(|| format!("'{text}' is not a SHA-256 NAR hash"))
}

fn read(text: &str) -> Result<Digest> {
    let bytes = if let Some(sri) = text.strip_prefix("sha256-") {
        base64::engine::general_purpose::STANDARD
            .decode(sri)
            .context("its base64 is not valid")?
    } else {
        let digits = text.strip_prefix("sha256:").unwrap_or(text);
        match digits.len() {
            64 => {
                return format!("sha256:{digits}")
                    .parse()
                    .map_err(anyhow::Error::msg);
            }
            52 => nixbase32_bytes(digits)?,
            n => bail!("it has {n} digits, neither 64 (hex) nor 52 (nixbase32)"),
        }
    };
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("it has {} bytes, not 32", b.len()))?;
    Ok(Digest::from_bytes(bytes))
}

/// Nix's base32: the last digit holds the first bits, bytes little-endian.
fn nixbase32_bytes(digits: &str) -> Result<Vec<u8>> {
    let size = digits.len() * 5 / 8;
    let mut bytes = vec![0u8; size];
    for (n, digit) in digits.bytes().rev().enumerate() {
        let value = NIXBASE32
            .iter()
            .position(|&c| c == digit)
            .with_context(|| format!("'{}' is not a nixbase32 digit", digit as char))?
            as u16;
        let bit = n * 5;
        let (byte, shift) = (bit / 8, bit % 8);
        let spread = value << shift;
        bytes[byte] |= spread as u8;
        let high = (spread >> 8) as u8;
        if byte + 1 < size {
            bytes[byte + 1] |= high;
        } else if high != 0 {
            bail!("its nixbase32 has bits beyond 256");
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of "abc", as `sha256sum` and `nix-hash --to-base32` print it.
    const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn reads_every_form_nix_writes() {
        for text in [
            HEX.to_owned(),
            format!("sha256:{HEX}"),
            "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s".to_owned(),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=".to_owned(),
        ] {
            assert_eq!(parse_nar_hash(&text).unwrap().hex(), HEX, "{text}");
        }
        for bad in [
            "sha256:xyz",
            "md5:abc",
            "sha256-AAAA",
            &format!("sha256:{}", &HEX[..62]),
        ] {
            let err = format!("{:#}", parse_nar_hash(bad).unwrap_err());
            assert!(
                err.contains(&format!("'{bad}' is not a SHA-256 NAR hash")),
                "{err}"
            );
        }
    }
}

//! Text encodings the CLI reads and writes: base64 (RFC 4648, standard alphabet, padded),
//! PEM (RFC 7468) and `0x`-prefixed hex.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with padding.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sextet(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Strict base64: padded, canonical (unused bits zero); ASCII whitespace is skipped. None if
/// the text is not base64.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let s: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (qi, q) in s.chunks(4).enumerate() {
        let last = qi + 1 == quads;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | sextet(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Canonical: the bits dropped by padding must be zero.
        if (pad == 1 && bytes[2] != 0) || (pad == 2 && bytes[1] != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// A PEM block: `-----BEGIN <label>-----`, base64 in 64-column lines, `-----END <label>-----`.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM block of `text`: (label, DER).
pub(crate) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    let body = rest.get(body_start..body_end)?;
    // RFC 7468 allows no headers in the blocks we read; a ':' means RFC 1421 headers
    // (encrypted PEM), which we do not support.
    if body.contains(':') {
        return None;
    }
    Some((label, base64_decode(body)?))
}

/// `0x`-prefixed lower-case hex.
pub(crate) fn hex0x(data: &[u8]) -> String {
    format!("0x{}", hex::encode(data))
}

/// Hex with an optional `0x` prefix; an odd number of digits gets a leading zero.
pub(crate) fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let t = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if t.len() % 2 == 1 {
        hex::decode(format!("0{t}")).ok()
    } else {
        hex::decode(t).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    #[test]
    fn base64_rfc4648_vectors() {
        let v = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in v {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base64_rejects_non_canonical_and_junk() {
        for bad in ["Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm9v!", "hello"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
        assert_eq!(base64_decode("Zm9v\nYmFy\n").unwrap(), b"foobar");
    }

    #[test]
    fn base64_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            assert_eq!(
                base64_decode(&base64_encode(&data[..n])).unwrap(),
                &data[..n]
            );
        }
    }

    #[test]
    fn pem_round_trip() {
        let der: Vec<u8> = (0..200u8).collect();
        let pem = pem_encode("PUBLIC KEY", &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(pem_decode(&pem).unwrap(), ("PUBLIC KEY".to_string(), der));
        assert_eq!(
            pem_decode("-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n-----END X-----\n"),
            None
        );
    }

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("0x0a0B").unwrap(), vec![10, 11]);
        assert_eq!(parse_hex("abc").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(parse_hex("xyz"), None);
        assert_eq!(hex0x(&[1, 2]), "0x0102");
    }
}

//! UTF-16LE strings on the wire, UTF-8 `String`s everywhere else.
//!
//! Names that are not valid UTF-16 (unpaired surrogates, which Windows
//! allows in file names) cannot become UTF-8 losslessly; they are refused
//! with STATUS_OBJECT_NAME_INVALID rather than silently changed.

use super::reader::WireError;

pub fn utf16_to_string(bytes: &[u8], what: &'static str) -> Result<String, WireError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(WireError::Invalid {
            what,
            value: bytes.len() as u64,
            why: "odd length for UTF-16",
        });
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| WireError::BadString(what))
}

/// Appends `s` as UTF-16LE (no terminator).
pub fn put_utf16(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut b = Vec::new();
        put_utf16(&mut b, "é\u{1F600}x");
        assert_eq!(b, [0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, b'x', 0]);
        assert_eq!(utf16_to_string(&b, "n").unwrap(), "é\u{1F600}x");
        assert!(utf16_to_string(&[0x3d, 0xd8], "n").is_err());
        assert!(utf16_to_string(&[1], "n").is_err());
        assert_eq!(utf16_len("é\u{1F600}"), 6);
    }
}

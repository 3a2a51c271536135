//! NetBIOS names (RFC 1001 14, RFC 1002 4.1): the name type nmbd and smbd
//! share, and its wire form, first-level encoded with an optional scope and
//! DNS-style compression pointers.
//!
//! ```text
//!   0x20 'EB' 'EB' ... (32 half-byte letters: 15 name bytes + suffix)
//!   then the scope's labels (length, bytes), then 0;
//!   or, anywhere a label may start, a pointer 0xC0|hi lo to an earlier
//!   place in the packet.
//! ```
//!
//! Decoding never trusts the packet: the first label must be exactly 32
//! letters 'A'..='P', a pointer must point strictly before the name that
//! uses it (so chains end), at most [`MAX_POINTERS`] are followed, and the
//! whole encoded name is at most [`MAX_ENCODED`] bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest NetBIOS name (without the suffix byte).
pub const MAX_NAME: usize = 15;
/// The longest encoded name with its scope (RFC 1002 4.1, as DNS).
pub const MAX_ENCODED: usize = 255;
/// The most compression pointers one name may follow (Samba stops at 10).
/// The bound [`NbName::decode_exact`] applies (a name still fits a
/// 576-byte datagram with room to spare).
pub const MAX_ENCODED_WINS: usize = 320;
pub const MAX_POINTERS: usize = 10;
/// The longest scope label.
pub const MAX_LABEL: usize = 63;

/// Well-known suffixes (the 16th byte).
pub mod suffix {
    pub const WORKSTATION: u8 = 0x00;
    pub const MESSENGER: u8 = 0x03;
    pub const SERVER: u8 = 0x20;
    pub const MASTER_BROWSER: u8 = 0x1d;
    pub const BROWSER_ELECTION: u8 = 0x1e;
    pub const DOMAIN_MASTER: u8 = 0x1b;
    pub const DOMAIN_CONTROLLER: u8 = 0x1c;
    /// `__MSBROWSE__<01>`, the browse-masters group.
    pub const MSBROWSE: u8 = 0x01;
}

/// Why a name cannot be used or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("NetBIOS name {0:?} is longer than 15 characters")]
    TooLong(String),
    #[error("NetBIOS name is empty")]
    Empty,
    #[error("NetBIOS name {0:?} has a character that cannot be sent")]
    BadChar(String),
    #[error("NetBIOS scope {0:?} is not valid (labels of 1..=63 characters)")]
    BadScope(String),
    #[error("name truncated at offset {0}")]
    Truncated(usize),
    #[error("first label of length {0} at offset {1}, not 32")]
    FirstLabel(u8, usize),
    #[error("encoded name has a letter {0:#04x} outside 'A'..'P' at offset {1}")]
    BadLetter(u8, usize),
    #[error("bad label length {0:#04x} at offset {1}")]
    LabelLength(u8, usize),
    #[error("compression pointer at offset {0} to {1} does not point backwards")]
    PointerForward(usize, usize),
    #[error("more than {MAX_POINTERS} compression pointers")]
    PointerChain,
    #[error("encoded name too long")]
    NameTooLong,
}

/// A NetBIOS name: up to 15 bytes (kept uppercased as NetBIOS compares
/// them), the suffix byte, and the scope (usually empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NbName {
    /// Without the padding: "OURSRV", "*", "\x01\x02__MSBROWSE__\x02".
    name: Vec<u8>,
    suffix: u8,
    /// Dot-separated labels, "" for none.
    scope: String,
}

impl NbName {
    /// A name from configuration (`netbios name`, `workgroup`): uppercased;
    /// at most 15 bytes; no control characters, no '.'.
    pub fn new(name: &str, suffix: u8) -> Result<NbName, NameError> {
        NbName::with_scope(name, suffix, "")
    }

    pub fn with_scope(name: &str, suffix: u8, scope: &str) -> Result<NbName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME {
            return Err(NameError::TooLong(name.into()));
        }
        if name.bytes().any(|b| b < 0x20 || b == b'.' || b >= 0x7f) {
            return Err(NameError::BadChar(name.into()));
        }
        check_scope(scope)?;
        Ok(NbName {
            name: name.to_ascii_uppercase().into_bytes(),
            suffix,
            scope: scope.to_string(),
        })
    }

    /// `__MSBROWSE__<01>` (its name has control bytes, so not via `new`).
    pub fn msbrowse() -> NbName {
        NbName {
            name: b"\x01\x02__MSBROWSE__\x02".to_vec(),
            suffix: suffix::MSBROWSE,
            scope: String::new(),
        }
    }

    /// `*<00>`, the name node status requests are sent to.
    pub fn any() -> NbName {
        NbName {
            name: b"*".to_vec(),
            suffix: 0,
            scope: String::new(),
        }
    }

    /// The same name with another suffix.
    pub fn with_suffix(&self, suffix: u8) -> NbName {
        NbName {
            suffix,
            ..self.clone()
        }
    }

    /// The name bytes, without padding.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The name as text (lossy for non-UTF-8 bytes).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    pub fn suffix(&self) -> u8 {
        self.suffix
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The 16 bytes before encoding: the name padded with spaces (NULs for
    /// `*`), then the suffix.
    pub fn raw(&self) -> [u8; 16] {
        let pad = if self.name == b"*" { 0 } else { b' ' };
        let mut raw = [pad; 16];
        raw[..self.name.len()].copy_from_slice(&self.name);
        raw[15] = self.suffix;
        raw
    }

    /// A name from its 16 raw bytes (trailing spaces and NULs dropped), as
    /// node status lists them.
    pub fn from_raw(raw: &[u8; 16], scope: &str) -> NbName {
        let mut n = NbName::from_raw_exact(raw, scope);
        n.name.make_ascii_uppercase();
        n
    }

    /// As [`NbName::from_raw`], the case of the name kept.
    pub fn from_raw_exact(raw: &[u8; 16], scope: &str) -> NbName {
        let mut end = 15;
        while end > 0 && (raw[end - 1] == b' ' || raw[end - 1] == 0) {
            end -= 1;
        }
        NbName {
            name: raw[..end].to_vec(),
            suffix: raw[15],
            scope: scope.to_string(),
        }
    }

    /// Appends the encoded name (never compressed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(32);
        for b in self.raw() {
            out.push(b'A' + (b >> 4));
            out.push(b'A' + (b & 0x0f));
        }
        if !self.scope.is_empty() {
            for label in self.scope.split('.') {
                out.push(label.len() as u8);
                out.extend_from_slice(label.as_bytes());
            }
        }
        out.push(0);
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        34 + if self.scope.is_empty() {
            0
        } else {
            self.scope.len() + 1
        }
    }

    /// Decodes the name at `at` in `packet`; returns it and the offset just
    /// after it (after the first pointer when it was compressed).
    pub fn decode(packet: &[u8], at: usize) -> Result<(NbName, usize), NameError> {
        let (mut n, end) = NbName::decode_with(packet, at, MAX_ENCODED)?;
        n.name.make_ascii_uppercase();
        Ok((n, end))
    }

    /// As [`NbName::decode`] but the name exactly as sent (its case kept)
    /// and up to [`MAX_ENCODED_WINS`] bytes long: a WINS server compares
    /// names byte for byte and must see an over-long scope to refuse it
    /// (Windows and Samba 4 answer SRV_ERR beyond a 237-byte scope).
    pub fn decode_exact(packet: &[u8], at: usize) -> Result<(NbName, usize), NameError> {
        NbName::decode_with(packet, at, MAX_ENCODED_WINS)
    }

    fn decode_with(packet: &[u8], at: usize, max: usize) -> Result<(NbName, usize), NameError> {
        let mut pos = at;
        // Where a pointer may point: strictly before the start of the part
        // being read.
        let mut limit = at;
        let mut end: Option<usize> = None;
        let mut pointers = 0;
        let mut total = 0usize;
        let mut labels: Vec<&[u8]> = Vec::new();
        loop {
            let len = *packet.get(pos).ok_or(NameError::Truncated(pos))?;
            match len & 0xc0 {
                0xc0 => {
                    let lo = *packet.get(pos + 1).ok_or(NameError::Truncated(pos + 1))?;
                    let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                    if target >= limit {
                        return Err(NameError::PointerForward(pos, target));
                    }
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(NameError::PointerChain);
                    }
                    end.get_or_insert(pos + 2);
                    limit = target;
                    pos = target;
                }
                0x00 => {
                    let n = usize::from(len);
                    if labels.is_empty() && n != 32 {
                        return Err(NameError::FirstLabel(len, pos));
                    }
                    total += n + 1;
                    if total > max {
                        return Err(NameError::NameTooLong);
                    }
                    if n == 0 {
                        end.get_or_insert(pos + 1);
                        break;
                    }
                    let label = packet
                        .get(pos + 1..pos + 1 + n)
                        .ok_or(NameError::Truncated(pos + 1))?;
                    labels.push(label);
                    pos += 1 + n;
                }
                _ => return Err(NameError::LabelLength(len, pos)),
            }
        }
        let first = labels[0];
        let mut raw = [0u8; 16];
        for (i, pair) in first.chunks(2).enumerate() {
            let nibble = |c: u8, off: usize| -> Result<u8, NameError> {
                if (b'A'..=b'P').contains(&c) {
                    Ok(c - b'A')
                } else {
                    Err(NameError::BadLetter(c, off))
                }
            };
            raw[i] = (nibble(pair[0], at)? << 4) | nibble(pair[1], at)?;
        }
        let mut scope = String::new();
        for label in &labels[1..] {
            // Printable ASCII without dots (as `check_scope` demands of a
            // configured scope): anything else would not encode back to
            // the same labels.
            if label.iter().any(|&b| b <= 0x20 || b >= 0x7f || b == b'.') {
                return Err(NameError::BadScope(
                    String::from_utf8_lossy(label).into_owned(),
                ));
            }
            if !scope.is_empty() {
                scope.push('.');
            }
            scope.push_str(std::str::from_utf8(label).expect("checked ASCII"));
        }
        let name = NbName::from_raw_exact(&raw, &scope);
        Ok((name, end.expect("set at the end of the walk")))
    }
}

fn check_scope(scope: &str) -> Result<(), NameError> {
    if scope.is_empty() {
        return Ok(());
    }
    if scope.len() + 35 > MAX_ENCODED
        || scope.split('.').any(|l| {
            l.is_empty() || l.len() > MAX_LABEL || l.bytes().any(|b| b <= 0x20 || b >= 0x7f)
        })
    {
        return Err(NameError::BadScope(scope.into()));
    }
    Ok(())
}

/// `NAME<20>`, as nmblookup prints names.
impl fmt::Display for NbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.name {
            if (0x20..0x7f).contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        write!(f, "<{:02x}>", self.suffix)?;
        if !self.scope.is_empty() {
            write!(f, ".{}", self.scope)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The question name of `nmblookup OURSRV` (Samba 4.17): "OURSRV<00>".
    const OURSRV_00: [u8; 34] = *b"\x20EPFFFCFDFCFGCACACACACACACACACAAA\x00";

    #[test]
    fn encode_decode_round_trip() {
        let n = NbName::new("oursrv", 0).unwrap();
        let mut out = Vec::new();
        n.encode(&mut out);
        assert_eq!(out, OURSRV_00);
        assert_eq!(NbName::decode(&out, 0).unwrap(), (n.clone(), 34));
        assert_eq!(n.to_string(), "OURSRV<00>");
        let star = NbName::any();
        let mut out = Vec::new();
        star.encode(&mut out);
        assert_eq!(&out[..3], b"\x20CK");
        assert_eq!(&out[3..33], [b'A'; 30]);
        assert_eq!(NbName::decode(&out, 0).unwrap().0, star);
        let mb = NbName::msbrowse();
        let mut out = Vec::new();
        mb.encode(&mut out);
        assert_eq!(NbName::decode(&out, 0).unwrap().0, mb);
        let scoped = NbName::with_scope("WG", 0x1e, "corp.example").unwrap();
        let mut out = Vec::new();
        scoped.encode(&mut out);
        assert_eq!(out.len(), scoped.encoded_len());
        assert_eq!(NbName::decode(&out, 0).unwrap(), (scoped, out.len()));
    }

    #[test]
    fn bad_names_refused() {
        assert!(matches!(NbName::new("", 0), Err(NameError::Empty)));
        assert!(matches!(
            NbName::new("SIXTEEN-CHARS-XX", 0),
            Err(NameError::TooLong(_))
        ));
        assert!(matches!(NbName::new("a.b", 0), Err(NameError::BadChar(_))));
        assert!(matches!(
            NbName::with_scope("A", 0, "x..y"),
            Err(NameError::BadScope(_))
        ));
    }

    #[test]
    fn pointers() {
        // A name at 12, then a pointer to it at 46.
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&OURSRV_00);
        p.extend_from_slice(&[0xc0, 12]);
        let (n, end) = NbName::decode(&p, 46).unwrap();
        assert_eq!(n.to_string(), "OURSRV<00>");
        assert_eq!(end, 48);
        // A pointer to itself, forwards, a loop between two pointers.
        assert_eq!(
            NbName::decode(&[0xc0, 0], 0),
            Err(NameError::PointerForward(0, 0))
        );
        assert!(matches!(
            NbName::decode(&[0xc0, 4, 0, 0, 0x20], 0),
            Err(NameError::PointerForward(..))
        ));
        let looped = [0xc0, 2, 0xc0, 0];
        assert!(NbName::decode(&looped, 2).is_err());
        // A chain of 11 pointers, each to the one before.
        let mut chain = OURSRV_00.to_vec();
        let mut prev = 0usize;
        for _ in 0..11 {
            let here = chain.len();
            chain.extend_from_slice(&[0xc0, prev as u8]);
            prev = here;
        }
        assert_eq!(NbName::decode(&chain, prev), Err(NameError::PointerChain));
        assert!(NbName::decode(&chain, 34 + 2 * 9).is_ok());
    }

    #[test]
    fn malformed_labels() {
        let mut short = OURSRV_00;
        short[0] = 31;
        assert!(matches!(
            NbName::decode(&short, 0),
            Err(NameError::FirstLabel(31, 0))
        ));
        let mut letter = OURSRV_00;
        letter[5] = b'Z';
        assert!(matches!(
            NbName::decode(&letter, 0),
            Err(NameError::BadLetter(b'Z', 0))
        ));
        assert!(matches!(
            NbName::decode(&OURSRV_00[..20], 0),
            Err(NameError::Truncated(_))
        ));
        let mut ext = OURSRV_00[..33].to_vec();
        ext.push(0x80);
        assert!(matches!(
            NbName::decode(&ext, 0),
            Err(NameError::LabelLength(0x80, 33))
        ));
        // A scope that never ends within 255 bytes.
        let mut long = OURSRV_00[..33].to_vec();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(NbName::decode(&long, 0), Err(NameError::NameTooLong));
        // Within the WINS bound, and the case kept.
        let (n, end) = NbName::decode_exact(
            &long[..33 + 4 * 64]
                .iter()
                .chain(&[0])
                .copied()
                .collect::<Vec<_>>(),
            0,
        )
        .unwrap();
        assert_eq!((n.scope().len(), end), (4 * 63 + 3, 33 + 4 * 64 + 1));
    }

    /// Found by fuzzing: scope labels holding a dot, a space, a control or
    /// a non-ASCII byte decoded to a scope that encodes to other labels.
    #[test]
    fn scope_labels_that_would_not_round_trip() {
        for bad in [&b"a.b"[..], b"a b", b"\x01", b"\xff\xfe"] {
            let mut p = OURSRV_00[..33].to_vec();
            p.push(bad.len() as u8);
            p.extend_from_slice(bad);
            p.push(0);
            assert!(
                matches!(NbName::decode(&p, 0), Err(NameError::BadScope(_))),
                "{bad:?}"
            );
            assert!(
                matches!(NbName::decode_exact(&p, 0), Err(NameError::BadScope(_))),
                "{bad:?}"
            );
        }
        let mut p = OURSRV_00[..33].to_vec();
        p.extend_from_slice(b"\x07Example\x03com\x00");
        let (n, _) = NbName::decode_exact(&p, 0).unwrap();
        assert_eq!(n.scope(), "Example.com");
        let mut out = Vec::new();
        n.encode(&mut out);
        assert_eq!(out, p);
    }
}

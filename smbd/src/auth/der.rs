//! The DER subset SPNEGO needs: one-byte tags, definite lengths, bounded
//! nesting.
//!
//! We parse by hand rather than with the `der` crate because the SPNEGO
//! mechListMIC is computed over the client's mechTypes exactly as sent, so
//! the parser must hand back raw element bytes, and because the limits we
//! want (depth, sizes) are easiest to see here.
//!
//! Accepted: short and long-form definite lengths (non-minimal long forms are
//! tolerated, as Samba's parser does). Refused: the indefinite form (0x80),
//! lengths of more than 4 octets, a length running past its parent, high tag
//! numbers (0x1f), nesting deeper than [`MAX_DEPTH`].

use thiserror::Error;

/// SPNEGO needs five levels (APPLICATION 0 / [0] / SEQUENCE / [0] / SEQUENCE
/// OF); anything deeper is not SPNEGO.
pub const MAX_DEPTH: u8 = 8;

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_OID: u8 = 0x06;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_GENERAL_STRING: u8 = 0x1b;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_APPLICATION_0: u8 = 0x60;

/// `[n]` constructed, context-specific (EXPLICIT tagging as SPNEGO uses).
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DerError {
    #[error("DER: truncated {0}")]
    Truncated(&'static str),
    #[error("DER: indefinite length is not allowed")]
    IndefiniteLength,
    #[error("DER: length of {0} octets is too long")]
    LengthTooLong(u8),
    #[error("DER: element of {len} bytes runs past its parent ({room} left)")]
    Overrun { len: usize, room: usize },
    #[error("DER: high tag numbers are not supported")]
    HighTag,
    #[error("DER: nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("DER: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("DER: {0} trailing bytes")]
    TrailingData(usize),
    #[error("DER: bad {0}")]
    BadValue(&'static str),
}

/// One element: its tag, its contents and the whole encoding (tag, length,
/// contents) as it appeared on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
    depth: u8,
}

impl<'a> Tlv<'a> {
    /// A reader over this element's contents, one level deeper.
    pub fn inner(&self) -> Result<Der<'a>, DerError> {
        let depth = self.depth.checked_add(1).ok_or(DerError::TooDeep)?;
        if depth > MAX_DEPTH {
            return Err(DerError::TooDeep);
        }
        Ok(Der {
            rest: self.content,
            depth,
        })
    }

    /// Contents of an element that must carry `tag`.
    pub fn expect(self, tag: u8) -> Result<Self, DerError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(DerError::UnexpectedTag {
                expected: tag,
                found: self.tag,
            })
        }
    }

    /// The single element inside an EXPLICIT context tag `[n]`.
    pub fn explicit(&self) -> Result<Tlv<'a>, DerError> {
        let mut inner = self.inner()?;
        let tlv = inner.read()?;
        inner.finish()?;
        Ok(tlv)
    }
}

/// A reader over a sequence of DER elements.
pub struct Der<'a> {
    rest: &'a [u8],
    depth: u8,
}

impl<'a> Der<'a> {
    /// Top level: depth 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Der {
            rest: buf,
            depth: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.rest;
        let (&tag, after_tag) = start.split_first().ok_or(DerError::Truncated("tag"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTag);
        }
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or(DerError::Truncated("length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DerError::IndefiniteLength);
        } else {
            let n = first & 0x7f;
            if n > 4 {
                return Err(DerError::LengthTooLong(n));
            }
            let (octets, tail) = after_len
                .split_at_checked(usize::from(n))
                .ok_or(DerError::Truncated("length octets"))?;
            after_len = tail;
            octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (content, tail) = after_len.split_at_checked(len).ok_or(DerError::Overrun {
            len,
            room: after_len.len(),
        })?;
        let used = start.len().saturating_sub(tail.len());
        let raw = start.get(..used).ok_or(DerError::Truncated("element"))?;
        self.rest = tail;
        Ok(Tlv {
            tag,
            content,
            raw,
            depth: self.depth,
        })
    }

    /// The next element, which must carry `tag`.
    pub fn read_tag(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        self.read()?.expect(tag)
    }

    /// The next element if it carries `tag`, else nothing (OPTIONAL fields).
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Everything must have been read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData(self.rest.len()))
        }
    }
}

/// The value of an ENUMERATED of one octet (negState).
pub fn enumerated_u8(tlv: Tlv<'_>) -> Result<u8, DerError> {
    match tlv.expect(TAG_ENUMERATED)?.content {
        [v] => Ok(*v),
        _ => Err(DerError::BadValue("ENUMERATED")),
    }
}

/// Encode one element.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len().saturating_add(6));
    out.push(tag);
    let len = content.len();
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(skip..).unwrap_or(&[]);
            // At most 8 octets for a usize, so the cast cannot truncate.
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    out.extend_from_slice(content);
    out
}

/// Encode an element whose contents are several encoded elements.
pub fn encode_parts(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    encode(tag, &parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let mut d = Der::new(&[0x04, 0x02, 0xaa, 0xbb, 0x04, 0x81, 0x01, 0xcc]);
        let a = d.read().unwrap();
        assert_eq!(
            (a.tag, a.content, a.raw),
            (4, &[0xaa, 0xbb][..], &[4, 2, 0xaa, 0xbb][..])
        );
        let b = d.read().unwrap();
        assert_eq!(b.content, &[0xcc]);
        assert_eq!(b.raw, &[0x04, 0x81, 0x01, 0xcc]);
        assert!(d.is_empty());
    }

    #[test]
    fn indefinite_length_is_refused() {
        let mut d = Der::new(&[0x30, 0x80, 0x04, 0x00, 0x00, 0x00]);
        assert_eq!(d.read().unwrap_err(), DerError::IndefiniteLength);
    }

    #[test]
    fn length_beyond_parent_is_refused() {
        // The outer SEQUENCE claims 3 bytes; the OCTET STRING inside claims 5.
        let mut d = Der::new(&[0x30, 0x03, 0x04, 0x05, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        let seq = d.read().unwrap();
        let err = seq.inner().unwrap().read().unwrap_err();
        assert_eq!(err, DerError::Overrun { len: 5, room: 1 });
        // A 4-octet length near u32::MAX against a short buffer.
        let mut d = Der::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(d.read(), Err(DerError::Overrun { .. })));
        let mut d = Der::new(&[0x04, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(d.read().unwrap_err(), DerError::LengthTooLong(9));
    }

    #[test]
    fn deep_nesting_is_refused() {
        // 20 nested SEQUENCEs.
        let mut enc = Vec::new();
        for _ in 0..20 {
            enc = encode(TAG_SEQUENCE, &enc);
        }
        let mut tlv = Der::new(&enc).read().unwrap();
        let mut depth = 0;
        let err = loop {
            match tlv.inner() {
                Ok(mut inner) => match inner.read() {
                    Ok(t) => {
                        tlv = t;
                        depth += 1;
                    }
                    Err(e) => break e,
                },
                Err(e) => break e,
            }
        };
        assert_eq!(err, DerError::TooDeep);
        assert_eq!(depth, usize::from(MAX_DEPTH));
    }

    #[test]
    fn truncated_and_high_tags() {
        assert_eq!(
            Der::new(&[]).read().unwrap_err(),
            DerError::Truncated("tag")
        );
        assert_eq!(
            Der::new(&[0x30]).read().unwrap_err(),
            DerError::Truncated("length")
        );
        assert_eq!(
            Der::new(&[0x30, 0x82, 0x01]).read().unwrap_err(),
            DerError::Truncated("length octets")
        );
        assert_eq!(
            Der::new(&[0x1f, 0x01, 0x00]).read().unwrap_err(),
            DerError::HighTag
        );
    }

    #[test]
    fn encode_lengths() {
        assert_eq!(encode(4, &[]), vec![4, 0]);
        assert_eq!(encode(4, &[1; 0x7f])[..2], [4, 0x7f]);
        assert_eq!(encode(4, &[1; 0x80])[..3], [4, 0x81, 0x80]);
        assert_eq!(encode(4, &[1; 0x176])[..4], [4, 0x82, 0x01, 0x76]);
    }
}

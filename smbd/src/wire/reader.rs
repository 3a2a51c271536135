//! A reader over a shrinking slice (after rustls's codec): every read is
//! checked, errors say what was missing, and `sub` gives a nested parser a
//! reader that cannot run past its parent's bounds.

use std::fmt;

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("message too short: {0} missing")]
    Missing(&'static str),
    #[error("{what}: offset {offset} length {len} lies outside the {size}-byte message")]
    OutOfBounds {
        what: &'static str,
        offset: usize,
        len: usize,
        size: usize,
    },
    #[error("{what}: {value} is not allowed ({why})")]
    Invalid {
        what: &'static str,
        value: u64,
        why: &'static str,
    },
    #[error("{0}: not valid UTF-16")]
    BadString(&'static str),
    #[error("{what}: {len} exceeds the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
}

#[derive(Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader({} bytes left)", self.buf.len())
    }
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn left(&self) -> usize {
        self.buf.len()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Missing(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), WireError> {
        self.take(n, what).map(|_| ())
    }

    /// A reader over the next `n` bytes; this one moves past them.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, WireError> {
        self.take(n, what).map(Reader::new)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
}

/// The `len` bytes at `offset` of `msg` (offsets in SMB2 bodies count from
/// the start of the SMB2 header), checked.
pub fn slice_at<'a>(
    msg: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], WireError> {
    offset
        .checked_add(len)
        .and_then(|end| msg.get(offset..end))
        .ok_or(WireError::OutOfBounds {
            what,
            offset,
            len,
            size: msg.len(),
        })
}

/// Appends little-endian values; the writing half of the codecs.
pub trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    /// Zero bytes up to a multiple of `n` counted from `base`.
    fn pad_to(&mut self, base: usize, n: usize);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v)
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn pad_to(&mut self, base: usize, n: usize) {
        while !(self.len() - base).is_multiple_of(n) {
            self.push(0);
        }
    }
}

/// Overwrites a little-endian u32 at `at` (for lengths and offsets known
/// only after the data that follows them was written).
pub fn patch_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn patch_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let b = [1u8, 2, 3, 4, 5, 6, 7];
        let mut r = Reader::new(&b);
        assert_eq!(r.u16("a").unwrap(), 0x0201);
        let mut s = r.sub(3, "sub").unwrap();
        assert_eq!(s.u8("x").unwrap(), 3);
        assert_eq!(
            s.u32("past the sub"),
            Err(WireError::Missing("past the sub"))
        );
        assert_eq!(r.u16("b").unwrap(), 0x0706);
        assert_eq!(r.u8("c"), Err(WireError::Missing("c")));
    }

    #[test]
    fn slices_at_offsets() {
        let m = [0u8; 10];
        assert_eq!(slice_at(&m, 8, 2, "x").unwrap().len(), 2);
        assert!(slice_at(&m, 8, 3, "x").is_err());
        assert!(slice_at(&m, usize::MAX, 2, "x").is_err());
    }
}

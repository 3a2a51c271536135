//! A little-endian reader over a shrinking slice (the rustls `Reader` shape).
//!
//! Every read either returns the bytes asked for or an error naming what was
//! missing; `sub(len)` hands out a bounded reader so a nested parser cannot
//! read past its parent. Nothing here indexes, so nothing here panics.

/// What a read came up short on: the name of the field, for the error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short(pub &'static str);

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { rest: buf }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or(Short(what))?;
        self.rest = tail;
        Ok(head)
    }

    /// A reader over the next `len` bytes; this reader moves past them.
    pub fn sub(&mut self, len: usize, what: &'static str) -> Result<Reader<'a>, Short> {
        self.take(len, what).map(Reader::new)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Short> {
        let head = self.take(N, what)?;
        <[u8; N]>::try_from(head).map_err(|_| Short(what))
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Everything not read yet; the reader is empty afterwards.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// `buf[offset..offset + len]` for an offset/length pair taken off the wire,
/// or `None` when it does not lie inside `buf` (including u32 overflow).
pub fn slice_at(buf: &[u8], offset: u32, len: u16) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::from(len))?;
    buf.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_reports_the_missing_field() {
        let mut r = Reader::new(&[1, 2, 0, 3, 0, 0, 0, 9]);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(r.u16("b"), Ok(2));
        assert_eq!(r.u32("c"), Ok(3));
        assert_eq!(r.u16("d"), Err(Short("d")));
        // A failed read consumes nothing.
        assert_eq!(r.rest(), &[9]);
        assert!(r.is_empty());
    }

    #[test]
    fn sub_reader_is_bounded() {
        let mut r = Reader::new(&[1, 2, 3, 4]);
        let mut s = r.sub(2, "inner").unwrap();
        assert_eq!(s.u16("x"), Ok(0x0201));
        assert_eq!(s.u8("y"), Err(Short("y")));
        assert_eq!(r.remaining(), 2);
        assert!(r.sub(3, "too long").is_err());
    }

    #[test]
    fn slice_at_checks_bounds_and_overflow() {
        let buf = [0u8; 8];
        assert_eq!(slice_at(&buf, 4, 4), Some(&buf[4..8]));
        assert_eq!(slice_at(&buf, 5, 4), None);
        assert_eq!(slice_at(&buf, u32::MAX, 0xffff), None);
        assert_eq!(slice_at(&buf, 8, 0), Some(&buf[8..8]));
    }
}

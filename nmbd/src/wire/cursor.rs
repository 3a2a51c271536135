//! A bounded reader and a bounded writer for the datagram and browser
//! codecs (after rustls's codec): every read is checked and says what was
//! missing, `sub` hands a nested parser a reader that cannot run past its
//! parent's bounds, and the writer refuses to run past its buffer.
//!
//! NetBIOS headers are big-endian, SMB and browser bodies little-endian;
//! each accessor names its byte order.

use std::fmt;

/// What ran out: the field being read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short(pub &'static str);

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

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        if self.buf.len() < n {
            return Err(Short(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// A reader over the next `n` bytes; this one moves past them.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, Short> {
        self.take(n, what).map(Reader::new)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Short> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u16_be(&mut self, what: &'static str) -> Result<u16, Short> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Bytes up to a NUL (consumed, not returned) or, when the field is
    /// unterminated, up to the end of this reader: a sender that fills a
    /// field to the last byte of the datagram still gets its string read,
    /// never more than the datagram holds.
    pub fn cstr(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|&b| b == 0) {
            Some(n) => {
                let s = &self.buf[..n];
                self.buf = &self.buf[n + 1..];
                s
            }
            None => {
                let s = self.buf;
                self.buf = &[];
                s
            }
        }
    }
}

/// Writes into a caller's buffer; every put is checked.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn bytes(&mut self, b: &[u8], what: &'static str) -> Result<(), Short> {
        let end = self.pos.checked_add(b.len()).ok_or(Short(what))?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Short(what))?
            .copy_from_slice(b);
        self.pos = end;
        Ok(())
    }

    pub fn u8(&mut self, v: u8, what: &'static str) -> Result<(), Short> {
        self.bytes(&[v], what)
    }

    pub fn u16_le(&mut self, v: u16, what: &'static str) -> Result<(), Short> {
        self.bytes(&v.to_le_bytes(), what)
    }

    pub fn u16_be(&mut self, v: u16, what: &'static str) -> Result<(), Short> {
        self.bytes(&v.to_be_bytes(), what)
    }

    pub fn u32_le(&mut self, v: u32, what: &'static str) -> Result<(), Short> {
        self.bytes(&v.to_le_bytes(), what)
    }

    /// Overwrites two bytes written earlier (a length known only later).
    pub fn patch_u16_be(&mut self, at: usize, v: u16, what: &'static str) -> Result<(), Short> {
        self.buf
            .get_mut(at..at + 2)
            .ok_or(Short(what))?
            .copy_from_slice(&v.to_be_bytes());
        Ok(())
    }

    pub fn patch_u16_le(&mut self, at: usize, v: u16, what: &'static str) -> Result<(), Short> {
        self.buf
            .get_mut(at..at + 2)
            .ok_or(Short(what))?
            .copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
}

/// Browser strings are in the DOS code page; we map bytes 1:1 to
/// U+0000..U+00FF (Latin-1) so nothing is lost and ASCII, which is all
/// Samba and Windows put in NetBIOS names, reads as itself.
pub fn oem_to_string(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// The reverse of [`oem_to_string`]; a character outside Latin-1 becomes '?'.
pub fn string_to_oem(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

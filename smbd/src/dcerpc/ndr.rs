//! NDR 2.0 (C706 chapter 14), little-endian, as the srvsvc and wkssvc stubs
//! use it: primitives aligned to their size relative to the start of the
//! stub, unique pointers as referent ids with the referent deferred,
//! conformant arrays, and conformant varying UTF-16 strings.
//!
//! Structures that hold pointers are coded in two passes, as NDR lays them
//! out: first the scalars of the structure (or of every element of an
//! array), then the referents those pointers point to, in the same order.
//! [`NdrStruct`] captures that split so arrays and pointers can be coded
//! once for every structure.
//!
//! The reader works over a shrinking slice: every read takes bytes off the
//! front, so no code here indexes into the stub. Counts are checked against
//! the bytes that remain before anything is allocated for them.

use super::PipeError;

/// The longest string we accept in a stub, in UTF-16 code units including
/// the terminator (share names are at most 80, comments 256 on Windows).
pub const MAX_STRING_UNITS: u32 = 16 * 1024;

/// The most elements we accept in one conformant array.
pub const MAX_ARRAY_ELEMENTS: u32 = 64 * 1024;

/// The first referent id we hand out; every further pointer takes the next
/// multiple of 4, as Samba and Windows do.
const FIRST_REFERENT_ID: u32 = 0x0002_0000;

/// A cursor over a stub (or a PDU body) that only moves forward.
#[derive(Debug, Clone)]
pub struct NdrReader<'a> {
    rest: &'a [u8],
    /// Bytes consumed since the origin alignment is measured from.
    offset: usize,
}

impl<'a> NdrReader<'a> {
    /// A reader over a stub; alignment is relative to its first byte.
    pub fn new(stub: &'a [u8]) -> NdrReader<'a> {
        NdrReader::at(stub, 0)
    }

    /// A reader over `buf`, which starts `offset` bytes after the origin
    /// that alignment is measured from (PDU bodies start at 16).
    pub fn at(buf: &'a [u8], offset: usize) -> NdrReader<'a> {
        NdrReader { rest: buf, offset }
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PipeError> {
        if n > self.rest.len() {
            return Err(PipeError::MissingData(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        self.offset += n;
        Ok(head)
    }

    /// Skips the padding up to the next multiple of `n` (a power of two).
    pub fn align(&mut self, n: usize, what: &'static str) -> Result<(), PipeError> {
        let pad = (n - self.offset % n) % n;
        self.take(pad, what).map(|_| ())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PipeError> {
        <[u8; N]>::try_from(self.take(N, what)?).map_err(|_| PipeError::MissingData(what))
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, PipeError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, PipeError> {
        self.align(2, what)?;
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, PipeError> {
        self.align(4, what)?;
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Sixteen bytes without alignment (a UUID inside a PDU body).
    pub fn bytes16(&mut self, what: &'static str) -> Result<[u8; 16], PipeError> {
        self.array(what)
    }

    /// A unique (or full) pointer: its referent id; `true` when not NULL.
    /// The referent follows later, when the caller reads the deferred part.
    pub fn pointer(&mut self, what: &'static str) -> Result<bool, PipeError> {
        Ok(self.u32(what)? != 0)
    }

    /// A conformant varying string of UTF-16 code units, NUL-terminated
    /// (`[string] wchar_t *`): maximum count, offset, actual count, units.
    /// Offset must be 0 and the actual count must include the terminator
    /// and no other NUL; the maximum count may be larger (a buffer size).
    pub fn string(&mut self, what: &'static str) -> Result<String, PipeError> {
        let max_count = self.u32(what)?;
        let offset = self.u32(what)?;
        let actual_count = self.u32(what)?;
        if offset != 0 {
            return Err(PipeError::Invalid {
                what,
                value: offset.into(),
            });
        }
        if actual_count > max_count {
            return Err(PipeError::Invalid {
                what,
                value: actual_count.into(),
            });
        }
        if actual_count > MAX_STRING_UNITS {
            return Err(PipeError::TooLarge {
                what,
                got: actual_count.into(),
                limit: MAX_STRING_UNITS.into(),
            });
        }
        // Bounded above; take() checks that the bytes are really there
        // before anything is decoded.
        let bytes = self.take(actual_count as usize * 2, what)?;
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| {
                <[u8; 2]>::try_from(c)
                    .map(u16::from_le_bytes)
                    .unwrap_or_default()
            })
            .collect();
        match units.split_last() {
            Some((0, text)) if !text.contains(&0) => {
                String::from_utf16(text).map_err(|_| PipeError::BadString(what))
            }
            _ => Err(PipeError::BadString(what)),
        }
    }

    /// A string behind a unique pointer whose referent id was read earlier.
    pub fn deferred_string(
        &mut self,
        present: bool,
        what: &'static str,
    ) -> Result<Option<String>, PipeError> {
        if present {
            self.string(what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The conformance (maximum count) of a conformant array whose size is
    /// given by `count`, checked against it, against our limit and against
    /// the bytes left, each element taking at least `min_element` bytes.
    pub fn conformance(
        &mut self,
        count: u32,
        min_element: usize,
        what: &'static str,
    ) -> Result<usize, PipeError> {
        let max_count = self.u32(what)?;
        if max_count != count {
            return Err(PipeError::Invalid {
                what,
                value: max_count.into(),
            });
        }
        if max_count > MAX_ARRAY_ELEMENTS {
            return Err(PipeError::TooLarge {
                what,
                got: max_count.into(),
                limit: MAX_ARRAY_ELEMENTS.into(),
            });
        }
        let n = max_count as usize;
        if n.saturating_mul(min_element.max(1)) > self.remaining() {
            return Err(PipeError::MissingData(what));
        }
        Ok(n)
    }
}

/// Builds a stub (or a PDU body); alignment is relative to its first byte.
#[derive(Debug)]
pub struct NdrWriter {
    buf: Vec<u8>,
    next_referent: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        NdrWriter::new()
    }
}

impl NdrWriter {
    pub fn new() -> NdrWriter {
        NdrWriter {
            buf: Vec::new(),
            next_referent: FIRST_REFERENT_ID,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Zero padding up to the next multiple of `n` (a power of two).
    pub fn align(&mut self, n: usize) {
        while self.buf.len() & (n - 1) != 0 {
            self.buf.push(0);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A unique pointer: a fresh referent id, or 0 for NULL. The caller
    /// writes the referent later, with the deferred part.
    pub fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent = self.next_referent.wrapping_add(4);
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// A conformant varying NUL-terminated UTF-16 string.
    pub fn string(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
        let count = u32::try_from(units.len()).unwrap_or(u32::MAX);
        self.u32(count);
        self.u32(0);
        self.u32(count);
        for unit in units {
            self.buf.extend_from_slice(&unit.to_le_bytes());
        }
    }

    /// The referent of a unique string pointer written earlier.
    pub fn deferred_string(&mut self, s: &Option<String>) {
        if let Some(s) = s {
            self.string(s);
        }
    }
}

/// A structure that NDR codes in two passes: scalars, then the referents of
/// its pointers.
///
/// `Scalars` is what the first pass learns. Most structures use `Self`,
/// with each non-NULL string pointer read as `Some(String::new())` and
/// filled in by [`NdrStruct::read_deferred`] ([`NdrReader::fill_string`]).
pub trait NdrStruct: Sized {
    /// The fewest bytes the scalar part takes, to bound array counts.
    const MIN_SCALARS: usize;
    type Scalars;
    fn read_scalars(r: &mut NdrReader<'_>) -> Result<Self::Scalars, PipeError>;
    fn read_deferred(r: &mut NdrReader<'_>, s: Self::Scalars) -> Result<Self, PipeError>;
    fn write_scalars(&self, w: &mut NdrWriter);
    fn write_deferred(&self, w: &mut NdrWriter);
}

impl NdrReader<'_> {
    /// A unique string pointer in the scalar pass: `Some("")` stands for a
    /// referent still to be read.
    pub fn string_pointer(&mut self, what: &'static str) -> Result<Option<String>, PipeError> {
        Ok(self.pointer(what)?.then(String::new))
    }

    /// The deferred pass for a pointer read by [`NdrReader::string_pointer`].
    pub fn fill_string(
        &mut self,
        slot: Option<String>,
        what: &'static str,
    ) -> Result<Option<String>, PipeError> {
        self.deferred_string(slot.is_some(), what)
    }
}

/// A conformant array of `count` structures (the referent of a pointer):
/// conformance, every element's scalars, then every element's referents.
pub fn read_array<T: NdrStruct>(
    r: &mut NdrReader<'_>,
    count: u32,
    what: &'static str,
) -> Result<Vec<T>, PipeError> {
    let n = r.conformance(count, T::MIN_SCALARS, what)?;
    let mut scalars = Vec::with_capacity(n);
    for _ in 0..n {
        scalars.push(T::read_scalars(r)?);
    }
    scalars
        .into_iter()
        .map(|s| T::read_deferred(r, s))
        .collect()
}

pub fn write_array<T: NdrStruct>(w: &mut NdrWriter, items: &[T]) {
    w.u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
    for item in items {
        item.write_scalars(w);
    }
    for item in items {
        item.write_deferred(w);
    }
}

/// The referent of a unique pointer to a structure: its scalars, then its
/// own referents.
pub fn read_pointee<T: NdrStruct>(
    r: &mut NdrReader<'_>,
    present: bool,
) -> Result<Option<T>, PipeError> {
    if !present {
        return Ok(None);
    }
    let s = T::read_scalars(r)?;
    T::read_deferred(r, s).map(Some)
}

pub fn write_pointee<T: NdrStruct>(w: &mut NdrWriter, value: &Option<T>) {
    if let Some(v) = value {
        v.write_scalars(w);
        v.write_deferred(w);
    }
}

/// A union arm that is a unique pointer to a structure (pointer, then, as
/// the union is the whole parameter, its referent right after).
pub fn read_pointer_arm<T: NdrStruct>(
    r: &mut NdrReader<'_>,
    what: &'static str,
) -> Result<Option<T>, PipeError> {
    let present = r.pointer(what)?;
    read_pointee(r, present)
}

pub fn write_pointer_arm<T: NdrStruct>(w: &mut NdrWriter, value: &Option<T>) {
    w.pointer(value.is_some());
    write_pointee(w, value);
}

/// A unique pointer to a u32 (resume handles), referent right after.
pub fn read_u32_pointer(
    r: &mut NdrReader<'_>,
    what: &'static str,
) -> Result<Option<u32>, PipeError> {
    if r.pointer(what)? {
        r.u32(what).map(Some)
    } else {
        Ok(None)
    }
}

pub fn write_u32_pointer(w: &mut NdrWriter, value: Option<u32>) {
    w.pointer(value.is_some());
    if let Some(v) = value {
        w.u32(v);
    }
}

/// A top-level unique string parameter (`[in,unique,string] wchar_t *`).
pub fn read_string_pointer(
    r: &mut NdrReader<'_>,
    what: &'static str,
) -> Result<Option<String>, PipeError> {
    let present = r.pointer(what)?;
    r.deferred_string(present, what)
}

pub fn write_string_pointer(w: &mut NdrWriter, value: &Option<String>) {
    w.pointer(value.is_some());
    w.deferred_string(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_round_trip_and_alignment() {
        let mut w = NdrWriter::new();
        w.u8(7);
        w.string("ab");
        w.u32(0x1122_3344);
        let bytes = w.into_bytes();
        assert_eq!(
            bytes,
            [
                7, 0, 0, 0, // u8 and padding to 4
                3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // max, offset, actual
                b'a', 0, b'b', 0, 0, 0, // units and terminator
                0, 0, // padding
                0x44, 0x33, 0x22, 0x11,
            ]
        );
        let mut r = NdrReader::new(&bytes);
        assert_eq!(r.u8("u8"), Ok(7));
        assert_eq!(r.string("s").as_deref(), Ok("ab"));
        assert_eq!(r.u32("u32"), Ok(0x1122_3344));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn strings_that_are_refused() {
        // No terminator.
        let b = [2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'b', 0];
        assert_eq!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::BadString("s"))
        );
        // A NUL in the middle.
        let b = [3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', 0, 0, 0, 0, 0];
        assert_eq!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::BadString("s"))
        );
        // An unpaired surrogate.
        let b = [2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0x00, 0xd8, 0, 0];
        assert_eq!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::BadString("s"))
        );
        // Offset other than 0.
        let b = [2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        assert!(matches!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::Invalid { .. })
        ));
        // Actual count above the maximum count.
        let b = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0];
        assert!(matches!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::Invalid { .. })
        ));
        // Empty string without even the terminator.
        let b = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::BadString("s"))
        );
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        // A string claiming 2^31 units with 4 bytes behind it.
        let b = [
            0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, b'a', 0, 0, 0,
        ];
        assert!(matches!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::TooLarge { .. })
        ));
        // Within our limit but longer than the data.
        let b = [0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, b'a', 0, 0, 0];
        assert_eq!(
            NdrReader::new(&b).string("s"),
            Err(PipeError::MissingData("s"))
        );
        // An array conformance beyond the limit, and one beyond the data.
        let b = [0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            NdrReader::new(&b).conformance(u32::MAX, 4, "a"),
            Err(PipeError::TooLarge { .. })
        ));
        let b = [0, 0x01, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            NdrReader::new(&b).conformance(0x100, 4, "a"),
            Err(PipeError::MissingData("a"))
        );
        // Conformance that disagrees with the count field.
        let b = [2, 0, 0, 0];
        assert!(matches!(
            NdrReader::new(&b).conformance(1, 4, "a"),
            Err(PipeError::Invalid { .. })
        ));
    }

    #[test]
    fn truncated_primitives() {
        assert_eq!(
            NdrReader::new(&[1, 2, 3]).u32("x"),
            Err(PipeError::MissingData("x"))
        );
        let mut r = NdrReader::new(&[1, 0, 0]);
        assert_eq!(r.u8("a"), Ok(1));
        // Padding to 4 is missing.
        assert_eq!(r.u32("b"), Err(PipeError::MissingData("b")));
    }

    #[test]
    fn referent_ids_count_up_from_0x20000() {
        let mut w = NdrWriter::new();
        w.pointer(true);
        w.pointer(false);
        w.pointer(true);
        assert_eq!(w.into_bytes(), [0, 0, 2, 0, 0, 0, 0, 0, 4, 0, 2, 0]);
    }
}

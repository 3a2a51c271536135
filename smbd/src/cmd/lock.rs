//! LOCK (MS-SMB2 2.2.26/27).
//!
//! ```text
//! request:  0 StructureSize (48)  2 LockCount  4 LockSequenceNumber/Index
//!           8 FileId (16)  24 Locks (24 each: Offset, Length, Flags, Reserved)
//! response: 0 StructureSize (4)  2 Reserved
//! ```

use crate::ntvfs::{LockElement, LockIn};
use crate::wire::reader::{Put, WireError};

pub const MAX_LOCKS: usize = 64;

pub fn parse(msg: &[u8]) -> Result<LockIn, WireError> {
    let mut r = super::body(msg, 48, "LOCK")?;
    let count = r.u16("LOCK LockCount")? as usize;
    let lock_sequence = r.u32("LOCK LockSequence")?;
    let file_id = super::file_id(&mut r)?;
    if count == 0 {
        return Err(WireError::Invalid {
            what: "LOCK LockCount",
            value: 0,
            why: "at least one lock",
        });
    }
    if count > MAX_LOCKS {
        return Err(WireError::TooLarge {
            what: "LOCK LockCount",
            len: count,
            max: MAX_LOCKS,
        });
    }
    let mut locks = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = r.u64("LOCK Offset")?;
        let length = r.u64("LOCK Length")?;
        let flags = r.u32("LOCK Flags")?;
        r.skip(4, "LOCK Reserved")?;
        locks.push(LockElement {
            offset,
            length,
            flags,
        });
    }
    Ok(LockIn {
        file_id,
        lock_sequence,
        locks,
    })
}

pub fn emit(out: &mut Vec<u8>) {
    out.u16(4);
    out.u16(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_checked() {
        let mut m = vec![0u8; 64];
        m.extend_from_slice(&48u16.to_le_bytes());
        m.extend_from_slice(&2u16.to_le_bytes()); // two locks, one present
        m.extend_from_slice(&[0; 4 + 16]);
        m.extend_from_slice(&[0; 24]);
        assert!(parse(&m).is_err());
        m.extend_from_slice(&[0; 24]);
        assert_eq!(parse(&m).unwrap().locks.len(), 2);
    }
}

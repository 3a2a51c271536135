//! OPLOCK_BREAK (MS-SMB2 2.2.23-25): the server's notification, the
//! client's acknowledgment and the server's response share one layout.
//!
//! ```text
//!  0 StructureSize (24)  2 OplockLevel  3 Reserved  4 Reserved2  8 FileId (16)
//! ```

use crate::ntvfs::{FileId, OplockBreakIn, OplockLevel};
use crate::wire::reader::{Put, WireError};

pub fn parse(msg: &[u8]) -> Result<OplockBreakIn, WireError> {
    let mut r = super::body(msg, 24, "OPLOCK_BREAK")?;
    let level = OplockLevel::from_wire(r.u8("OPLOCK_BREAK OplockLevel")?);
    r.skip(5, "OPLOCK_BREAK Reserved")?;
    Ok(OplockBreakIn {
        file_id: super::file_id(&mut r)?,
        level,
    })
}

pub fn emit(level: OplockLevel, file_id: FileId, out: &mut Vec<u8>) {
    out.u16(24);
    out.u8(level.to_wire());
    out.u8(0);
    out.u32(0);
    super::put_file_id(out, file_id);
}

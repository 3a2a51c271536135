//! FLUSH (MS-SMB2 2.2.17/18).
//!
//! ```text
//! request:  0 StructureSize (24)  2 Reserved1  4 Reserved2  8 FileId (16)
//! response: 0 StructureSize (4)   2 Reserved
//! ```

use crate::ntvfs::FlushIn;
use crate::wire::reader::{Put, WireError};

pub fn parse(msg: &[u8]) -> Result<FlushIn, WireError> {
    let mut r = super::body(msg, 24, "FLUSH")?;
    r.skip(2, "FLUSH Reserved1")?;
    r.skip(4, "FLUSH Reserved2")?;
    Ok(FlushIn {
        file_id: super::file_id(&mut r)?,
    })
}

pub fn emit(out: &mut Vec<u8>) {
    out.u16(4);
    out.u16(0);
}

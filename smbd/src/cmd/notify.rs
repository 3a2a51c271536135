//! CHANGE_NOTIFY (MS-SMB2 2.2.35/36); the response has QUERY_DIRECTORY's
//! layout.
//!
//! ```text
//! request:  0 StructureSize (32)  2 Flags  4 OutputBufferLength  8 FileId (16)
//!          24 CompletionFilter  28 Reserved
//! ```

use crate::ntvfs::NotifyIn;
use crate::wire::reader::WireError;

pub const WATCH_TREE: u16 = 0x0001;

pub fn parse(msg: &[u8]) -> Result<NotifyIn, WireError> {
    let mut r = super::body(msg, 32, "CHANGE_NOTIFY")?;
    let flags = r.u16("CHANGE_NOTIFY Flags")?;
    let max_output = r.u32("CHANGE_NOTIFY OutputBufferLength")?;
    let file_id = super::file_id(&mut r)?;
    let filter = r.u32("CHANGE_NOTIFY CompletionFilter")?;
    Ok(NotifyIn {
        file_id,
        watch_tree: flags & WATCH_TREE != 0,
        filter,
        max_output,
    })
}

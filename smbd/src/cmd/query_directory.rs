//! QUERY_DIRECTORY (MS-SMB2 2.2.33/34).
//!
//! ```text
//! request:  0 StructureSize (33)  2 FileInformationClass  3 Flags
//!           4 FileIndex  8 FileId (16)  24 FileNameOffset  26 FileNameLength
//!          28 OutputBufferLength  32 Buffer
//! response: 0 StructureSize (9)  2 OutputBufferOffset  4 OutputBufferLength
//!           8 Buffer
//! ```

use crate::ntvfs::{DirInfoClass, QueryDirIn};
use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, WireError};
use crate::wire::strings::utf16_to_string;

pub fn parse(msg: &[u8]) -> Result<QueryDirIn, WireError> {
    let mut r = super::body(msg, 33, "QUERY_DIRECTORY")?;
    let class_raw = r.u8("QUERY_DIRECTORY FileInformationClass")?;
    let flags = r.u8("QUERY_DIRECTORY Flags")?;
    let file_index = r.u32("QUERY_DIRECTORY FileIndex")?;
    let file_id = super::file_id(&mut r)?;
    let off = r.u16("QUERY_DIRECTORY FileNameOffset")? as usize;
    let len = r.u16("QUERY_DIRECTORY FileNameLength")? as usize;
    let max_output = r.u32("QUERY_DIRECTORY OutputBufferLength")?;
    let class = DirInfoClass::from_wire(class_raw).ok_or(WireError::Invalid {
        what: "QUERY_DIRECTORY FileInformationClass",
        value: class_raw.into(),
        why: "not a directory information class",
    })?;
    let pattern = utf16_to_string(
        super::buffer(msg, off, len, "QUERY_DIRECTORY pattern")?,
        "QUERY_DIRECTORY pattern",
    )?;
    Ok(QueryDirIn {
        class,
        flags,
        file_index,
        file_id,
        pattern,
        max_output,
    })
}

/// Emits a response carrying `data` (the encoded entries); also used by
/// QUERY_INFO and CHANGE_NOTIFY, which share this layout.
pub fn emit_buffer(data: &[u8], out: &mut Vec<u8>) {
    out.u16(9); //                                          0
    out.u16(if data.is_empty() {
        0
    } else {
        (HEADER_LEN + 8) as u16
    }); // 2
    out.u32(data.len() as u32); //                          4
    if data.is_empty() {
        out.u8(0);
    } else {
        out.extend_from_slice(data); //                     8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_ls() {
        let q = parse(&testdata::first(Command::QUERY_DIRECTORY, false)).unwrap();
        assert_eq!(q.class, DirInfoClass::IdBothDirectory);
        assert_eq!(q.pattern, "*");
        let rsp = testdata::first(Command::QUERY_DIRECTORY, true);
        let len = u32::from_le_bytes(rsp[68..72].try_into().unwrap()) as usize;
        let mut out = vec![];
        emit_buffer(&rsp[72..72 + len], &mut out);
        assert_eq!(out, rsp[64..]);
    }
}

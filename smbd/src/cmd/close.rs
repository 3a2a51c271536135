//! CLOSE (MS-SMB2 2.2.15/16).
//!
//! ```text
//! request:  0 StructureSize (24)  2 Flags  4 Reserved  8 FileId (16)
//! response: 0 StructureSize (60)  2 Flags  4 Reserved  8 CreationTime
//!          16 LastAccessTime 24 LastWriteTime 32 ChangeTime 40 AllocationSize
//!          48 EndofFile 56 FileAttributes
//! ```

use crate::ntvfs::{CloseIn, CloseOut};
use crate::wire::reader::{Put, WireError};

pub const POSTQUERY_ATTRIB: u16 = 0x0001;

pub fn parse(msg: &[u8]) -> Result<CloseIn, WireError> {
    let mut r = super::body(msg, 24, "CLOSE")?;
    let flags = r.u16("CLOSE Flags")?;
    r.skip(4, "CLOSE Reserved")?;
    Ok(CloseIn {
        file_id: super::file_id(&mut r)?,
        postquery: flags & POSTQUERY_ATTRIB != 0,
    })
}

pub fn emit(o: &CloseOut, out: &mut Vec<u8>) {
    let i = o.info.unwrap_or_default();
    out.u16(60); //                                              0
    out.u16(if o.info.is_some() {
        POSTQUERY_ATTRIB
    } else {
        0
    }); // 2
    out.u32(0); //                                               4
    out.u64(i.creation_time); //                                 8
    out.u64(i.last_access_time); //                             16
    out.u64(i.last_write_time); //                              24
    out.u64(i.change_time); //                                  32
    out.u64(i.allocation_size); //                              40
    out.u64(i.end_of_file); //                                  48
    out.u32(i.attributes); //                                   56
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn captured_close() {
        let req = testdata::first(Command::CLOSE, false);
        let c = parse(&req).unwrap();
        assert_ne!(c.file_id.volatile, 0);
        let rsp = testdata::first(Command::CLOSE, true);
        assert_eq!(rsp.len(), 64 + 60);
        let mut out = vec![];
        emit(&CloseOut { info: None }, &mut out);
        assert_eq!(out.len(), 60);
    }
}

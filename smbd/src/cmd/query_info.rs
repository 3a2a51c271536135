//! QUERY_INFO (MS-SMB2 2.2.37/38); the response has QUERY_DIRECTORY's
//! layout.
//!
//! ```text
//! request:  0 StructureSize (41)  2 InfoType  3 FileInfoClass
//!           4 OutputBufferLength  8 InputBufferOffset  10 Reserved
//!          12 InputBufferLength  16 AdditionalInformation  20 Flags
//!          24 FileId (16)  40 Buffer
//! ```

use crate::ntvfs::info::{FileInfoClass, FsInfoClass};
use crate::ntvfs::{InfoRequest, QueryInfoIn};
use crate::wire::reader::WireError;

pub mod info_type {
    pub const FILE: u8 = 1;
    pub const FILESYSTEM: u8 = 2;
    pub const SECURITY: u8 = 3;
    pub const QUOTA: u8 = 4;
}

pub fn parse(msg: &[u8]) -> Result<QueryInfoIn, WireError> {
    let mut r = super::body(msg, 41, "QUERY_INFO")?;
    let itype = r.u8("QUERY_INFO InfoType")?;
    let class = r.u8("QUERY_INFO FileInfoClass")?;
    let output_buffer_length = r.u32("QUERY_INFO OutputBufferLength")?;
    let in_off = r.u16("QUERY_INFO InputBufferOffset")? as usize;
    r.skip(2, "QUERY_INFO Reserved")?;
    let in_len = r.u32("QUERY_INFO InputBufferLength")? as usize;
    let additional = r.u32("QUERY_INFO AdditionalInformation")?;
    let flags = r.u32("QUERY_INFO Flags")?;
    let file_id = super::file_id(&mut r)?;
    let input = super::buffer(msg, in_off, in_len, "QUERY_INFO input")?.to_vec();
    let request = match itype {
        info_type::FILE => InfoRequest::File(FileInfoClass::from_wire(class)),
        info_type::FILESYSTEM => InfoRequest::Fs(FsInfoClass::from_wire(class)),
        info_type::SECURITY => InfoRequest::Security(additional),
        _ => InfoRequest::Other {
            info_type: itype,
            class,
        },
    };
    Ok(QueryInfoIn {
        file_id,
        request,
        output_buffer_length,
        flags,
        input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_queries() {
        let reqs: Vec<_> = (0..4)
            .map(|n| parse(&testdata::nth(Command::QUERY_INFO, false, n)).unwrap())
            .collect();
        assert!(
            reqs.iter()
                .any(|q| q.request == InfoRequest::Fs(FsInfoClass::Size)
                    || q.request == InfoRequest::Fs(FsInfoClass::FullSize)),
            "{reqs:?}"
        );
        assert!(
            reqs.iter()
                .any(|q| q.request == InfoRequest::File(FileInfoClass::All)),
            "{reqs:?}"
        );
    }
}

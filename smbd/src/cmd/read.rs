//! READ (MS-SMB2 2.2.19/20).
//!
//! ```text
//! request:  0 StructureSize (49)  2 Padding  3 Flags  4 Length  8 Offset
//!          16 FileId (16)  32 MinimumCount  36 Channel  40 RemainingBytes
//!          44 ReadChannelInfoOffset  46 ReadChannelInfoLength  48 Buffer
//! response: 0 StructureSize (17)  2 DataOffset  3 Reserved  4 DataLength
//!           8 DataRemaining  12 Reserved2  16 Buffer
//! ```

use crate::ntvfs::{ReadIn, ReadOut};
use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, WireError};

pub fn parse(msg: &[u8]) -> Result<ReadIn, WireError> {
    let mut r = super::body(msg, 49, "READ")?;
    r.skip(1, "READ Padding")?;
    let flags = r.u8("READ Flags")?;
    let length = r.u32("READ Length")?;
    let offset = r.u64("READ Offset")?;
    let file_id = super::file_id(&mut r)?;
    let minimum_count = r.u32("READ MinimumCount")?;
    let channel = r.u32("READ Channel")?;
    let remaining_bytes = r.u32("READ RemainingBytes")?;
    Ok(ReadIn {
        file_id,
        flags,
        offset,
        length,
        minimum_count,
        channel,
        remaining_bytes,
    })
}

/// The response body without its data (the data follows it directly, so
/// large reads are not copied once more).
pub fn emit_head(data_len: usize, remaining: u32, out: &mut Vec<u8>) {
    out.u16(17); //                          0
    out.u8((HEADER_LEN + 16) as u8); //       2 DataOffset
    out.u8(0); //                            3
    out.u32(data_len as u32); //             4
    out.u32(remaining); //                   8
    out.u32(0); //                          12
}

pub fn emit(o: &ReadOut, out: &mut Vec<u8>) {
    emit_head(o.data.len(), o.remaining, out);
    if o.data.is_empty() {
        out.u8(0);
    }
    out.extend_from_slice(&o.data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_get() {
        let req = parse(&testdata::first(Command::READ, false)).unwrap();
        assert_eq!(req.offset, 0);
        assert!(req.length >= 6);
        let rsp = testdata::first(Command::READ, true);
        let mut out = vec![];
        emit(
            &ReadOut {
                data: b"hello\n".to_vec(),
                remaining: 0,
                truncated: false,
            },
            &mut out,
        );
        assert_eq!(out, rsp[64..]);
    }
}

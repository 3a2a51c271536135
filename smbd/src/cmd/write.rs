//! WRITE (MS-SMB2 2.2.21/22).
//!
//! ```text
//! request:  0 StructureSize (49)  2 DataOffset  4 Length  8 Offset
//!          16 FileId (16)  32 Channel  36 RemainingBytes
//!          40 WriteChannelInfoOffset  42 WriteChannelInfoLength  44 Flags
//!          48 Buffer
//! response: 0 StructureSize (17)  2 Reserved  4 Count  8 Remaining
//!          12 WriteChannelInfoOffset  14 WriteChannelInfoLength
//! ```

use crate::ntvfs::{WriteIn, WriteOut};
use crate::wire::reader::{Put, WireError};

/// The data stays in the received message (no copy of up to 8 MiB).
pub fn parse(msg: &bytes::Bytes) -> Result<WriteIn, WireError> {
    let mut r = super::body(msg, 49, "WRITE")?;
    let data_off = r.u16("WRITE DataOffset")? as usize;
    let length = r.u32("WRITE Length")? as usize;
    let offset = r.u64("WRITE Offset")?;
    let file_id = super::file_id(&mut r)?;
    let channel = r.u32("WRITE Channel")?;
    let remaining_bytes = r.u32("WRITE RemainingBytes")?;
    r.skip(4, "WRITE WriteChannelInfo")?;
    let flags = r.u32("WRITE Flags")?;
    let data = msg.slice_ref(super::buffer(msg, data_off, length, "WRITE data")?);
    Ok(WriteIn {
        file_id,
        offset,
        channel,
        remaining_bytes,
        flags,
        data,
    })
}

pub fn emit(o: &WriteOut, out: &mut Vec<u8>) {
    out.u16(17); //         0
    out.u16(0); //          2
    out.u32(o.count); //    4
    out.u32(o.remaining); // 8
    out.u16(0); //         12
    out.u16(0); //         14
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_put() {
        let w = parse(&testdata::first(Command::WRITE, false).into()).unwrap();
        assert_eq!(w.offset, 0);
        assert!(!w.data.is_empty());
        let rsp = testdata::first(Command::WRITE, true);
        let mut out = vec![];
        emit(
            &WriteOut {
                count: w.data.len() as u32,
                remaining: 0,
            },
            &mut out,
        );
        assert_eq!(out, rsp[64..]);
        let mut bad = testdata::first(Command::WRITE, false);
        bad[64 + 4..64 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&bad.into()).is_err());
    }
}

//! IOCTL (MS-SMB2 2.2.31/32).
//!
//! ```text
//! request:  0 StructureSize (57)  2 Reserved  4 CtlCode  8 FileId (16)
//!          24 InputOffset  28 InputCount  32 MaxInputResponse  36 OutputOffset
//!          40 OutputCount  44 MaxOutputResponse  48 Flags  52 Reserved2
//!          56 Buffer
//! response: 0 StructureSize (49)  2 Reserved  4 CtlCode  8 FileId (16)
//!          24 InputOffset  28 InputCount  32 OutputOffset  36 OutputCount
//!          40 Flags  44 Reserved2  48 Buffer
//! ```

use crate::ntvfs::{FileId, IoctlIn, IoctlOut};
use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, WireError};

pub const IS_FSCTL: u32 = 0x0000_0001;

pub fn parse(msg: &[u8]) -> Result<IoctlIn, WireError> {
    let mut r = super::body(msg, 57, "IOCTL")?;
    r.skip(2, "IOCTL Reserved")?;
    let ctl_code = r.u32("IOCTL CtlCode")?;
    let file_id = super::file_id(&mut r)?;
    let in_off = r.u32("IOCTL InputOffset")? as usize;
    let in_len = r.u32("IOCTL InputCount")? as usize;
    let max_input_response = r.u32("IOCTL MaxInputResponse")?;
    r.skip(4, "IOCTL OutputOffset")?;
    let out_len = r.u32("IOCTL OutputCount")?;
    let max_output_response = r.u32("IOCTL MaxOutputResponse")?;
    let flags = r.u32("IOCTL Flags")?;
    if out_len != 0 {
        return Err(WireError::Invalid {
            what: "IOCTL OutputCount",
            value: out_len.into(),
            why: "must be 0 in requests",
        });
    }
    let input = super::buffer(msg, in_off, in_len, "IOCTL input")?.to_vec();
    Ok(IoctlIn {
        ctl_code,
        file_id,
        input,
        max_input_response,
        max_output_response,
        is_fsctl: flags & IS_FSCTL != 0,
    })
}

pub fn emit(ctl_code: u32, file_id: FileId, o: &IoctlOut, out: &mut Vec<u8>) {
    let data_off = HEADER_LEN + 48;
    out.u16(49); //                                            0
    out.u16(0); //                                             2
    out.u32(ctl_code); //                                      4
    super::put_file_id(out, file_id); //                       8
    out.u32(if o.input.is_empty() {
        0
    } else {
        data_off as u32
    }); // 24
    out.u32(o.input.len() as u32); //                         28
    let out_off = (data_off + o.input.len()).next_multiple_of(8);
    out.u32(if o.output.is_empty() {
        0
    } else {
        out_off as u32
    }); // 32
    out.u32(o.output.len() as u32); //                        36
    out.u32(0); //                                            40 Flags
    out.u32(0); //                                            44
    out.extend_from_slice(&o.input); //                       48
    if !o.output.is_empty() {
        let pad = out_off - data_off - o.input.len();
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&o.output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn captured_ioctl() {
        let i = parse(&testdata::first(Command::IOCTL, false)).unwrap();
        assert!(i.is_fsctl);
        assert_eq!(i.ctl_code, crate::ntvfs::fsctl::DFS_GET_REFERRALS);
    }

    #[test]
    fn response_layout() {
        let mut out = vec![];
        emit(
            0x11c017,
            FileId {
                persistent: 1,
                volatile: 2,
            },
            &IoctlOut {
                input: vec![],
                output: vec![5; 10],
                status: crate::wire::NtStatus::SUCCESS,
            },
            &mut out,
        );
        assert_eq!(out.len(), 48 + 10);
        assert_eq!(u32::from_le_bytes(out[32..36].try_into().unwrap()), 112);
    }
}

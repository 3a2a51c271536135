//! One file per SMB2 command: its request parsed into a typed structure,
//! its response emitted from one, in wire order. Offsets in SMB2 bodies
//! count from the start of the SMB2 header, so parsers get the whole
//! message (`msg`), and responses are laid out knowing their body starts at
//! byte 64.

pub mod close;
pub mod create;
pub mod echo;
pub mod flush;
pub mod ioctl;
pub mod lock;
pub mod logoff;
pub mod negotiate;
pub mod notify;
pub mod oplock_break;
pub mod query_directory;
pub mod query_info;
pub mod read;
pub mod session_setup;
pub mod set_info;
pub mod tree_connect;
pub mod tree_disconnect;
pub mod write;

use crate::ntvfs::FileId;
use crate::wire::NtStatus;
use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, Reader, WireError};

/// The body of `msg`, checked to have the StructureSize `size` and to hold
/// at least the fixed part (`size` without its "variable part" bit).
pub fn body<'a>(msg: &'a [u8], size: u16, command: &'static str) -> Result<Reader<'a>, WireError> {
    let b = msg
        .get(HEADER_LEN..)
        .ok_or(WireError::Missing("SMB2 body"))?;
    let mut r = Reader::new(b);
    let got = r.u16(command)?;
    if got != size {
        return Err(WireError::Invalid {
            what: command,
            value: got.into(),
            why: "wrong StructureSize",
        });
    }
    let fixed = usize::from(size & !1);
    if b.len() < fixed {
        return Err(WireError::Missing(command));
    }
    Ok(r)
}

pub fn file_id(r: &mut Reader<'_>) -> Result<FileId, WireError> {
    Ok(FileId {
        persistent: r.u64("FileId.Persistent")?,
        volatile: r.u64("FileId.Volatile")?,
    })
}

pub fn put_file_id(out: &mut Vec<u8>, id: FileId) {
    out.u64(id.persistent);
    out.u64(id.volatile);
}

/// The `len` bytes at `offset` (from the header) of `msg`; a zero length
/// is an empty slice whatever the offset.
pub fn buffer<'a>(
    msg: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], WireError> {
    if len == 0 {
        return Ok(&[]);
    }
    if offset < HEADER_LEN {
        return Err(WireError::OutOfBounds {
            what,
            offset,
            len,
            size: msg.len(),
        });
    }
    crate::wire::reader::slice_at(msg, offset, len, what)
}

/// The SMB2 ERROR response body (MS-SMB2 2.2.2).
pub fn emit_error(out: &mut Vec<u8>, data: &[u8]) {
    out.u16(9); //                   StructureSize
    out.u8(0); //                    ErrorContextCount
    out.u8(0); //                    Reserved
    out.u32(data.len() as u32); //   ByteCount
    if data.is_empty() {
        out.u8(0); //                ErrorData: one byte even when empty
    } else {
        out.extend_from_slice(data);
    }
}

/// Statuses whose responses keep their normal body (not an error body).
pub fn has_normal_body(status: NtStatus) -> bool {
    matches!(
        status,
        NtStatus::SUCCESS | NtStatus::BUFFER_OVERFLOW | NtStatus::MORE_PROCESSING_REQUIRED
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_size_is_checked() {
        let mut m = vec![0u8; 64];
        m.extend_from_slice(&[4, 0, 0, 0]);
        assert!(body(&m, 4, "ECHO").is_ok());
        assert!(body(&m, 9, "X").is_err());
        let mut m = vec![0u8; 64];
        m.extend_from_slice(&[25, 0]);
        assert!(body(&m, 25, "SESSION_SETUP").is_err(), "fixed part missing");
        assert!(buffer(&m, 10, 2, "b").is_err(), "offset inside the header");
        assert_eq!(buffer(&m, 1000, 0, "b").unwrap(), &[] as &[u8]);
    }
}

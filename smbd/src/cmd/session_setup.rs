//! SESSION_SETUP (MS-SMB2 2.2.5/6).
//!
//! ```text
//! request:  0 StructureSize (25)  2 Flags  3 SecurityMode  4 Capabilities
//!           8 Channel  12 SecurityBufferOffset  14 SecurityBufferLength
//!          16 PreviousSessionId  24 Buffer
//! response: 0 StructureSize (9)  2 SessionFlags  4 SecurityBufferOffset
//!           6 SecurityBufferLength  8 Buffer
//! ```

use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, WireError};

pub const FLAG_BINDING: u8 = 0x01;

pub mod session_flags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupIn {
    pub flags: u8,
    pub security_mode: u8,
    pub capabilities: u32,
    pub channel: u32,
    pub previous_session_id: u64,
    pub security_buffer: Vec<u8>,
}

pub fn parse(msg: &[u8]) -> Result<SessionSetupIn, WireError> {
    let mut r = super::body(msg, 25, "SESSION_SETUP")?;
    let flags = r.u8("SESSION_SETUP Flags")?;
    let security_mode = r.u8("SESSION_SETUP SecurityMode")?;
    let capabilities = r.u32("SESSION_SETUP Capabilities")?;
    let channel = r.u32("SESSION_SETUP Channel")?;
    let off = r.u16("SESSION_SETUP SecurityBufferOffset")? as usize;
    let len = r.u16("SESSION_SETUP SecurityBufferLength")? as usize;
    let previous_session_id = r.u64("SESSION_SETUP PreviousSessionId")?;
    let security_buffer = super::buffer(msg, off, len, "SESSION_SETUP security buffer")?.to_vec();
    Ok(SessionSetupIn {
        flags,
        security_mode,
        capabilities,
        channel,
        previous_session_id,
        security_buffer,
    })
}

pub fn emit(session_flags: u16, blob: &[u8], out: &mut Vec<u8>) {
    out.u16(9); //                                    0
    out.u16(session_flags); //                        2
    out.u16(if blob.is_empty() {
        0
    } else {
        (HEADER_LEN + 8) as u16
    }); // 4
    out.u16(blob.len() as u16); //                    6
    if blob.is_empty() {
        out.u8(0);
    } else {
        out.extend_from_slice(blob); //               8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_session_setup() {
        let m = testdata::first(Command::SESSION_SETUP, false);
        let s = parse(&m).unwrap();
        assert_eq!(s.security_buffer[0], 0x60, "SPNEGO NegTokenInit");
        let rsp = testdata::first(Command::SESSION_SETUP, true);
        let blob_len = u16::from_le_bytes([rsp[70], rsp[71]]) as usize;
        let mut out = vec![];
        emit(0, &rsp[72..72 + blob_len], &mut out);
        assert_eq!(out, rsp[64..]);
        let mut bad = m.clone();
        bad[64 + 14..64 + 16].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(parse(&bad).is_err());
    }
}

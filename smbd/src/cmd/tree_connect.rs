//! TREE_CONNECT (MS-SMB2 2.2.9/10).
//!
//! ```text
//! request:  0 StructureSize (9)  2 Flags  4 PathOffset  6 PathLength  8 Buffer
//! response: 0 StructureSize (16)  2 ShareType  3 Reserved  4 ShareFlags
//!           8 Capabilities  12 MaximalAccess
//! ```

use crate::wire::reader::{Put, WireError};
use crate::wire::strings::utf16_to_string;

pub const FLAG_EXTENSION_PRESENT: u16 = 0x0004;

pub mod share_type {
    pub const DISK: u8 = 1;
    pub const PIPE: u8 = 2;
    pub const PRINT: u8 = 3;
}

pub mod share_flags {
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    pub const NO_CACHING: u32 = 0x0000_0030;
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectIn {
    pub flags: u16,
    /// `\\server\share` as sent.
    pub path: String,
}

pub fn parse(msg: &[u8]) -> Result<TreeConnectIn, WireError> {
    let mut r = super::body(msg, 9, "TREE_CONNECT")?;
    let flags = r.u16("TREE_CONNECT Flags")?;
    let off = r.u16("TREE_CONNECT PathOffset")? as usize;
    let len = r.u16("TREE_CONNECT PathLength")? as usize;
    if flags & FLAG_EXTENSION_PRESENT != 0 {
        return Err(WireError::Invalid {
            what: "TREE_CONNECT Flags",
            value: flags.into(),
            why: "tree connect extensions are not supported",
        });
    }
    let path = utf16_to_string(
        super::buffer(msg, off, len, "TREE_CONNECT path")?,
        "TREE_CONNECT path",
    )?;
    Ok(TreeConnectIn { flags, path })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectOut {
    pub share_type: u8,
    pub share_flags: u32,
    pub capabilities: u32,
    pub maximal_access: u32,
}

pub fn emit(o: &TreeConnectOut, out: &mut Vec<u8>) {
    out.u16(16); //                 0
    out.u8(o.share_type); //        2
    out.u8(0); //                   3
    out.u32(o.share_flags); //      4
    out.u32(o.capabilities); //     8
    out.u32(o.maximal_access); //  12
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn captured_tree_connects() {
        let ipc = parse(&testdata::nth(Command::TREE_CONNECT, false, 0)).unwrap();
        assert_eq!(ipc.path, "\\\\127.0.0.1\\IPC$");
        let share = parse(&testdata::nth(Command::TREE_CONNECT, false, 1)).unwrap();
        assert_eq!(share.path, "\\\\127.0.0.1\\share");
        let rsp = testdata::nth(Command::TREE_CONNECT, true, 1);
        let o = TreeConnectOut {
            share_type: rsp[66],
            share_flags: u32::from_le_bytes(rsp[68..72].try_into().unwrap()),
            capabilities: u32::from_le_bytes(rsp[72..76].try_into().unwrap()),
            maximal_access: u32::from_le_bytes(rsp[76..80].try_into().unwrap()),
        };
        let mut out = vec![];
        emit(&o, &mut out);
        assert_eq!(out, rsp[64..]);
    }
}

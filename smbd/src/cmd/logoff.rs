//! LOGOFF (MS-SMB2 2.2.7/8): StructureSize 4, Reserved 2, both ways.

use crate::wire::reader::{Put, WireError};

pub fn parse(msg: &[u8]) -> Result<(), WireError> {
    super::body(msg, 4, "LOGOFF").map(|_| ())
}

pub fn emit(out: &mut Vec<u8>) {
    out.u16(4);
    out.u16(0);
}

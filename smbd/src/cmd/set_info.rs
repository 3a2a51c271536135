//! SET_INFO (MS-SMB2 2.2.39/40).
//!
//! ```text
//! request:  0 StructureSize (33)  2 InfoType  3 FileInfoClass  4 BufferLength
//!           8 BufferOffset  10 Reserved  12 AdditionalInformation
//!          16 FileId (16)  32 Buffer
//! response: 0 StructureSize (2)
//! ```

use crate::ntvfs::SetInfoIn;
use crate::wire::info::parse_set_info;
use crate::wire::reader::{Put, WireError};

pub fn parse(msg: &[u8]) -> Result<SetInfoIn, WireError> {
    let mut r = super::body(msg, 33, "SET_INFO")?;
    let itype = r.u8("SET_INFO InfoType")?;
    let class = r.u8("SET_INFO FileInfoClass")?;
    let len = r.u32("SET_INFO BufferLength")? as usize;
    let off = r.u16("SET_INFO BufferOffset")? as usize;
    r.skip(2, "SET_INFO Reserved")?;
    let additional = r.u32("SET_INFO AdditionalInformation")?;
    let file_id = super::file_id(&mut r)?;
    let buf = super::buffer(msg, off, len, "SET_INFO buffer")?;
    Ok(SetInfoIn {
        file_id,
        info: parse_set_info(itype, class, additional, buf)?,
    })
}

pub fn emit(out: &mut Vec<u8>) {
    out.u16(2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntvfs::info::SetFileInfo;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_rename_and_delete() {
        let all: Vec<_> = (0..3)
            .filter_map(|n| {
                std::panic::catch_unwind(|| testdata::nth(Command::SET_INFO, false, n)).ok()
            })
            .map(|m| parse(&m).unwrap().info)
            .collect();
        assert!(
            all.iter()
                .any(|i| matches!(i, SetFileInfo::Rename { name, .. } if name == "up2.txt")),
            "{all:?}"
        );
        assert!(
            all.iter().any(|i| matches!(
                i,
                SetFileInfo::Disposition {
                    delete_pending: true
                }
            )),
            "{all:?}"
        );
    }
}

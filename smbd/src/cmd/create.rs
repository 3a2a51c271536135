//! CREATE (MS-SMB2 2.2.13/14) and create contexts (2.2.13.2).
//!
//! ```text
//! request:  0 StructureSize (57)  2 SecurityFlags  3 RequestedOplockLevel
//!           4 ImpersonationLevel  8 SmbCreateFlags  16 Reserved
//!          24 DesiredAccess  28 FileAttributes  32 ShareAccess
//!          36 CreateDisposition  40 CreateOptions  44 NameOffset
//!          46 NameLength  48 CreateContextsOffset  52 CreateContextsLength
//!          56 Buffer
//! response: 0 StructureSize (89)  2 OplockLevel  3 Flags  4 CreateAction
//!           8 CreationTime  16 LastAccessTime  24 LastWriteTime  32 ChangeTime
//!          40 AllocationSize  48 EndofFile  56 FileAttributes  60 Reserved2
//!          64 FileId (16)  80 CreateContextsOffset  84 CreateContextsLength
//!          88 Buffer
//! context:  0 Next  4 NameOffset  6 NameLength  8 Reserved  10 DataOffset
//!          12 DataLength  16 Buffer (name, padding, data; 8-aligned)
//! ```

use crate::ntvfs::{CreateContext, CreateIn, CreateOut, FileId, OplockLevel};
use crate::wire::header::HEADER_LEN;
use crate::wire::info::parse_sd;
use crate::wire::reader::{Put, Reader, WireError, patch_u32};
use crate::wire::strings::utf16_to_string;

pub const MAX_CONTEXTS: usize = 32;

/// A SecD context must hold a valid security descriptor: it gets the
/// checks SET_INFO gives one, so a malformed one fails the CREATE (as in
/// Samba) whether or not the backend applies it. (ExtA's EA list is
/// parsed, and checked, by the backend that applies it.)
fn check_data(name: &[u8], data: &[u8]) -> Result<(), WireError> {
    match name {
        b"SecD" => parse_sd(data).map(drop),
        _ => Ok(()),
    }
}

pub fn parse_contexts(buf: &[u8]) -> Result<Vec<CreateContext>, WireError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        if out.len() >= MAX_CONTEXTS {
            return Err(WireError::TooLarge {
                what: "create contexts",
                len: out.len() + 1,
                max: MAX_CONTEXTS,
            });
        }
        let entry = &buf[at..];
        let mut r = Reader::new(entry);
        let next = r.u32("context Next")? as usize;
        let name_off = r.u16("context NameOffset")? as usize;
        let name_len = r.u16("context NameLength")? as usize;
        r.skip(2, "context Reserved")?;
        let data_off = r.u16("context DataOffset")? as usize;
        let data_len = r.u32("context DataLength")? as usize;
        // The entry ends at `next` (or the buffer); name and data must lie
        // inside it, after the 16-byte fixed part, and not overlap.
        let end = if next == 0 { entry.len() } else { next };
        // A Next promises another context after this one: it must leave
        // room for it (Next at the very end is as wrong as beyond it).
        if next != 0 && (next < 16 || !next.is_multiple_of(8) || next >= entry.len()) {
            return Err(WireError::Invalid {
                what: "context Next",
                value: next as u64,
                why: "misaligned or outside the contexts",
            });
        }
        let within = |off: usize, len: usize, what: &'static str| {
            if len == 0 {
                return Ok(&entry[0..0]);
            }
            if off < 16 || off.checked_add(len).is_none_or(|e| e > end) {
                return Err(WireError::OutOfBounds {
                    what,
                    offset: off,
                    len,
                    size: end,
                });
            }
            Ok(&entry[off..off + len])
        };
        let name = within(name_off, name_len, "context name")?;
        let data = within(data_off, data_len, "context data")?;
        if name.is_empty() {
            return Err(WireError::Invalid {
                what: "context NameLength",
                value: 0,
                why: "a context needs a name",
            });
        }
        if data_len > 0 && data_off < name_off + name_len {
            return Err(WireError::Invalid {
                what: "context DataOffset",
                value: data_off as u64,
                why: "data overlaps the name",
            });
        }
        check_data(name, data)?;
        out.push(CreateContext {
            name: name.to_vec(),
            data: data.to_vec(),
        });
        if next == 0 {
            break;
        }
        at += next;
    }
    Ok(out)
}

pub fn parse(msg: &[u8]) -> Result<CreateIn, WireError> {
    let mut r = super::body(msg, 57, "CREATE")?;
    let security_flags = r.u8("CREATE SecurityFlags")?;
    let oplock = OplockLevel::from_wire(r.u8("CREATE RequestedOplockLevel")?);
    let impersonation = r.u32("CREATE ImpersonationLevel")?;
    let create_flags = r.u64("CREATE SmbCreateFlags")?;
    r.skip(8, "CREATE Reserved")?;
    let desired_access = r.u32("CREATE DesiredAccess")?;
    let file_attributes = r.u32("CREATE FileAttributes")?;
    let share_access = r.u32("CREATE ShareAccess")?;
    let disposition = r.u32("CREATE CreateDisposition")?;
    let options = r.u32("CREATE CreateOptions")?;
    let name_off = r.u16("CREATE NameOffset")? as usize;
    let name_len = r.u16("CREATE NameLength")? as usize;
    let ctx_off = r.u32("CREATE CreateContextsOffset")? as usize;
    let ctx_len = r.u32("CREATE CreateContextsLength")? as usize;
    let name = utf16_to_string(
        super::buffer(msg, name_off, name_len, "CREATE name")?,
        "CREATE name",
    )?;
    let ctx_buf = super::buffer(msg, ctx_off, ctx_len, "CREATE contexts")?;
    if ctx_len > 0 && !ctx_off.is_multiple_of(8) {
        return Err(WireError::Invalid {
            what: "CreateContextsOffset",
            value: ctx_off as u64,
            why: "not 8-byte aligned",
        });
    }
    if name_len > 0 && ctx_len > 0 && name_off < ctx_off + ctx_len && ctx_off < name_off + name_len
    {
        return Err(WireError::Invalid {
            what: "CREATE NameOffset",
            value: name_off as u64,
            why: "name overlaps the create contexts",
        });
    }
    Ok(CreateIn {
        security_flags,
        oplock,
        impersonation,
        create_flags,
        desired_access,
        file_attributes,
        share_access,
        disposition,
        options,
        name,
        contexts: parse_contexts(ctx_buf)?,
        file_id: FileId::default(),
    })
}

/// Encodes create contexts (for responses), 8-aligned and chained.
pub fn emit_contexts(ctxs: &[CreateContext], out: &mut Vec<u8>) {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for c in ctxs {
        out.pad_to(base, 8);
        let start = out.len();
        if let Some(p) = prev {
            patch_u32(out, p, (start - p) as u32);
        }
        let data_off = (16 + c.name.len()).next_multiple_of(8);
        out.u32(0); //                                            0 Next
        out.u16(16); //                                           4 NameOffset
        out.u16(c.name.len() as u16); //                          6 NameLength
        out.u16(0); //                                            8 Reserved
        out.u16(if c.data.is_empty() {
            0
        } else {
            data_off as u16
        }); // 10 DataOffset
        out.u32(c.data.len() as u32); //                         12 DataLength
        out.extend_from_slice(&c.name); //                       16
        if !c.data.is_empty() {
            out.pad_to(start, 8);
            out.extend_from_slice(&c.data);
        }
        prev = Some(start);
    }
}

/// Emits the response body; `out` holds the 64-byte header already.
pub fn emit(o: &CreateOut, out: &mut Vec<u8>) {
    let hdr = out.len() - HEADER_LEN;
    let i = &o.info;
    out.u16(89); //                         0
    out.u8(o.oplock.to_wire()); //          2
    out.u8(o.flags); //                     3
    out.u32(o.action as u32); //            4
    out.u64(i.creation_time); //            8
    out.u64(i.last_access_time); //        16
    out.u64(i.last_write_time); //         24
    out.u64(i.change_time); //             32
    out.u64(i.allocation_size); //         40
    out.u64(i.end_of_file); //             48
    out.u32(i.attributes); //              56
    out.u32(0); //                         60
    super::put_file_id(out, o.file_id); // 64
    let off_at = out.len();
    out.u32(0); //                         80 CreateContextsOffset
    out.u32(0); //                         84 CreateContextsLength
    if o.contexts.is_empty() {
        out.u8(0);
        return;
    }
    let start = out.len();
    patch_u32(out, off_at, (start - hdr) as u32);
    emit_contexts(&o.contexts, out);
    let len = (out.len() - start) as u32;
    patch_u32(out, off_at + 4, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntvfs::{CreateAction, NetworkOpenInfo};
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_creates() {
        let all: Vec<CreateIn> = (0..6)
            .map(|n| parse(&testdata::nth(Command::CREATE, false, n)).unwrap())
            .collect();
        // `ls` opens the share root (empty name) as a directory.
        assert_eq!(all[0].name, "");
        assert_ne!(all[0].options & crate::ntvfs::options::DIRECTORY_FILE, 0);
        assert!(all.iter().any(|c| c.name == "hello.txt"));
        // smbclient 4.17 sends no create contexts.
        assert!(all.iter().all(|c| c.contexts.is_empty()));
    }

    #[test]
    fn response_with_contexts_round_trips() {
        let o = CreateOut {
            oplock: OplockLevel::None,
            flags: 0,
            action: CreateAction::Opened,
            info: NetworkOpenInfo {
                end_of_file: 6,
                attributes: 0x20,
                ..Default::default()
            },
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            contexts: vec![
                CreateContext {
                    name: b"MxAc".to_vec(),
                    data: vec![0, 0, 0, 0, 0xff, 0x01, 0x1f, 0],
                },
                CreateContext {
                    name: b"QFid".to_vec(),
                    data: vec![7; 32],
                },
            ],
        };
        let mut out = vec![0u8; 64];
        emit(&o, &mut out);
        let off = u32::from_le_bytes(out[64 + 80..64 + 84].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(out[64 + 84..64 + 88].try_into().unwrap()) as usize;
        assert_eq!(off, 152);
        assert_eq!(parse_contexts(&out[off..off + len]).unwrap(), o.contexts);
    }

    #[test]
    fn hostile_contexts() {
        let good = {
            let mut v = vec![];
            emit_contexts(
                &[CreateContext {
                    name: b"MxAc".to_vec(),
                    data: vec![1, 2, 3, 4],
                }],
                &mut v,
            );
            v
        };
        assert!(parse_contexts(&good).is_ok());
        let mut bad = good.clone();
        bad[10..12].copy_from_slice(&200u16.to_le_bytes()); // data beyond the entry
        assert!(parse_contexts(&bad).is_err());
        let mut bad = good.clone();
        bad[10..12].copy_from_slice(&16u16.to_le_bytes()); // data over the name
        assert!(parse_contexts(&bad).is_err());
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&8u32.to_le_bytes()); // Next inside the fixed part
        assert!(parse_contexts(&bad).is_err());
        let mut bad = good.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_contexts(&bad).is_err());
        // A chain that loops on itself is impossible: Next must move on.
        let mut padded = good.clone();
        padded.resize(good.len().next_multiple_of(8), 0);
        let mut two = padded.clone();
        two.extend_from_slice(&good);
        two[0..4].copy_from_slice(&(padded.len() as u32).to_le_bytes());
        assert_eq!(parse_contexts(&two).unwrap().len(), 2);
        // A Next that points exactly at the end promises a context that
        // is not there.
        let mut past = padded.clone();
        past[0..4].copy_from_slice(&(padded.len() as u32).to_le_bytes());
        assert!(parse_contexts(&past).is_err());
    }

    #[test]
    fn secd_data_must_parse() {
        #[rustfmt::skip]
        let secd: [u8; 32] = [
            b'S', b'e', b'c', b'D', // (name, at 16 below)
            0x01, 0x00, 0x04, 0x80, // SD: revision 1, control SELF_RELATIVE | DACL_PRESENT
            0x00, 0x00, 0x00, 0x00, // OffsetOwner
            0x00, 0x00, 0x00, 0x00, // OffsetGroup
            0x00, 0x00, 0x00, 0x00, // OffsetSacl
            0x00, 0x10, 0x00, 0x00, // OffsetDacl 4096: beyond the descriptor
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        let ctx = |name: &[u8], data: &[u8]| {
            let mut v = vec![];
            emit_contexts(
                &[CreateContext {
                    name: name.to_vec(),
                    data: data.to_vec(),
                }],
                &mut v,
            );
            v
        };
        assert!(parse_contexts(&ctx(b"SecD", &secd[4..24])).is_err());
        // The same descriptor without a DACL is fine.
        let mut no_dacl = secd;
        no_dacl[6] = 0x00;
        assert!(parse_contexts(&ctx(b"SecD", &no_dacl[4..24])).is_ok());
        // Other contexts' data is the backend's business.
        assert!(parse_contexts(&ctx(b"XXXX", &secd[4..24])).is_ok());
    }
}

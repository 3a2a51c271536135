//! Wire formats of file, file-system and security information (MS-FSCC,
//! MS-DTYP), for the typed values in `ntvfs::info`.

use super::reader::{Put, Reader, WireError, patch_u32};
use super::strings::{put_utf16, utf16_len, utf16_to_string};
use crate::ntvfs::info::*;
use crate::ntvfs::types::{DirEntry, DirInfoClass, NetworkOpenInfo, NotifyChange};

/// Most ACEs / sub-authorities / EAs we decode from one buffer.
const MAX_ACES: usize = 1024;
const MAX_EAS: usize = 1024;

fn put_basic(out: &mut Vec<u8>, b: &BasicInfo) {
    out.u64(b.creation_time); //    0
    out.u64(b.last_access_time); // 8
    out.u64(b.last_write_time); //  16
    out.u64(b.change_time); //      24
    out.u32(b.attributes); //       32
    out.u32(0); //                  36 reserved
}

fn put_standard(out: &mut Vec<u8>, s: &StandardInfo) {
    out.u64(s.allocation_size); //  0
    out.u64(s.end_of_file); //      8
    out.u32(s.number_of_links); //  16
    out.u8(s.delete_pending as u8); // 20
    out.u8(s.directory as u8); //   21
    out.u16(0); //                  22 reserved
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    out.u32(utf16_len(name) as u32);
    put_utf16(out, name);
}

fn put_network_open(out: &mut Vec<u8>, n: &NetworkOpenInfo) {
    out.u64(n.creation_time);
    out.u64(n.last_access_time);
    out.u64(n.last_write_time);
    out.u64(n.change_time);
    out.u64(n.allocation_size);
    out.u64(n.end_of_file);
    out.u32(n.attributes);
    out.u32(0);
}

pub fn encode_file_info(info: &FileInfo, out: &mut Vec<u8>) {
    match info {
        FileInfo::Basic(b) => put_basic(out, b),
        FileInfo::Standard(s) => put_standard(out, s),
        FileInfo::Internal { index_number } => out.u64(*index_number),
        FileInfo::Ea { ea_size } => out.u32(*ea_size),
        FileInfo::Access { flags } => out.u32(*flags),
        FileInfo::Name { name }
        | FileInfo::AlternateName { name }
        | FileInfo::NormalizedName { name } => put_name(out, name),
        FileInfo::Position { offset } => out.u64(*offset),
        FileInfo::FullEa(eas) => encode_ea_list(eas, out),
        FileInfo::Mode { mode } => out.u32(*mode),
        FileInfo::Alignment { requirement } => out.u32(*requirement),
        FileInfo::All(a) => {
            put_basic(out, &a.basic); //   0..40
            put_standard(out, &a.standard); // 40..64
            out.u64(a.index_number); //     64
            out.u32(a.ea_size); //          72
            out.u32(a.access_flags); //     76
            out.u64(a.position); //         80
            out.u32(a.mode); //             88
            out.u32(a.alignment); //        92
            put_name(out, &a.name); //      96
        }
        FileInfo::Stream(entries) => {
            let base = out.len();
            let mut prev: Option<usize> = None;
            for e in entries {
                out.pad_to(base, 8);
                let start = out.len();
                if let Some(p) = prev {
                    patch_u32(out, p, (start - p) as u32);
                }
                out.u32(0); //                         NextEntryOffset
                out.u32(utf16_len(&e.name) as u32); //  StreamNameLength
                out.u64(e.size); //                     StreamSize
                out.u64(e.allocation_size); //          StreamAllocationSize
                put_utf16(out, &e.name);
                prev = Some(start);
            }
        }
        FileInfo::Pipe {
            read_mode,
            completion_mode,
        } => {
            out.u32(*read_mode);
            out.u32(*completion_mode);
        }
        FileInfo::PipeLocal(p) => {
            for v in [
                p.named_pipe_type,
                p.configuration,
                p.maximum_instances,
                p.current_instances,
                p.inbound_quota,
                p.read_data_available,
                p.outbound_quota,
                p.write_quota_available,
                p.state,
                p.end,
            ] {
                out.u32(v);
            }
        }
        FileInfo::Compression {
            compressed_size,
            format,
        } => {
            out.u64(*compressed_size);
            out.u16(*format);
            out.extend_from_slice(&[0; 6]);
        }
        FileInfo::NetworkOpen(n) => put_network_open(out, n),
        FileInfo::AttributeTag {
            attributes,
            reparse_tag,
        } => {
            out.u32(*attributes);
            out.u32(*reparse_tag);
        }
        FileInfo::Id {
            volume_serial,
            file_id,
        } => {
            out.u64(*volume_serial);
            out.extend_from_slice(file_id);
        }
    }
}

pub fn encode_fs_info(info: &FsInfo, out: &mut Vec<u8>) {
    match info {
        FsInfo::Volume {
            creation_time,
            serial_number,
            label,
        } => {
            out.u64(*creation_time);
            out.u32(*serial_number);
            out.u32(utf16_len(label) as u32);
            out.u8(0); // SupportsObjects
            out.u8(0);
            put_utf16(out, label);
        }
        FsInfo::Size {
            total_units,
            available_units,
            sectors_per_unit,
            bytes_per_sector,
        } => {
            out.u64(*total_units);
            out.u64(*available_units);
            out.u32(*sectors_per_unit);
            out.u32(*bytes_per_sector);
        }
        FsInfo::Device {
            device_type,
            characteristics,
        } => {
            out.u32(*device_type);
            out.u32(*characteristics);
        }
        FsInfo::Attribute {
            attributes,
            max_name_len,
            name,
        } => {
            out.u32(*attributes);
            out.u32(*max_name_len);
            out.u32(utf16_len(name) as u32);
            put_utf16(out, name);
        }
        FsInfo::FullSize {
            total_units,
            caller_available_units,
            actual_available_units,
            sectors_per_unit,
            bytes_per_sector,
        } => {
            out.u64(*total_units);
            out.u64(*caller_available_units);
            out.u64(*actual_available_units);
            out.u32(*sectors_per_unit);
            out.u32(*bytes_per_sector);
        }
        FsInfo::Control {
            free_space_start_filtering,
            free_space_threshold,
            free_space_stop_filtering,
            default_quota_threshold,
            default_quota_limit,
            flags,
        } => {
            out.u64(*free_space_start_filtering); //  0
            out.u64(*free_space_threshold); //        8
            out.u64(*free_space_stop_filtering); //  16
            out.u64(*default_quota_threshold); //    24
            out.u64(*default_quota_limit); //        32
            out.u32(*flags); //                      40
            out.u32(0); //                           44 Padding
        }
        FsInfo::ObjectId {
            object_id,
            extended,
        } => {
            out.extend_from_slice(object_id);
            out.extend_from_slice(extended);
        }
        FsInfo::SectorSize {
            logical_bytes_per_sector,
            physical_bytes_per_sector_for_atomicity,
            physical_bytes_per_sector_for_performance,
            effective_physical_bytes_per_sector_for_atomicity,
            flags,
            byte_offset_for_sector_alignment,
            byte_offset_for_partition_alignment,
        } => {
            for v in [
                *logical_bytes_per_sector,
                *physical_bytes_per_sector_for_atomicity,
                *physical_bytes_per_sector_for_performance,
                *effective_physical_bytes_per_sector_for_atomicity,
                *flags,
                *byte_offset_for_sector_alignment,
                *byte_offset_for_partition_alignment,
            ] {
                out.u32(v);
            }
        }
    }
}

/// Fixed part of an entry of each directory class (before the name).
fn dir_fixed_len(class: DirInfoClass) -> usize {
    match class {
        DirInfoClass::Directory => 64,
        DirInfoClass::FullDirectory => 68,
        DirInfoClass::BothDirectory => 94,
        DirInfoClass::Names => 12,
        DirInfoClass::IdBothDirectory => 104,
        DirInfoClass::IdFullDirectory => 80,
    }
}

/// Bytes `e` takes in a listing of `class`, including the padding that
/// aligns the next entry to 8 bytes.
pub fn dir_entry_len(class: DirInfoClass, e: &DirEntry) -> usize {
    (dir_fixed_len(class) + utf16_len(&e.name)).next_multiple_of(8)
}

/// Encodes a directory listing; entries are 8-byte aligned and chained by
/// NextEntryOffset (0 in the last).
pub fn encode_dir_entries(class: DirInfoClass, entries: &[DirEntry], out: &mut Vec<u8>) {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for e in entries {
        out.pad_to(base, 8);
        let start = out.len();
        if let Some(p) = prev {
            patch_u32(out, p, (start - p) as u32);
        }
        let i = &e.info;
        out.u32(0); //                            0 NextEntryOffset
        out.u32(e.file_index); //                 4 FileIndex
        if class == DirInfoClass::Names {
            put_name(out, &e.name); //            8 FileNameLength, 12 FileName
            prev = Some(start);
            continue;
        }
        out.u64(i.creation_time); //              8
        out.u64(i.last_access_time); //          16
        out.u64(i.last_write_time); //           24
        out.u64(i.change_time); //               32
        out.u64(i.end_of_file); //               40
        out.u64(i.allocation_size); //           48
        out.u32(i.attributes); //                56
        out.u32(utf16_len(&e.name) as u32); //   60 FileNameLength
        match class {
            DirInfoClass::Directory => {}
            DirInfoClass::FullDirectory => out.u32(e.ea_size), // 64
            DirInfoClass::IdFullDirectory => {
                out.u32(e.ea_size); //           64
                out.u32(0); //                   68 reserved
                out.u64(e.file_id); //           72
            }
            DirInfoClass::BothDirectory | DirInfoClass::IdBothDirectory => {
                out.u32(e.ea_size); //           64
                let mut short = Vec::new();
                put_utf16(&mut short, &e.short_name);
                short.truncate(24);
                out.u8(short.len() as u8); //    68 ShortNameLength
                out.u8(0); //                    69
                out.extend_from_slice(&short); //70 ShortName (24)
                out.extend_from_slice(&[0; 24][short.len()..]);
                if class == DirInfoClass::IdBothDirectory {
                    out.u16(0); //               94 reserved
                    out.u64(e.file_id); //       96
                }
            }
            DirInfoClass::Names => unreachable!("handled above"),
        }
        put_utf16(out, &e.name);
        prev = Some(start);
    }
}

/// FILE_NOTIFY_INFORMATION entries, 4-byte aligned.
pub fn encode_notify(changes: &[NotifyChange], out: &mut Vec<u8>) {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for c in changes {
        out.pad_to(base, 4);
        let start = out.len();
        if let Some(p) = prev {
            patch_u32(out, p, (start - p) as u32);
        }
        out.u32(0);
        out.u32(c.action as u32);
        put_name(out, &c.name);
        prev = Some(start);
    }
}

pub fn notify_len(c: &NotifyChange) -> usize {
    (12 + utf16_len(&c.name)).next_multiple_of(4)
}

pub fn encode_ea_list(eas: &[Ea], out: &mut Vec<u8>) {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for ea in eas {
        out.pad_to(base, 4);
        let start = out.len();
        if let Some(p) = prev {
            patch_u32(out, p, (start - p) as u32);
        }
        out.u32(0);
        out.u8(ea.flags);
        out.u8(ea.name.len() as u8);
        out.u16(ea.value.len() as u16);
        out.extend_from_slice(ea.name.as_bytes());
        out.u8(0);
        out.extend_from_slice(&ea.value);
        prev = Some(start);
    }
}

/// Parses a FILE_FULL_EA_INFORMATION chain; every offset and length is
/// checked against the buffer and the chain must move forward.
pub fn parse_ea_list(buf: &[u8]) -> Result<Vec<Ea>, WireError> {
    let mut eas = Vec::new();
    let mut at = 0usize;
    loop {
        if eas.len() >= MAX_EAS {
            return Err(WireError::TooLarge {
                what: "EA list",
                len: eas.len(),
                max: MAX_EAS,
            });
        }
        let mut r = Reader::new(buf.get(at..).ok_or(WireError::Missing("EA entry"))?);
        let next = r.u32("EA NextEntryOffset")? as usize;
        let flags = r.u8("EA Flags")?;
        let name_len = r.u8("EA EaNameLength")? as usize;
        let value_len = r.u16("EA EaValueLength")? as usize;
        let name = r.take(name_len, "EA name")?;
        if r.u8("EA name terminator")? != 0 {
            return Err(WireError::Invalid {
                what: "EA name terminator",
                value: 1,
                why: "must be NUL",
            });
        }
        let value = r.take(value_len, "EA value")?;
        let name = std::str::from_utf8(name)
            .map_err(|_| WireError::BadString("EA name"))?
            .to_string();
        eas.push(Ea {
            flags,
            name,
            value: value.to_vec(),
        });
        if next == 0 {
            return Ok(eas);
        }
        let entry_len = 8 + name_len + 1 + value_len;
        if next < entry_len {
            return Err(WireError::Invalid {
                what: "EA NextEntryOffset",
                value: next as u64,
                why: "points inside the entry",
            });
        }
        at = at.checked_add(next).ok_or(WireError::Missing("EA entry"))?;
    }
}

fn put_sid(out: &mut Vec<u8>, sid: &Sid) {
    out.u8(1); //                                         Revision
    out.u8(sid.sub_authorities.len() as u8); //           SubAuthorityCount
    out.extend_from_slice(&sid.authority.to_be_bytes()[2..]); // IdentifierAuthority (6, BE)
    for s in &sid.sub_authorities {
        out.u32(*s);
    }
}

fn sid_len(sid: &Sid) -> usize {
    8 + 4 * sid.sub_authorities.len()
}

fn put_acl(out: &mut Vec<u8>, acl: &Acl) {
    let size: usize = 8 + acl.aces.iter().map(|a| 8 + sid_len(&a.sid)).sum::<usize>();
    out.u8(acl.revision); //           AclRevision
    out.u8(0); //                      Sbz1
    out.u16(size as u16); //           AclSize
    out.u16(acl.aces.len() as u16); // AceCount
    out.u16(0); //                     Sbz2
    for ace in &acl.aces {
        out.u8(ace.kind); //                            AceType
        out.u8(ace.flags); //                           AceFlags
        out.u16((8 + sid_len(&ace.sid)) as u16); //     AceSize
        out.u32(ace.mask); //                           Mask
        put_sid(out, &ace.sid);
    }
}

pub mod sd_control {
    pub const DACL_PRESENT: u16 = 0x0004;
    pub const SACL_PRESENT: u16 = 0x0010;
    pub const SELF_RELATIVE: u16 = 0x8000;
}

/// A self-relative security descriptor: header, then owner, group, SACL,
/// DACL.
pub fn encode_sd(sd: &SecurityDescriptor, out: &mut Vec<u8>) {
    let base = out.len();
    let mut control = sd.control | sd_control::SELF_RELATIVE;
    if sd.dacl.is_some() {
        control |= sd_control::DACL_PRESENT;
    }
    if sd.sacl.is_some() {
        control |= sd_control::SACL_PRESENT;
    }
    out.u8(1); //        0 Revision
    out.u8(0); //        1 Sbz1
    out.u16(control); // 2 Control
    out.extend_from_slice(&[0; 16]); // 4 OffsetOwner, 8 OffsetGroup, 12 OffsetSacl, 16 OffsetDacl
    if let Some(o) = &sd.owner {
        let off = (out.len() - base) as u32;
        patch_u32(out, base + 4, off);
        put_sid(out, o);
    }
    if let Some(g) = &sd.group {
        let off = (out.len() - base) as u32;
        patch_u32(out, base + 8, off);
        put_sid(out, g);
    }
    if let Some(s) = &sd.sacl {
        let off = (out.len() - base) as u32;
        patch_u32(out, base + 12, off);
        put_acl(out, s);
    }
    if let Some(d) = &sd.dacl {
        let off = (out.len() - base) as u32;
        patch_u32(out, base + 16, off);
        put_acl(out, d);
    }
}

fn parse_sid(buf: &[u8], off: usize) -> Result<Sid, WireError> {
    let mut r = Reader::new(buf.get(off..).ok_or(WireError::OutOfBounds {
        what: "SID",
        offset: off,
        len: 8,
        size: buf.len(),
    })?);
    let rev = r.u8("SID Revision")?;
    if rev != 1 {
        return Err(WireError::Invalid {
            what: "SID revision",
            value: rev.into(),
            why: "must be 1",
        });
    }
    let count = r.u8("SID SubAuthorityCount")? as usize;
    if count > 15 {
        return Err(WireError::Invalid {
            what: "SID SubAuthorityCount",
            value: count as u64,
            why: "at most 15",
        });
    }
    let auth = r.take(6, "SID IdentifierAuthority")?;
    let mut a = [0u8; 8];
    a[2..].copy_from_slice(auth);
    let mut subs = Vec::with_capacity(count);
    for _ in 0..count {
        subs.push(r.u32("SID SubAuthority")?);
    }
    Ok(Sid {
        authority: u64::from_be_bytes(a),
        sub_authorities: subs,
    })
}

fn parse_acl(buf: &[u8], off: usize) -> Result<Acl, WireError> {
    let mut r = Reader::new(buf.get(off..).ok_or(WireError::Missing("ACL"))?);
    let revision = r.u8("ACL AclRevision")?;
    r.skip(1, "ACL Sbz1")?;
    let size = r.u16("ACL AclSize")? as usize;
    let count = r.u16("ACL AceCount")? as usize;
    r.skip(2, "ACL Sbz2")?;
    if count > MAX_ACES {
        return Err(WireError::TooLarge {
            what: "ACL AceCount",
            len: count,
            max: MAX_ACES,
        });
    }
    let acl_buf = buf
        .get(off..off.saturating_add(size))
        .ok_or(WireError::OutOfBounds {
            what: "ACL",
            offset: off,
            len: size,
            size: buf.len(),
        })?;
    let mut at = 8usize;
    let mut aces = Vec::with_capacity(count);
    for _ in 0..count {
        let mut r = Reader::new(acl_buf.get(at..).ok_or(WireError::Missing("ACE"))?);
        let kind = r.u8("ACE AceType")?;
        let flags = r.u8("ACE AceFlags")?;
        let ace_size = r.u16("ACE AceSize")? as usize;
        let mask = r.u32("ACE Mask")?;
        if ace_size < 8 || at + ace_size > acl_buf.len() {
            return Err(WireError::Invalid {
                what: "ACE AceSize",
                value: ace_size as u64,
                why: "outside its ACL",
            });
        }
        let sid = parse_sid(&acl_buf[..at + ace_size], at + 8)?;
        aces.push(Ace {
            kind,
            flags,
            mask,
            sid,
        });
        at += ace_size;
    }
    Ok(Acl { revision, aces })
}

pub fn parse_sd(buf: &[u8]) -> Result<SecurityDescriptor, WireError> {
    let mut r = Reader::new(buf);
    let rev = r.u8("SD Revision")?;
    if rev != 1 {
        return Err(WireError::Invalid {
            what: "SD revision",
            value: rev.into(),
            why: "must be 1",
        });
    }
    r.skip(1, "SD Sbz1")?;
    let control = r.u16("SD Control")?;
    let owner = r.u32("SD OffsetOwner")? as usize;
    let group = r.u32("SD OffsetGroup")? as usize;
    let sacl = r.u32("SD OffsetSacl")? as usize;
    let dacl = r.u32("SD OffsetDacl")? as usize;
    let opt = |off: usize| off != 0;
    Ok(SecurityDescriptor {
        control: control
            & !(sd_control::SELF_RELATIVE | sd_control::DACL_PRESENT | sd_control::SACL_PRESENT),
        owner: if opt(owner) {
            Some(parse_sid(buf, owner)?)
        } else {
            None
        },
        group: if opt(group) {
            Some(parse_sid(buf, group)?)
        } else {
            None
        },
        sacl: if control & sd_control::SACL_PRESENT != 0 && opt(sacl) {
            Some(parse_acl(buf, sacl)?)
        } else {
            None
        },
        dacl: if control & sd_control::DACL_PRESENT != 0 && opt(dacl) {
            Some(parse_acl(buf, dacl)?)
        } else {
            None
        },
    })
}

/// Parses a SET_INFO buffer of `info_type`/`class` into what it asks for.
pub fn parse_set_info(
    info_type: u8,
    class: u8,
    additional: u32,
    buf: &[u8],
) -> Result<SetFileInfo, WireError> {
    let mut r = Reader::new(buf);
    let other = || SetFileInfo::Other {
        info_type,
        class,
        data: buf.to_vec(),
    };
    match info_type {
        1 => {}
        3 => {
            return Ok(SetFileInfo::Security {
                additional,
                descriptor: parse_sd(buf)?,
            });
        }
        _ => return Ok(other()),
    }
    Ok(match class {
        4 => SetFileInfo::Basic(BasicInfo {
            creation_time: r.u64("CreationTime")?,
            last_access_time: r.u64("LastAccessTime")?,
            last_write_time: r.u64("LastWriteTime")?,
            change_time: r.u64("ChangeTime")?,
            attributes: r.u32("FileAttributes")?,
        }),
        10 | 11 => {
            let replace = r.u8("ReplaceIfExists")? != 0;
            r.skip(7, "Reserved")?;
            let root = r.u64("RootDirectory")?;
            let len = r.u32("FileNameLength")? as usize;
            let name = utf16_to_string(r.take(len, "FileName")?, "FileName")?;
            if class == 10 {
                SetFileInfo::Rename {
                    replace_if_exists: replace,
                    root_directory: root,
                    name,
                }
            } else {
                SetFileInfo::Link {
                    replace_if_exists: replace,
                    root_directory: root,
                    name,
                }
            }
        }
        13 => SetFileInfo::Disposition {
            delete_pending: r.u8("DeletePending")? != 0,
        },
        14 => SetFileInfo::Position(r.u64("CurrentByteOffset")?),
        15 => SetFileInfo::FullEa(parse_ea_list(buf)?),
        16 => SetFileInfo::Mode(r.u32("Mode")?),
        19 => SetFileInfo::Allocation(r.u64("AllocationSize")?),
        20 => SetFileInfo::EndOfFile(r.u64("EndOfFile")?),
        39 => SetFileInfo::ValidDataLength(r.u64("ValidDataLength")?),
        40 => {
            let len = r.u32("FileNameLength")? as usize;
            SetFileInfo::ShortName(utf16_to_string(r.take(len, "FileName")?, "FileName")?)
        }
        _ => other(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_information_layout() {
        let a = AllInfo {
            basic: BasicInfo {
                creation_time: 1,
                last_access_time: 2,
                last_write_time: 3,
                change_time: 4,
                attributes: 0x80,
            },
            standard: StandardInfo {
                allocation_size: 4096,
                end_of_file: 6,
                number_of_links: 1,
                delete_pending: false,
                directory: false,
            },
            index_number: 99,
            ea_size: 0,
            access_flags: 0x12019f,
            position: 0,
            mode: 0,
            alignment: 0,
            name: "\\a".into(),
        };
        let mut out = Vec::new();
        encode_file_info(&FileInfo::All(a), &mut out);
        assert_eq!(out.len(), 100 + 4);
        assert_eq!(&out[32..36], &0x80u32.to_le_bytes());
        assert_eq!(&out[64..72], &99u64.to_le_bytes());
        assert_eq!(&out[96..100], &4u32.to_le_bytes());
        assert_eq!(&out[100..], &[b'\\', 0, b'a', 0]);
    }

    #[test]
    fn dir_entries_are_aligned_and_chained() {
        let e = |name: &str| DirEntry {
            file_index: 0,
            info: NetworkOpenInfo::default(),
            ea_size: 0,
            short_name: String::new(),
            file_id: 7,
            name: name.into(),
        };
        let entries = [e("."), e(".."), e("file.txt")];
        for class in [
            DirInfoClass::Directory,
            DirInfoClass::FullDirectory,
            DirInfoClass::BothDirectory,
            DirInfoClass::Names,
            DirInfoClass::IdBothDirectory,
            DirInfoClass::IdFullDirectory,
        ] {
            let mut out = Vec::new();
            encode_dir_entries(class, &entries, &mut out);
            let first = u32::from_le_bytes(out[0..4].try_into().unwrap()) as usize;
            assert_eq!(first, dir_entry_len(class, &entries[0]), "{class:?}");
            assert_eq!(first % 8, 0);
            let total: usize = entries.iter().map(|x| dir_entry_len(class, x)).sum();
            assert!(out.len() <= total && out.len() > total - 8, "{class:?}");
        }
    }

    #[test]
    fn security_descriptor_round_trip_and_bad_ones() {
        let sd = SecurityDescriptor {
            control: 0,
            owner: Some(Sid::unix_user(1000)),
            group: Some(Sid::unix_group(1000)),
            dacl: Some(Acl {
                revision: 2,
                aces: vec![Ace {
                    kind: 0,
                    flags: 0,
                    mask: 0x1f01ff,
                    sid: Sid::world(),
                }],
            }),
            sacl: None,
        };
        let mut out = Vec::new();
        encode_sd(&sd, &mut out);
        assert_eq!(parse_sd(&out).unwrap(), sd);
        // SubAuthorityCount beyond 15, ACE count beyond the ACL, offsets
        // beyond the buffer: errors, not panics.
        let mut bad = out.clone();
        bad[21] = 200;
        assert!(parse_sd(&bad).is_err());
        let mut bad = out.clone();
        let dacl = u32::from_le_bytes(bad[16..20].try_into().unwrap()) as usize;
        bad[dacl + 4] = 0xff;
        assert!(parse_sd(&bad).is_err());
        let mut bad = out.clone();
        bad[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(parse_sd(&bad).is_err());
    }

    #[test]
    fn ea_lists_are_bounded() {
        let eas = vec![
            Ea {
                flags: 0,
                name: "user.a".into(),
                value: b"1".to_vec(),
            },
            Ea {
                flags: 0,
                name: "b".into(),
                value: vec![],
            },
        ];
        let mut out = Vec::new();
        encode_ea_list(&eas, &mut out);
        assert_eq!(parse_ea_list(&out).unwrap(), eas);
        let mut bad = out.clone();
        bad[0..4].copy_from_slice(&4u32.to_le_bytes()); // into its own entry
        assert!(parse_ea_list(&bad).is_err());
        let mut bad = out.clone();
        bad[6..8].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(parse_ea_list(&bad).is_err());
    }

    #[test]
    fn rename_info() {
        let mut b = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&[b'x', 0, b'y', 0]);
        assert_eq!(
            parse_set_info(1, 10, 0, &b).unwrap(),
            SetFileInfo::Rename {
                replace_if_exists: true,
                root_directory: 0,
                name: "xy".into()
            }
        );
        b.truncate(20);
        assert!(parse_set_info(1, 10, 0, &b).is_err());
    }
}

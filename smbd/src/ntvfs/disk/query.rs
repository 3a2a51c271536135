//! QUERY_INFO on the disk backend: file, file-system and security
//! information built from POSIX metadata.

use std::sync::atomic::Ordering;

use super::stat::{self, Stat};
use super::{DiskBackend, Open};
use crate::ntvfs::info::*;
use crate::ntvfs::types::access;
use crate::ntvfs::*;
use crate::wire::NtStatus;

fn basic(st: &Stat, attributes: u32, created: Option<u64>) -> BasicInfo {
    let n = stat::network_open_info(st, attributes, created);
    BasicInfo {
        creation_time: n.creation_time,
        last_access_time: n.last_access_time,
        last_write_time: n.last_write_time,
        change_time: n.change_time,
        attributes,
    }
}

fn standard(st: &Stat, delete_pending: bool) -> StandardInfo {
    StandardInfo {
        allocation_size: st.allocation(),
        end_of_file: st.end_of_file(),
        number_of_links: st.nlink,
        delete_pending,
        directory: st.is_dir(),
    }
}

/// The open's name as a path from the share root ("\\dir\\file").
fn smb_name(open: &Open) -> String {
    format!("\\{}", open.rel.lock().expect("rel").to_smb())
}

/// Samba's mapping of permission bits to NT rights.
fn rights(bits: u32, dir: bool) -> u32 {
    let mut m = access::READ_CONTROL
        | access::SYNCHRONIZE
        | access::FILE_READ_ATTRIBUTES
        | access::FILE_READ_EA;
    if bits & 4 != 0 {
        m |= access::FILE_READ_DATA;
    }
    if bits & 2 != 0 {
        m |= access::FILE_WRITE_DATA
            | access::FILE_APPEND_DATA
            | access::FILE_WRITE_ATTRIBUTES
            | access::FILE_WRITE_EA;
        if dir {
            m |= access::FILE_DELETE_CHILD;
        }
    }
    if bits & 1 != 0 {
        m |= access::FILE_EXECUTE;
    }
    m
}

/// A security descriptor equivalent to the file's mode bits: owner
/// S-1-22-1-uid, group S-1-22-2-gid, and allow entries for owner, group and
/// everyone.
pub(super) fn security_descriptor(st: &Stat, wanted: u32) -> SecurityDescriptor {
    let dir = st.is_dir();
    let ace = |sid: Sid, bits: u32, extra: u32| Ace {
        kind: 0,
        flags: 0,
        mask: rights(bits, dir) | extra,
        sid,
    };
    let owner_extra =
        access::WRITE_DAC | access::WRITE_OWNER | access::DELETE | access::FILE_WRITE_ATTRIBUTES;
    SecurityDescriptor {
        control: 0,
        owner: (wanted & secinfo::OWNER != 0).then(|| Sid::unix_user(st.uid)),
        group: (wanted & secinfo::GROUP != 0).then(|| Sid::unix_group(st.gid)),
        dacl: (wanted & secinfo::DACL != 0).then(|| Acl {
            revision: 2,
            aces: vec![
                ace(Sid::unix_user(st.uid), (st.mode >> 6) & 7, owner_extra),
                ace(Sid::unix_group(st.gid), (st.mode >> 3) & 7, 0),
                ace(Sid::world(), st.mode & 7, 0),
            ],
        }),
        sacl: None,
    }
}

fn fs_info(b: &DiskBackend, class: FsInfoClass) -> NtResult<FsInfo> {
    let vfs = nix::sys::statvfs::fstatvfs(&*b.root).map_err(crate::wire::status::from_errno)?;
    let bsize = (vfs.fragment_size() as u64).max(512);
    let sectors_per_unit = (bsize / 512) as u32;
    let total = vfs.blocks() as u64;
    let free = vfs.blocks_available() as u64;
    let actual = vfs.blocks_free() as u64;
    let serial = (vfs.filesystem_id() as u32) ^ ((vfs.filesystem_id() >> 32) as u32);
    Ok(match class {
        FsInfoClass::Volume => FsInfo::Volume {
            creation_time: stat::fstat(&*b.root).map(|s| s.creation()).unwrap_or(0),
            serial_number: serial,
            label: b.share.name.clone(),
        },
        FsInfoClass::Size => FsInfo::Size {
            total_units: total,
            available_units: free,
            sectors_per_unit,
            bytes_per_sector: 512,
        },
        FsInfoClass::FullSize => FsInfo::FullSize {
            total_units: total,
            caller_available_units: free,
            actual_available_units: actual,
            sectors_per_unit,
            bytes_per_sector: 512,
        },
        FsInfoClass::Device => FsInfo::Device {
            device_type: 0x0000_0007,
            characteristics: 0x0000_0020,
        },
        FsInfoClass::Attribute => FsInfo::Attribute {
            attributes: fs_attr::CASE_SENSITIVE_SEARCH
                | fs_attr::CASE_PRESERVED_NAMES
                | fs_attr::UNICODE_ON_DISK
                | fs_attr::PERSISTENT_ACLS
                | fs_attr::SUPPORTS_SPARSE_FILES,
            max_name_len: 255,
            name: "NTFS".into(),
        },
        // No quotas are enforced: no thresholds, no limits.
        FsInfoClass::Control => FsInfo::Control {
            free_space_start_filtering: 0,
            free_space_threshold: 0,
            free_space_stop_filtering: 0,
            default_quota_threshold: u64::MAX,
            default_quota_limit: u64::MAX,
            flags: 0,
        },
        FsInfoClass::ObjectId => FsInfo::ObjectId {
            object_id: [0; 16],
            extended: [0; 48],
        },
        FsInfoClass::SectorSize => FsInfo::SectorSize {
            logical_bytes_per_sector: 512,
            physical_bytes_per_sector_for_atomicity: bsize as u32,
            physical_bytes_per_sector_for_performance: bsize as u32,
            effective_physical_bytes_per_sector_for_atomicity: bsize as u32,
            flags: 0x3, // ALIGNED_DEVICE | PARTITION_ALIGNED_ON_DEVICE
            byte_offset_for_sector_alignment: 0,
            byte_offset_for_partition_alignment: 0,
        },
        FsInfoClass::Other(_) => return Err(NtStatus::INVALID_INFO_CLASS),
    })
}

fn ea_list(open: &Open) -> Vec<Ea> {
    let p = super::path::proc_path(&*open.fd);
    stat::xattr_list(&p)
        .into_iter()
        .filter_map(|s| {
            let name = s.strip_prefix("user.")?;
            if name == "DOSATTRIB" || name.starts_with("DosStream.") {
                return None;
            }
            let value = stat::xattr_get(&p, &s)?;
            Some(Ea {
                flags: 0,
                name: name.to_string(),
                value,
            })
        })
        .collect()
}

fn ea_size(eas: &[Ea]) -> u32 {
    let mut v = Vec::new();
    crate::wire::info::encode_ea_list(eas, &mut v);
    if eas.is_empty() { 0 } else { v.len() as u32 }
}

pub(super) async fn query_info(
    b: &DiskBackend,
    _ctx: &RequestCtx,
    io: QueryInfoIn,
) -> NtResult<QueryInfoOut> {
    let open = b.get(io.file_id)?;
    let need = |bits: u32| {
        if open.access & bits == 0 {
            Err(NtStatus::ACCESS_DENIED)
        } else {
            Ok(())
        }
    };
    let st = stat::fstat(&*open.fd)?;
    let name = open.name();
    let dos = stat::dos_info(&*open.fd);
    let attributes = stat::attributes(&st, dos.attributes, &name);
    let delete_pending = open.table.state.delete_pending();
    match io.request {
        InfoRequest::File(class) => {
            let info = match class {
                FileInfoClass::Basic => {
                    need(access::FILE_READ_ATTRIBUTES)?;
                    FileInfo::Basic(basic(&st, attributes, dos.created))
                }
                FileInfoClass::Standard => FileInfo::Standard(standard(&st, delete_pending)),
                FileInfoClass::Internal => FileInfo::Internal {
                    index_number: st.ino,
                },
                FileInfoClass::Ea => FileInfo::Ea {
                    ea_size: ea_size(&ea_list(&open)),
                },
                FileInfoClass::Access => FileInfo::Access { flags: open.access },
                FileInfoClass::Name => FileInfo::Name {
                    name: smb_name(&open),
                },
                FileInfoClass::Position => FileInfo::Position {
                    offset: open.position.load(Ordering::Relaxed),
                },
                FileInfoClass::FullEa => {
                    need(access::FILE_READ_EA)?;
                    FileInfo::FullEa(ea_list(&open))
                }
                FileInfoClass::Mode => FileInfo::Mode {
                    mode: open.mode.load(Ordering::Relaxed),
                },
                FileInfoClass::Alignment => FileInfo::Alignment { requirement: 0 },
                FileInfoClass::All => {
                    need(access::FILE_READ_ATTRIBUTES)?;
                    FileInfo::All(AllInfo {
                        basic: basic(&st, attributes, dos.created),
                        standard: standard(&st, delete_pending),
                        index_number: st.ino,
                        ea_size: ea_size(&ea_list(&open)),
                        access_flags: open.access,
                        position: open.position.load(Ordering::Relaxed),
                        mode: open.mode.load(Ordering::Relaxed),
                        alignment: 0,
                        name: smb_name(&open),
                    })
                }
                FileInfoClass::AlternateName => FileInfo::AlternateName {
                    // The share root has no name of its own; Samba answers ".".
                    name: if name.is_empty() {
                        ".".into()
                    } else {
                        super::mangle::alternate_name(&name)
                    },
                },
                FileInfoClass::Stream => {
                    if st.is_dir() {
                        FileInfo::Stream(Vec::new())
                    } else {
                        FileInfo::Stream(vec![StreamEntry {
                            name: "::$DATA".into(),
                            size: st.size,
                            allocation_size: st.allocation(),
                        }])
                    }
                }
                FileInfoClass::Compression => FileInfo::Compression {
                    compressed_size: st.size,
                    format: 0,
                },
                FileInfoClass::NetworkOpen => {
                    need(access::FILE_READ_ATTRIBUTES)?;
                    FileInfo::NetworkOpen(stat::network_open_info(&st, attributes, dos.created))
                }
                FileInfoClass::AttributeTag => {
                    need(access::FILE_READ_ATTRIBUTES)?;
                    FileInfo::AttributeTag {
                        attributes,
                        reparse_tag: 0,
                    }
                }
                FileInfoClass::NormalizedName => FileInfo::NormalizedName {
                    name: smb_name(&open).trim_start_matches('\\').to_string(),
                },
                FileInfoClass::Id => {
                    let mut id = [0u8; 16];
                    id[..8].copy_from_slice(&st.ino.to_le_bytes());
                    FileInfo::Id {
                        volume_serial: st.dev,
                        file_id: id,
                    }
                }
                FileInfoClass::Pipe | FileInfoClass::PipeLocal => {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                FileInfoClass::Other(_) => return Err(NtStatus::INVALID_INFO_CLASS),
            };
            Ok(QueryInfoOut::File(info))
        }
        InfoRequest::Fs(class) => Ok(QueryInfoOut::Fs(fs_info(b, class)?)),
        InfoRequest::Security(wanted) => {
            // Asking for nothing needs no right and gets an empty
            // descriptor; the SACL needs a privilege nobody has here.
            if wanted & secinfo::SACL != 0 {
                return Err(NtStatus::PRIVILEGE_NOT_HELD);
            }
            if wanted & (secinfo::OWNER | secinfo::GROUP | secinfo::DACL) != 0 {
                need(access::READ_CONTROL)?;
            }
            Ok(QueryInfoOut::Security(security_descriptor(&st, wanted)))
        }
        InfoRequest::Other { .. } => Err(NtStatus::INVALID_INFO_CLASS),
    }
}

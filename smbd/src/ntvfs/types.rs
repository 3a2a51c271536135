//! The interface structures: one `In` per request, one `Out` per reply.

use super::info::{FileInfo, FileInfoClass, FsInfo, FsInfoClass, SecurityDescriptor, SetFileInfo};
use crate::wire::NtStatus;

/// The 16-byte SMB2 file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    /// In a related compound request: "the file of the previous request".
    pub const RELATED: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };
}

/// Requested or granted oplock (or lease) level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OplockLevel {
    None,
    LevelII,
    Exclusive,
    Batch,
    Lease,
    Unknown(u8),
}

impl OplockLevel {
    pub fn from_wire(v: u8) -> Self {
        match v {
            0x00 => OplockLevel::None,
            0x01 => OplockLevel::LevelII,
            0x08 => OplockLevel::Exclusive,
            0x09 => OplockLevel::Batch,
            0xff => OplockLevel::Lease,
            v => OplockLevel::Unknown(v),
        }
    }

    pub fn to_wire(self) -> u8 {
        match self {
            OplockLevel::None => 0x00,
            OplockLevel::LevelII => 0x01,
            OplockLevel::Exclusive => 0x08,
            OplockLevel::Batch => 0x09,
            OplockLevel::Lease => 0xff,
            OplockLevel::Unknown(v) => v,
        }
    }
}

/// CreateDisposition values.
pub mod disposition {
    pub const SUPERSEDE: u32 = 0;
    pub const OPEN: u32 = 1;
    pub const CREATE: u32 = 2;
    pub const OPEN_IF: u32 = 3;
    pub const OVERWRITE: u32 = 4;
    pub const OVERWRITE_IF: u32 = 5;
}

/// CreateOptions bits.
pub mod options {
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    pub const SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    pub const SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    pub const COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
    pub const NO_EA_KNOWLEDGE: u32 = 0x0000_0200;
    pub const RANDOM_ACCESS: u32 = 0x0000_0800;
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    pub const OPEN_BY_FILE_ID: u32 = 0x0000_2000;
    pub const OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
    pub const NO_COMPRESSION: u32 = 0x0000_8000;
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    pub const OPEN_NO_RECALL: u32 = 0x0040_0000;
    pub const OPEN_FOR_FREE_SPACE_QUERY: u32 = 0x0080_0000;
}

/// Access mask bits.
pub mod access {
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    pub const FILE_ADD_FILE: u32 = 0x0000_0002;
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    pub const FILE_ADD_SUBDIRECTORY: u32 = 0x0000_0004;
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    pub const DELETE: u32 = 0x0001_0000;
    pub const READ_CONTROL: u32 = 0x0002_0000;
    pub const WRITE_DAC: u32 = 0x0004_0000;
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const GENERIC_READ: u32 = 0x8000_0000;

    pub const FILE_ALL_ACCESS: u32 = 0x001f_01ff;
    pub const FILE_GENERIC_READ: u32 =
        READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE;
    pub const FILE_GENERIC_WRITE: u32 = READ_CONTROL
        | FILE_WRITE_DATA
        | FILE_WRITE_ATTRIBUTES
        | FILE_WRITE_EA
        | FILE_APPEND_DATA
        | SYNCHRONIZE;
    pub const FILE_GENERIC_EXECUTE: u32 =
        READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE;

    /// Generic bits mapped to specific file rights.
    pub fn map_generic(mask: u32) -> u32 {
        let mut m = mask & !(GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ);
        if mask & GENERIC_ALL != 0 {
            m |= FILE_ALL_ACCESS;
        }
        if mask & GENERIC_READ != 0 {
            m |= FILE_GENERIC_READ;
        }
        if mask & GENERIC_WRITE != 0 {
            m |= FILE_GENERIC_WRITE;
        }
        if mask & GENERIC_EXECUTE != 0 {
            m |= FILE_GENERIC_EXECUTE;
        }
        m
    }

    /// Rights that change a file's data, attributes or existence.
    pub const WRITE_RIGHTS: u32 = FILE_WRITE_DATA
        | FILE_APPEND_DATA
        | FILE_WRITE_EA
        | FILE_WRITE_ATTRIBUTES
        | DELETE
        | WRITE_DAC
        | WRITE_OWNER
        | FILE_DELETE_CHILD;
}

/// ShareAccess bits.
pub mod share {
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 2;
    pub const DELETE: u32 = 4;
}

/// File attribute bits.
pub mod attr {
    pub const READONLY: u32 = 0x0001;
    pub const HIDDEN: u32 = 0x0002;
    pub const SYSTEM: u32 = 0x0004;
    pub const DIRECTORY: u32 = 0x0010;
    pub const ARCHIVE: u32 = 0x0020;
    pub const NORMAL: u32 = 0x0080;
    pub const TEMPORARY: u32 = 0x0100;
    pub const SPARSE_FILE: u32 = 0x0200;
    pub const REPARSE_POINT: u32 = 0x0400;
    pub const COMPRESSED: u32 = 0x0800;
    pub const OFFLINE: u32 = 0x1000;
    pub const NOT_CONTENT_INDEXED: u32 = 0x2000;
    pub const ENCRYPTED: u32 = 0x4000;
}

/// A create context as the client sent it, or as we answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateContext {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIn {
    pub security_flags: u8,
    pub oplock: OplockLevel,
    pub impersonation: u32,
    pub create_flags: u64,
    pub desired_access: u32,
    pub file_attributes: u32,
    pub share_access: u32,
    pub disposition: u32,
    pub options: u32,
    /// The path as the client sent it (backslashes, no leading one).
    pub name: String,
    pub contexts: Vec<CreateContext>,
    /// The id the front end assigned to the open if it succeeds.
    pub file_id: FileId,
}

/// CreateAction values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAction {
    Superseded = 0,
    Opened = 1,
    Created = 2,
    Overwritten = 3,
}

/// Times, sizes and attributes as SMB reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkOpenInfo {
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub attributes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOut {
    pub oplock: OplockLevel,
    /// SMB2_CREATE_FLAG_REPARSEPOINT (3.x).
    pub flags: u8,
    pub action: CreateAction,
    pub info: NetworkOpenInfo,
    pub file_id: FileId,
    pub contexts: Vec<CreateContext>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseIn {
    pub file_id: FileId,
    /// SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB.
    pub postquery: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOut {
    /// Filled when post-query attributes were asked for.
    pub info: Option<NetworkOpenInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushIn {
    pub file_id: FileId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadIn {
    pub file_id: FileId,
    pub flags: u8,
    pub offset: u64,
    pub length: u32,
    pub minimum_count: u32,
    pub channel: u32,
    pub remaining_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOut {
    pub data: Vec<u8>,
    pub remaining: u32,
    /// A message-mode pipe had more of the message than fit
    /// (STATUS_BUFFER_OVERFLOW).
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteIn {
    pub file_id: FileId,
    pub offset: u64,
    pub channel: u32,
    pub remaining_bytes: u32,
    /// SMB2_WRITEFLAG_WRITE_THROUGH / WRITE_UNBUFFERED.
    pub flags: u32,
    /// A view into the received message.
    pub data: bytes::Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOut {
    pub count: u32,
    pub remaining: u32,
}

/// LOCK element flags.
pub mod lock_flags {
    pub const SHARED: u32 = 0x01;
    pub const EXCLUSIVE: u32 = 0x02;
    pub const UNLOCK: u32 = 0x04;
    pub const FAIL_IMMEDIATELY: u32 = 0x10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockElement {
    pub offset: u64,
    pub length: u64,
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockIn {
    pub file_id: FileId,
    pub lock_sequence: u32,
    pub locks: Vec<LockElement>,
}

/// IOCTL/FSCTL codes the server knows by name.
pub mod fsctl {
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const DFS_GET_REFERRALS_EX: u32 = 0x0006_01b0;
    pub const PIPE_PEEK: u32 = 0x0011_400c;
    pub const PIPE_WAIT: u32 = 0x0011_0018;
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_c017;
    pub const SRV_COPYCHUNK: u32 = 0x0014_40f2;
    pub const SRV_COPYCHUNK_WRITE: u32 = 0x0014_80f2;
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const SRV_READ_HASH: u32 = 0x0014_41bb;
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01d4;
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01fc;
    pub const SET_REPARSE_POINT: u32 = 0x0009_00a4;
    pub const GET_REPARSE_POINT: u32 = 0x0009_00a8;
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    pub const FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    pub const SET_SPARSE: u32 = 0x0009_00c4;
    pub const SET_ZERO_DATA: u32 = 0x0009_80c8;
    pub const QUERY_ALLOCATED_RANGES: u32 = 0x0009_40cf;
    pub const GET_INTEGRITY_INFORMATION: u32 = 0x0009_027c;
    pub const CREATE_OR_GET_OBJECT_ID: u32 = 0x0009_00c0;
    pub const GET_OBJECT_ID: u32 = 0x0009_009c;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlIn {
    pub ctl_code: u32,
    pub file_id: FileId,
    pub input: Vec<u8>,
    pub max_input_response: u32,
    pub max_output_response: u32,
    /// SMB2_0_IOCTL_IS_FSCTL.
    pub is_fsctl: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlOut {
    pub input: Vec<u8>,
    pub output: Vec<u8>,
    /// SUCCESS; BUFFER_OVERFLOW when `output` was cut to fit; or an error
    /// that still carries `output` (a copy chunk request over the limits
    /// answers INVALID_PARAMETER with the limits).
    pub status: NtStatus,
}

/// QUERY_DIRECTORY flags.
pub mod dir_flags {
    pub const RESTART_SCANS: u8 = 0x01;
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    pub const INDEX_SPECIFIED: u8 = 0x04;
    pub const REOPEN: u8 = 0x10;
}

/// Directory information classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirInfoClass {
    Directory = 1,
    FullDirectory = 2,
    BothDirectory = 3,
    Names = 12,
    IdBothDirectory = 37,
    IdFullDirectory = 38,
}

impl DirInfoClass {
    pub fn from_wire(v: u8) -> Option<Self> {
        Some(match v {
            1 => DirInfoClass::Directory,
            2 => DirInfoClass::FullDirectory,
            3 => DirInfoClass::BothDirectory,
            12 => DirInfoClass::Names,
            37 => DirInfoClass::IdBothDirectory,
            38 => DirInfoClass::IdFullDirectory,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirIn {
    pub class: DirInfoClass,
    pub flags: u8,
    pub file_index: u32,
    pub file_id: FileId,
    pub pattern: String,
    pub max_output: u32,
}

/// One directory entry, everything any class may report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub file_index: u32,
    pub info: NetworkOpenInfo,
    pub ea_size: u32,
    pub short_name: String,
    pub file_id: u64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirOut {
    pub entries: Vec<DirEntry>,
}

/// CHANGE_NOTIFY completion filter bits.
pub mod notify_filter {
    pub const FILE_NAME: u32 = 0x001;
    pub const DIR_NAME: u32 = 0x002;
    pub const ATTRIBUTES: u32 = 0x004;
    pub const SIZE: u32 = 0x008;
    pub const LAST_WRITE: u32 = 0x010;
    pub const LAST_ACCESS: u32 = 0x020;
    pub const CREATION: u32 = 0x040;
    pub const EA: u32 = 0x080;
    pub const SECURITY: u32 = 0x100;
    pub const STREAM_NAME: u32 = 0x200;
    pub const STREAM_SIZE: u32 = 0x400;
    pub const STREAM_WRITE: u32 = 0x800;
}

/// FILE_NOTIFY_INFORMATION actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyAction {
    Added = 1,
    Removed = 2,
    Modified = 3,
    RenamedOldName = 4,
    RenamedNewName = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyIn {
    pub file_id: FileId,
    /// SMB2_WATCH_TREE.
    pub watch_tree: bool,
    pub filter: u32,
    pub max_output: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyChange {
    pub action: NotifyAction,
    /// Relative to the watched directory, backslash-separated.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOut {
    Changes(Vec<NotifyChange>),
    /// More changed than fits: STATUS_NOTIFY_ENUM_DIR, the client rescans.
    Overflow,
}

/// What QUERY_INFO asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoRequest {
    File(FileInfoClass),
    Fs(FsInfoClass),
    /// AdditionalInformation bits (owner, group, DACL, SACL).
    Security(u32),
    /// An info type or class we do not know (answered INVALID_INFO_CLASS
    /// or NOT_SUPPORTED by the backend).
    Other {
        info_type: u8,
        class: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoIn {
    pub file_id: FileId,
    pub request: InfoRequest,
    pub output_buffer_length: u32,
    pub flags: u32,
    /// The input buffer (EA names for FileFullEaInformation queries).
    pub input: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryInfoOut {
    File(FileInfo),
    Fs(FsInfo),
    Security(SecurityDescriptor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfoIn {
    pub file_id: FileId,
    pub info: SetFileInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OplockBreakIn {
    pub file_id: FileId,
    pub level: OplockLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OplockBreakOut {
    pub level: OplockLevel,
}

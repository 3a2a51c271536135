//! NTSTATUS values the server answers with.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $v:expr,)*) => {
        impl NtStatus {
            $(pub const $name: NtStatus = NtStatus($v);)*
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000,
    PENDING = 0x0000_0103,
    NOTIFY_CLEANUP = 0x0000_010b,
    NOTIFY_ENUM_DIR = 0x0000_010c,
    BUFFER_OVERFLOW = 0x8000_0005,
    NO_MORE_FILES = 0x8000_0006,
    STOPPED_ON_SYMLINK = 0x8000_002d,
    UNSUCCESSFUL = 0xc000_0001,
    NOT_IMPLEMENTED = 0xc000_0002,
    INVALID_INFO_CLASS = 0xc000_0003,
    INFO_LENGTH_MISMATCH = 0xc000_0004,
    INVALID_HANDLE = 0xc000_0008,
    INVALID_PARAMETER = 0xc000_000d,
    NO_SUCH_DEVICE = 0xc000_000e,
    NO_SUCH_FILE = 0xc000_000f,
    INVALID_DEVICE_REQUEST = 0xc000_0010,
    END_OF_FILE = 0xc000_0011,
    MORE_PROCESSING_REQUIRED = 0xc000_0016,
    NO_MEMORY = 0xc000_0017,
    ACCESS_DENIED = 0xc000_0022,
    BUFFER_TOO_SMALL = 0xc000_0023,
    OBJECT_NAME_INVALID = 0xc000_0033,
    OBJECT_NAME_NOT_FOUND = 0xc000_0034,
    OBJECT_NAME_COLLISION = 0xc000_0035,
    OBJECT_PATH_INVALID = 0xc000_0039,
    OBJECT_PATH_NOT_FOUND = 0xc000_003a,
    OBJECT_PATH_SYNTAX_BAD = 0xc000_003b,
    SHARING_VIOLATION = 0xc000_0043,
    EAS_NOT_SUPPORTED = 0xc000_004f,
    EA_TOO_LARGE = 0xc000_0050,
    FILE_LOCK_CONFLICT = 0xc000_0054,
    LOCK_NOT_GRANTED = 0xc000_0055,
    DELETE_PENDING = 0xc000_0056,
    PRIVILEGE_NOT_HELD = 0xc000_0061,
    LOGON_FAILURE = 0xc000_006d,
    ACCOUNT_RESTRICTION = 0xc000_006e,
    ACCOUNT_DISABLED = 0xc000_0072,
    RANGE_NOT_LOCKED = 0xc000_007e,
    DISK_FULL = 0xc000_007f,
    INSUFFICIENT_RESOURCES = 0xc000_009a,
    FILE_IS_A_DIRECTORY = 0xc000_00ba,
    NOT_SUPPORTED = 0xc000_00bb,
    NETWORK_NAME_DELETED = 0xc000_00c9,
    BAD_NETWORK_NAME = 0xc000_00cc,
    REQUEST_NOT_ACCEPTED = 0xc000_00d0,
    INTERNAL_ERROR = 0xc000_00e5,
    DIRECTORY_NOT_EMPTY = 0xc000_0101,
    NOT_A_DIRECTORY = 0xc000_0103,
    NAME_TOO_LONG = 0xc000_0106,
    CANCELLED = 0xc000_0120,
    CANNOT_DELETE = 0xc000_0121,
    FILE_CLOSED = 0xc000_0128,
    INVALID_OPLOCK_PROTOCOL = 0xc000_00e3,
    PIPE_BROKEN = 0xc000_014b,
    USER_SESSION_DELETED = 0xc000_0203,
    NETWORK_SESSION_EXPIRED = 0xc000_035c,
    FS_DRIVER_REQUIRED = 0xc000_019c,
    NOT_A_REPARSE_POINT = 0xc000_0275,
    ACCESS_DENIED_SIGNING = 0xc000_a100,
    INVALID_NETWORK_RESPONSE = 0xc000_00c3,
    TOO_MANY_OPENED_FILES = 0xc000_011f,
    IO_TIMEOUT = 0xc000_00b5,
    FILE_NOT_AVAILABLE = 0xc000_0467,
    OBJECTID_NOT_FOUND = 0xc000_02f0,
    NOT_SAME_DEVICE = 0xc000_00d4,
    MEDIA_WRITE_PROTECTED = 0xc000_00a2,
    NO_EAS_ON_FILE = 0xc000_0052,
    INVALID_LOCK_SEQUENCE = 0xc000_001e,
    USER_MAPPED_FILE = 0xc000_0243,
    DUPLICATE_OBJECTID = 0xc000_022a,
}

impl NtStatus {
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "NtStatus({:#010x})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Maps a POSIX error from a system call to the status a client expects.
pub fn from_errno(e: nix::errno::Errno) -> NtStatus {
    use nix::errno::Errno::*;
    match e {
        ENOENT => NtStatus::OBJECT_NAME_NOT_FOUND,
        ENOTDIR => NtStatus::OBJECT_PATH_NOT_FOUND,
        EEXIST => NtStatus::OBJECT_NAME_COLLISION,
        EACCES | EPERM => NtStatus::ACCESS_DENIED,
        EROFS => NtStatus::MEDIA_WRITE_PROTECTED,
        ENOSPC | EDQUOT => NtStatus::DISK_FULL,
        EISDIR => NtStatus::FILE_IS_A_DIRECTORY,
        ENOTEMPTY => NtStatus::DIRECTORY_NOT_EMPTY,
        ENAMETOOLONG => NtStatus::NAME_TOO_LONG,
        EXDEV => NtStatus::NOT_SAME_DEVICE,
        ELOOP => NtStatus::STOPPED_ON_SYMLINK,
        EMFILE | ENFILE => NtStatus::TOO_MANY_OPENED_FILES,
        ENOMEM => NtStatus::NO_MEMORY,
        EINVAL => NtStatus::INVALID_PARAMETER,
        EBADF => NtStatus::INVALID_HANDLE,
        _ => NtStatus::UNSUCCESSFUL,
    }
}

pub fn from_io(e: &std::io::Error) -> NtStatus {
    match e.raw_os_error() {
        Some(n) => from_errno(nix::errno::Errno::from_raw(n)),
        None => NtStatus::UNSUCCESSFUL,
    }
}

//! Typed file, file-system and security information (MS-FSCC 2.4, 2.5,
//! MS-DTYP 2.4.6): what QUERY_INFO returns and SET_INFO carries.

use super::types::NetworkOpenInfo;

/// File information classes (FileXxxInformation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileInfoClass {
    Basic,
    Standard,
    Internal,
    Ea,
    Access,
    Name,
    Position,
    FullEa,
    Mode,
    Alignment,
    All,
    AlternateName,
    Stream,
    Pipe,
    PipeLocal,
    Compression,
    NetworkOpen,
    AttributeTag,
    NormalizedName,
    Id,
    /// A class we do not serve; answered INVALID_INFO_CLASS or NOT_SUPPORTED.
    Other(u8),
}

impl FileInfoClass {
    pub fn from_wire(v: u8) -> Self {
        match v {
            4 => FileInfoClass::Basic,
            5 => FileInfoClass::Standard,
            6 => FileInfoClass::Internal,
            7 => FileInfoClass::Ea,
            8 => FileInfoClass::Access,
            9 => FileInfoClass::Name,
            14 => FileInfoClass::Position,
            15 => FileInfoClass::FullEa,
            16 => FileInfoClass::Mode,
            17 => FileInfoClass::Alignment,
            18 => FileInfoClass::All,
            21 => FileInfoClass::AlternateName,
            22 => FileInfoClass::Stream,
            23 => FileInfoClass::Pipe,
            24 => FileInfoClass::PipeLocal,
            28 => FileInfoClass::Compression,
            34 => FileInfoClass::NetworkOpen,
            35 => FileInfoClass::AttributeTag,
            48 => FileInfoClass::NormalizedName,
            59 => FileInfoClass::Id,
            v => FileInfoClass::Other(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BasicInfo {
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub attributes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StandardInfo {
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub number_of_links: u32,
    pub delete_pending: bool,
    pub directory: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllInfo {
    pub basic: BasicInfo,
    pub standard: StandardInfo,
    pub index_number: u64,
    pub ea_size: u32,
    pub access_flags: u32,
    pub position: u64,
    pub mode: u32,
    pub alignment: u32,
    /// The path from the share root, starting with a backslash.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// As Windows names them: "::$DATA" for the main stream,
    /// ":name:$DATA" for named ones.
    pub name: String,
    pub size: u64,
    pub allocation_size: u64,
}

/// An extended attribute (FILE_FULL_EA_INFORMATION entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ea {
    pub flags: u8,
    pub name: String,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileInfo {
    Basic(BasicInfo),
    Standard(StandardInfo),
    Internal {
        index_number: u64,
    },
    Ea {
        ea_size: u32,
    },
    Access {
        flags: u32,
    },
    Name {
        name: String,
    },
    Position {
        offset: u64,
    },
    FullEa(Vec<Ea>),
    Mode {
        mode: u32,
    },
    Alignment {
        requirement: u32,
    },
    All(AllInfo),
    AlternateName {
        name: String,
    },
    Stream(Vec<StreamEntry>),
    Pipe {
        read_mode: u32,
        completion_mode: u32,
    },
    PipeLocal(PipeLocalInfo),
    Compression {
        compressed_size: u64,
        format: u16,
    },
    NetworkOpen(NetworkOpenInfo),
    AttributeTag {
        attributes: u32,
        reparse_tag: u32,
    },
    NormalizedName {
        name: String,
    },
    Id {
        volume_serial: u64,
        file_id: [u8; 16],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipeLocalInfo {
    pub named_pipe_type: u32,
    pub configuration: u32,
    pub maximum_instances: u32,
    pub current_instances: u32,
    pub inbound_quota: u32,
    pub read_data_available: u32,
    pub outbound_quota: u32,
    pub write_quota_available: u32,
    pub state: u32,
    pub end: u32,
}

/// File system information classes (FileFsXxxInformation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsInfoClass {
    Volume,
    Size,
    Device,
    Attribute,
    /// FileFsControlInformation (quotas).
    Control,
    FullSize,
    ObjectId,
    SectorSize,
    Other(u8),
}

impl FsInfoClass {
    pub fn from_wire(v: u8) -> Self {
        match v {
            1 => FsInfoClass::Volume,
            3 => FsInfoClass::Size,
            4 => FsInfoClass::Device,
            5 => FsInfoClass::Attribute,
            6 => FsInfoClass::Control,
            7 => FsInfoClass::FullSize,
            8 => FsInfoClass::ObjectId,
            11 => FsInfoClass::SectorSize,
            v => FsInfoClass::Other(v),
        }
    }
}

/// FILE_FS_ATTRIBUTE_INFORMATION flags.
pub mod fs_attr {
    pub const CASE_SENSITIVE_SEARCH: u32 = 0x0000_0001;
    pub const CASE_PRESERVED_NAMES: u32 = 0x0000_0002;
    pub const UNICODE_ON_DISK: u32 = 0x0000_0004;
    pub const PERSISTENT_ACLS: u32 = 0x0000_0008;
    pub const SUPPORTS_SPARSE_FILES: u32 = 0x0000_0040;
    pub const SUPPORTS_OBJECT_IDS: u32 = 0x0001_0000;
    pub const NAMED_STREAMS: u32 = 0x0004_0000;
    pub const SUPPORTS_BLOCK_REFCOUNTING: u32 = 0x0800_0000;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsInfo {
    Volume {
        creation_time: u64,
        serial_number: u32,
        label: String,
    },
    Size {
        total_units: u64,
        available_units: u64,
        sectors_per_unit: u32,
        bytes_per_sector: u32,
    },
    Device {
        device_type: u32,
        characteristics: u32,
    },
    Attribute {
        attributes: u32,
        max_name_len: u32,
        name: String,
    },
    Control {
        free_space_start_filtering: u64,
        free_space_threshold: u64,
        free_space_stop_filtering: u64,
        default_quota_threshold: u64,
        default_quota_limit: u64,
        flags: u32,
    },
    FullSize {
        total_units: u64,
        caller_available_units: u64,
        actual_available_units: u64,
        sectors_per_unit: u32,
        bytes_per_sector: u32,
    },
    ObjectId {
        object_id: [u8; 16],
        extended: [u8; 48],
    },
    SectorSize {
        logical_bytes_per_sector: u32,
        physical_bytes_per_sector_for_atomicity: u32,
        physical_bytes_per_sector_for_performance: u32,
        effective_physical_bytes_per_sector_for_atomicity: u32,
        flags: u32,
        byte_offset_for_sector_alignment: u32,
        byte_offset_for_partition_alignment: u32,
    },
}

/// A security identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sid {
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    pub fn new(authority: u64, subs: &[u32]) -> Sid {
        Sid {
            authority,
            sub_authorities: subs.to_vec(),
        }
    }

    /// Samba's Unix user SID S-1-22-1-uid.
    pub fn unix_user(uid: u32) -> Sid {
        Sid::new(22, &[1, uid])
    }

    /// Samba's Unix group SID S-1-22-2-gid.
    pub fn unix_group(gid: u32) -> Sid {
        Sid::new(22, &[2, gid])
    }

    /// Everyone, S-1-1-0.
    pub fn world() -> Sid {
        Sid::new(1, &[0])
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S-1-{}", self.authority)?;
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// ACCESS_ALLOWED_ACE_TYPE 0, ACCESS_DENIED_ACE_TYPE 1, ...
    pub kind: u8,
    pub flags: u8,
    pub mask: u32,
    pub sid: Sid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub revision: u8,
    pub aces: Vec<Ace>,
}

/// SECURITY_INFORMATION bits (AdditionalInformation).
pub mod secinfo {
    pub const OWNER: u32 = 0x01;
    pub const GROUP: u32 = 0x02;
    pub const DACL: u32 = 0x04;
    pub const SACL: u32 = 0x08;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// Control flags other than the "present" and "self-relative" bits,
    /// which the encoder derives.
    pub control: u16,
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    pub dacl: Option<Acl>,
    pub sacl: Option<Acl>,
}

/// What SET_INFO asks to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetFileInfo {
    /// Zero times mean "leave as is", -1 (u64::MAX) "stop updating".
    Basic(BasicInfo),
    Rename {
        replace_if_exists: bool,
        root_directory: u64,
        name: String,
    },
    Link {
        replace_if_exists: bool,
        root_directory: u64,
        name: String,
    },
    Disposition {
        delete_pending: bool,
    },
    Position(u64),
    Mode(u32),
    Allocation(u64),
    EndOfFile(u64),
    ValidDataLength(u64),
    FullEa(Vec<Ea>),
    ShortName(String),
    Security {
        additional: u32,
        descriptor: SecurityDescriptor,
    },
    Other {
        info_type: u8,
        class: u8,
        data: Vec<u8>,
    },
}

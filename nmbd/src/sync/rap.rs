//! RAP NetServerEnum2 and NetServerEnum3 ([MS-RAP] 2.5.5.2, 3.2.5.15),
//! carried in a TRANSACTION on `\PIPE\LANMAN`. All little-endian; strings
//! in the OEM code page, NUL-terminated.
//!
//! ```text
//! Request parameters:
//!   0 opcode (104 NetServerEnum2, 215 NetServerEnum3)
//!   2 parameter descriptor "WrLehDz" (Enum3: "WrLehDzz"), NUL
//!     data descriptor "B16BBDz", NUL
//!     level (u16, 1)  receive buffer size (u16)  server type (u32)
//!     domain, NUL     (Enum3:) first name to return, NUL
//! Response parameters:
//!   0 status  2 converter  4 entries returned  6 entries available
//! Response data: entries returned x SERVER_INFO_1, then the strings:
//!   0 name[16] (NUL-terminated inside)  16 version major  17 version minor
//!  18 server type (u32)  22 comment pointer (u32; its low 16 bits minus
//!     the converter are the comment's offset in the data)
//! ```

use crate::wire::cursor::{Reader, Short, oem_to_string, string_to_oem};

pub mod opcode {
    pub const NET_SERVER_ENUM2: u16 = 104;
    pub const NET_SERVER_ENUM3: u16 = 215;
}

pub const PARAM_DESC_ENUM2: &str = "WrLehDz";
pub const PARAM_DESC_ENUM3: &str = "WrLehDzz";
/// SERVER_INFO_1: name[16], version major, version minor, type, comment.
pub const DATA_DESC_INFO_1: &str = "B16BBDz";
pub const INFO_LEVEL_1: u16 = 1;
pub const SERVER_INFO_1_LEN: usize = 26;

/// The most entries one list may hold; a longer list is cut here.
pub const MAX_ENTRIES: usize = 4096;

/// Server type bits this module uses (the full set is in
/// [`crate::wire::browse::sv_type`]).
pub mod sv_type {
    pub const ALL: u32 = 0xffff_ffff;
    pub const LOCAL_LIST_ONLY: u32 = 0x4000_0000;
    pub const DOMAIN_ENUM: u32 = 0x8000_0000;
}

/// RAP status values (Win32 and NERR codes).
pub mod status {
    pub const SUCCESS: u16 = 0;
    pub const ACCESS_DENIED: u16 = 5;
    pub const NOT_SUPPORTED: u16 = 50;
    pub const INVALID_PARAMETER: u16 = 87;
    pub const INVALID_LEVEL: u16 = 124;
    pub const MORE_DATA: u16 = 234;
    pub const BUF_TOO_SMALL: u16 = 2123;
    pub const REMOTE_ERR: u16 = 2127;
    pub const NO_BROWSER_SERVERS_FOUND: u16 = 6118;
}

pub fn status_name(s: u16) -> &'static str {
    match s {
        status::SUCCESS => "success",
        status::ACCESS_DENIED => "access denied",
        status::NOT_SUPPORTED => "not supported",
        status::INVALID_PARAMETER => "invalid parameter",
        status::INVALID_LEVEL => "invalid level",
        status::MORE_DATA => "more data",
        status::BUF_TOO_SMALL => "buffer too small",
        status::REMOTE_ERR => "remote error",
        status::NO_BROWSER_SERVERS_FOUND => "no browser servers found",
        _ => "unknown status",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RapError {
    #[error("response parameters too short: {0} missing")]
    Truncated(&'static str),
    #[error(
        "{returned} entries of {SERVER_INFO_1_LEN} bytes do not fit the {data_len} bytes of data"
    )]
    EntriesBeyondData { returned: u16, data_len: usize },
    #[error("{what} {value:?} is too long for a RAP request")]
    TooLong { what: &'static str, value: String },
    #[error("request: {0}")]
    BadRequest(&'static str),
}

impl From<Short> for RapError {
    fn from(s: Short) -> Self {
        RapError::Truncated(s.0)
    }
}

/// One SERVER_INFO_1 entry: a server, or with SV_TYPE_DOMAIN_ENUM a
/// workgroup (its comment then names the workgroup's master browser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RapServer {
    pub name: String,
    pub version_major: u8,
    pub version_minor: u8,
    pub server_type: u32,
    pub comment: String,
}

/// NetServerEnum2 or, with `first_name`, NetServerEnum3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetServerEnumRequest {
    pub level: u16,
    pub receive_size: u16,
    pub server_type: u32,
    /// Sent upper-cased, as Samba and Windows do.
    pub domain: String,
    /// NetServerEnum3: the name to continue from (the last one received).
    pub first_name: Option<String>,
}

/// Longest domain or name we put in a request (Samba reads them into a
/// 256-byte buffer).
const MAX_REQUEST_STRING: usize = 255;

impl NetServerEnumRequest {
    pub fn opcode(&self) -> u16 {
        if self.first_name.is_some() {
            opcode::NET_SERVER_ENUM3
        } else {
            opcode::NET_SERVER_ENUM2
        }
    }

    pub fn call_name(&self) -> &'static str {
        if self.first_name.is_some() {
            "NetServerEnum3"
        } else {
            "NetServerEnum2"
        }
    }

    /// The TRANSACTION parameters.
    pub fn emit(&self) -> Result<Vec<u8>, RapError> {
        let domain = string_to_oem(&self.domain.to_uppercase());
        check_len("domain", &self.domain, &domain)?;
        let mut p = Vec::with_capacity(64);
        // 0 opcode
        p.extend_from_slice(&self.opcode().to_le_bytes());
        // 2 descriptors
        let desc = if self.first_name.is_some() {
            PARAM_DESC_ENUM3
        } else {
            PARAM_DESC_ENUM2
        };
        put_cstr(&mut p, desc.as_bytes());
        put_cstr(&mut p, DATA_DESC_INFO_1.as_bytes());
        // level, receive buffer size, server type
        p.extend_from_slice(&self.level.to_le_bytes());
        p.extend_from_slice(&self.receive_size.to_le_bytes());
        p.extend_from_slice(&self.server_type.to_le_bytes());
        // domain, then (Enum3) the first name, sent as received
        put_cstr(&mut p, &domain);
        if let Some(first) = &self.first_name {
            let b = string_to_oem(first);
            check_len("first name", first, &b)?;
            put_cstr(&mut p, &b);
        }
        Ok(p)
    }

    /// Parses request parameters (what a server sees); for tests and for
    /// symmetry with [`Self::emit`].
    pub fn parse(params: &[u8]) -> Result<NetServerEnumRequest, RapError> {
        let mut r = Reader::new(params);
        // 0
        let op = r.u16_le("opcode")?;
        // 2
        let desc = r.cstr();
        let enum3 = match (op, desc) {
            (opcode::NET_SERVER_ENUM2, b"WrLehDz") => false,
            (opcode::NET_SERVER_ENUM3, b"WrLehDzz") => true,
            _ => return Err(RapError::BadRequest("not NetServerEnum2/3")),
        };
        if r.cstr() != DATA_DESC_INFO_1.as_bytes() {
            return Err(RapError::BadRequest("data descriptor is not B16BBDz"));
        }
        let level = r.u16_le("level")?;
        let receive_size = r.u16_le("receive buffer size")?;
        let server_type = r.u32_le("server type")?;
        let domain = oem_to_string(r.cstr());
        let first_name = enum3.then(|| oem_to_string(r.cstr()));
        Ok(NetServerEnumRequest {
            level,
            receive_size,
            server_type,
            domain,
            first_name,
        })
    }
}

fn check_len(what: &'static str, s: &str, b: &[u8]) -> Result<(), RapError> {
    if b.len() > MAX_REQUEST_STRING || b.contains(&0) {
        return Err(RapError::TooLong {
            what,
            value: s.to_string(),
        });
    }
    Ok(())
}

fn put_cstr(p: &mut Vec<u8>, s: &[u8]) {
    p.extend_from_slice(s);
    p.push(0);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetServerEnumResponse {
    pub status: u16,
    /// How many the server has (for Enum3: from the first name on),
    /// including those in this reply.
    pub entries_available: u16,
    /// The entries, as many as "entries returned" says; empty when the
    /// status is neither success nor more data.
    pub servers: Vec<RapServer>,
}

impl NetServerEnumResponse {
    /// `params` and `data` are the reassembled TRANSACTION reply.
    pub fn parse(params: &[u8], data: &[u8]) -> Result<NetServerEnumResponse, RapError> {
        let mut p = Reader::new(params);
        // 0 status
        let status = p.u16_le("status")?;
        if status != status::SUCCESS && status != status::MORE_DATA {
            // Error replies may stop after the status (Samba's carry a
            // converter too); nothing else in them is meaningful.
            return Ok(NetServerEnumResponse {
                status,
                entries_available: 0,
                servers: Vec::new(),
            });
        }
        // 2 converter, 4 entries returned, 6 entries available
        let converter = p.u16_le("converter")?;
        let returned = p.u16_le("entries returned")?;
        let entries_available = p.u16_le("entries available")?;
        let fixed = usize::from(returned) * SERVER_INFO_1_LEN;
        if fixed > data.len() {
            return Err(RapError::EntriesBeyondData {
                returned,
                data_len: data.len(),
            });
        }
        let mut r = Reader::new(&data[..fixed]);
        let mut servers = Vec::with_capacity(usize::from(returned));
        for _ in 0..returned {
            let mut e = r.sub(SERVER_INFO_1_LEN, "entry")?;
            // 0 name[16]
            let raw = e.take(16, "name")?;
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let name = oem_to_string(&raw[..end]);
            // 16, 17, 18, 22
            let version_major = e.u8("version major")?;
            let version_minor = e.u8("version minor")?;
            let server_type = e.u32_le("server type")?;
            let pointer = e.u32_le("comment pointer")?;
            servers.push(RapServer {
                name,
                version_major,
                version_minor,
                server_type,
                comment: comment_at(data, pointer, converter),
            });
        }
        Ok(NetServerEnumResponse {
            status,
            entries_available,
            servers,
        })
    }
}

/// The comment a pointer refers to: its low 16 bits minus the converter
/// are an offset into the data, where a NUL-terminated string starts (an
/// unterminated one runs to the end of the data). A pointer of 0 (after
/// the converter) means no comment, as Samba reads it; one that points
/// outside the data gives an empty comment, the entry is kept.
fn comment_at(data: &[u8], pointer: u32, converter: u16) -> String {
    let low = (pointer & 0xffff) as u16;
    let Some(offset) = low.checked_sub(converter).map(usize::from) else {
        return String::new();
    };
    if offset == 0 || offset >= data.len() {
        return String::new();
    }
    // Many entries may point at one long unterminated string: read at
    // most MAX_COMMENT bytes of it (Samba keeps 48 when it serves them).
    let end = data.len().min(offset + MAX_COMMENT);
    oem_to_string(Reader::new(&data[offset..end]).cstr())
}

/// The longest comment taken from a reply.
pub const MAX_COMMENT: usize = 256;

//! Browser frames (MS-BRWS 2.2): the data of a mailslot write to
//! `\MAILSLOT\BROWSE`. Offsets below count from the opcode byte.
//!
//! ```text
//! 1, 12, 15 announcements:
//!   0 opcode  1 update count  2 periodicity (ms, u32)  6 name[16]
//!  22 os major  23 os minor  24 server type (u32)  28 browser major
//!  29 browser minor  30 signature (u16)  32 comment, NUL-terminated
//! 2 AnnouncementRequest:  0 opcode  1 reserved  2 response name, NUL
//! 8 RequestElection:  0 opcode  1 version  2 criteria (u32)  6 uptime
//!   (u32, ms)  10 reserved (u32)  14 server name, NUL
//! 9 GetBackupListRequest:  0 opcode  1 count  2 token (u32)
//! 10 GetBackupListResponse:  0 opcode  1 count  2 token  6 names, each NUL
//! 11 BecomeBackup, 13 MasterAnnouncement:  0 opcode  1 name, NUL
//! 14 ResetStateRequest:  0 opcode  1 options
//! ```
//!
//! Strings: a NUL ends them; an unterminated one runs to the end of the
//! frame (never further). A string longer than the field it is emitted
//! into is cut to fit ([`MAX_NAME`], [`MAX_COMMENT`]), so we never emit
//! what Windows would reject; on parse, a name field is exactly 16 bytes
//! and a comment is whatever the datagram holds.

use super::cursor::{Reader, Short, Writer, oem_to_string, string_to_oem};

pub mod opcode {
    pub const HOST_ANNOUNCEMENT: u8 = 1;
    pub const ANNOUNCEMENT_REQUEST: u8 = 2;
    pub const REQUEST_ELECTION: u8 = 8;
    pub const GET_BACKUP_LIST_REQUEST: u8 = 9;
    pub const GET_BACKUP_LIST_RESPONSE: u8 = 10;
    pub const BECOME_BACKUP: u8 = 11;
    pub const DOMAIN_ANNOUNCEMENT: u8 = 12;
    pub const MASTER_ANNOUNCEMENT: u8 = 13;
    pub const RESET_STATE_REQUEST: u8 = 14;
    pub const LOCAL_MASTER_ANNOUNCEMENT: u8 = 15;
}

/// Announcement offsets.
pub mod ann_field {
    pub type Field = std::ops::Range<usize>;
    pub const OPCODE: usize = 0;
    pub const UPDATE_COUNT: usize = 1;
    pub const PERIODICITY: Field = 2..6;
    pub const SERVER_NAME: Field = 6..22;
    pub const OS_MAJOR: usize = 22;
    pub const OS_MINOR: usize = 23;
    pub const SERVER_TYPE: Field = 24..28;
    pub const BROWSER_MAJOR: usize = 28;
    pub const BROWSER_MINOR: usize = 29;
    pub const SIGNATURE: Field = 30..32;
    pub const COMMENT: usize = 32;
}

/// The longest name a 16-byte name field holds with its NUL.
pub const MAX_NAME: usize = 15;
/// The longest comment we emit (MS-BRWS: at most 43 bytes of
/// comment plus NUL, as Windows and Samba send).
pub const MAX_COMMENT: usize = 43;

/// Server type bits (MS-BRWS 2.2.1.1.1 / SV_TYPE_*).
pub mod sv_type {
    pub const WORKSTATION: u32 = 0x0000_0001;
    pub const SERVER: u32 = 0x0000_0002;
    pub const DOMAIN_CTRL: u32 = 0x0000_0008;
    pub const DOMAIN_BAKCTRL: u32 = 0x0000_0010;
    pub const TIME_SOURCE: u32 = 0x0000_0020;
    pub const DOMAIN_MEMBER: u32 = 0x0000_0100;
    pub const PRINTQ_SERVER: u32 = 0x0000_0200;
    pub const SERVER_UNIX: u32 = 0x0000_0800;
    pub const NT: u32 = 0x0000_1000;
    pub const SERVER_NT: u32 = 0x0000_8000;
    pub const POTENTIAL_BROWSER: u32 = 0x0001_0000;
    pub const BACKUP_BROWSER: u32 = 0x0002_0000;
    pub const MASTER_BROWSER: u32 = 0x0004_0000;
    pub const DOMAIN_MASTER: u32 = 0x0008_0000;
    pub const WIN95_PLUS: u32 = 0x0040_0000;
    pub const LOCAL_LIST_ONLY: u32 = 0x4000_0000;
    pub const DOMAIN_ENUM: u32 = 0x8000_0000;
}

/// ResetStateRequest options.
pub mod reset {
    pub const STOP_MASTER: u8 = 0x01;
    pub const CLEAR_ALL: u8 = 0x02;
    pub const STOP: u8 = 0x04;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrowseError {
    #[error("browser frame too short: {0} missing")]
    Truncated(&'static str),
    #[error("empty browser frame")]
    Empty,
    #[error("unknown browser opcode {0}")]
    UnknownOpcode(u8),
    #[error("buffer too small to emit {0}")]
    NoRoom(&'static str),
}

impl From<Short> for BrowseError {
    fn from(s: Short) -> Self {
        BrowseError::Truncated(s.0)
    }
}

/// HostAnnouncement, DomainAnnouncement and LocalMasterAnnouncement share
/// this body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announcement {
    pub update_count: u8,
    /// Until the next announcement, in milliseconds.
    pub periodicity_ms: u32,
    /// The server (for a DomainAnnouncement: the workgroup).
    pub server_name: String,
    pub os_major: u8,
    pub os_minor: u8,
    pub server_type: u32,
    /// Browser protocol version, 15.1 (for a DomainAnnouncement Samba
    /// and Windows put other values here; kept as sent).
    pub browser_major: u8,
    pub browser_minor: u8,
    /// 0xAA55 in host announcements.
    pub signature: u16,
    /// The server string (for a DomainAnnouncement: the master's name).
    pub comment: String,
}

/// RequestElection body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    pub version: u8,
    pub criteria: u32,
    /// Samba sends and compares milliseconds.
    pub uptime_ms: u32,
    pub server_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseFrame {
    HostAnnouncement(Announcement),
    AnnouncementRequest {
        /// Reserved byte, kept (Samba puts the workgroup token here).
        reserved: u8,
        response_name: String,
    },
    RequestElection(Election),
    GetBackupListRequest {
        count: u8,
        token: u32,
    },
    GetBackupListResponse {
        token: u32,
        servers: Vec<String>,
    },
    BecomeBackup {
        browser: String,
    },
    DomainAnnouncement(Announcement),
    MasterAnnouncement {
        master: String,
    },
    ResetStateRequest {
        options: u8,
    },
    LocalMasterAnnouncement(Announcement),
}

impl BrowseFrame {
    pub fn opcode(&self) -> u8 {
        use opcode::*;
        match self {
            BrowseFrame::HostAnnouncement(_) => HOST_ANNOUNCEMENT,
            BrowseFrame::AnnouncementRequest { .. } => ANNOUNCEMENT_REQUEST,
            BrowseFrame::RequestElection(_) => REQUEST_ELECTION,
            BrowseFrame::GetBackupListRequest { .. } => GET_BACKUP_LIST_REQUEST,
            BrowseFrame::GetBackupListResponse { .. } => GET_BACKUP_LIST_RESPONSE,
            BrowseFrame::BecomeBackup { .. } => BECOME_BACKUP,
            BrowseFrame::DomainAnnouncement(_) => DOMAIN_ANNOUNCEMENT,
            BrowseFrame::MasterAnnouncement { .. } => MASTER_ANNOUNCEMENT,
            BrowseFrame::ResetStateRequest { .. } => RESET_STATE_REQUEST,
            BrowseFrame::LocalMasterAnnouncement(_) => LOCAL_MASTER_ANNOUNCEMENT,
        }
    }

    pub fn parse(frame: &[u8]) -> Result<BrowseFrame, BrowseError> {
        let mut r = Reader::new(frame);
        // 0
        let op = r.u8("opcode").map_err(|_| BrowseError::Empty)?;
        Ok(match op {
            opcode::HOST_ANNOUNCEMENT => BrowseFrame::HostAnnouncement(parse_announcement(r)?),
            opcode::DOMAIN_ANNOUNCEMENT => BrowseFrame::DomainAnnouncement(parse_announcement(r)?),
            opcode::LOCAL_MASTER_ANNOUNCEMENT => {
                BrowseFrame::LocalMasterAnnouncement(parse_announcement(r)?)
            }
            opcode::ANNOUNCEMENT_REQUEST => {
                // 1
                let reserved = r.u8("reserved")?;
                // 2: the name. Samba writes it one byte late (at 3,
                // leaving a NUL at 2): an empty string followed by more
                // bytes is that off-by-one, and the name is what follows.
                let mut name = r.cstr();
                if name.is_empty() && r.left() > 0 {
                    name = r.cstr();
                }
                BrowseFrame::AnnouncementRequest {
                    reserved,
                    response_name: oem_to_string(name),
                }
            }
            opcode::REQUEST_ELECTION => {
                // 1, 2, 6, 10, 14
                let version = r.u8("election version")?;
                let criteria = r.u32_le("election criteria")?;
                let uptime_ms = r.u32_le("uptime")?;
                r.u32_le("reserved")?;
                let server_name = oem_to_string(r.cstr());
                BrowseFrame::RequestElection(Election {
                    version,
                    criteria,
                    uptime_ms,
                    server_name,
                })
            }
            opcode::GET_BACKUP_LIST_REQUEST => {
                // 1, 2
                let count = r.u8("requested count")?;
                let token = r.u32_le("token")?;
                BrowseFrame::GetBackupListRequest { count, token }
            }
            opcode::GET_BACKUP_LIST_RESPONSE => {
                // 1, 2, 6
                let count = r.u8("backup server count")?;
                let token = r.u32_le("token")?;
                // The count bounds the loop; the frame bounds every name.
                let mut servers = Vec::with_capacity(usize::from(count).min(r.left()));
                for _ in 0..count {
                    if r.left() == 0 {
                        return Err(BrowseError::Truncated("backup server name"));
                    }
                    servers.push(oem_to_string(r.cstr()));
                }
                BrowseFrame::GetBackupListResponse { token, servers }
            }
            opcode::BECOME_BACKUP => BrowseFrame::BecomeBackup {
                browser: oem_to_string(r.cstr()),
            },
            opcode::MASTER_ANNOUNCEMENT => BrowseFrame::MasterAnnouncement {
                master: oem_to_string(r.cstr()),
            },
            opcode::RESET_STATE_REQUEST => BrowseFrame::ResetStateRequest {
                options: r.u8("reset options")?,
            },
            other => return Err(BrowseError::UnknownOpcode(other)),
        })
    }

    /// Writes the frame at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BrowseError> {
        let room = |s: Short| BrowseError::NoRoom(s.0);
        let mut w = Writer::new(buf);
        // 0
        w.u8(self.opcode(), "opcode").map_err(room)?;
        match self {
            BrowseFrame::HostAnnouncement(a)
            | BrowseFrame::DomainAnnouncement(a)
            | BrowseFrame::LocalMasterAnnouncement(a) => {
                emit_announcement(a, &mut w).map_err(room)?
            }
            BrowseFrame::AnnouncementRequest {
                reserved,
                response_name,
            } => {
                // 1, 2
                w.u8(*reserved, "reserved").map_err(room)?;
                put_cstr(&mut w, response_name, MAX_NAME, "response name").map_err(room)?;
            }
            BrowseFrame::RequestElection(e) => {
                // 1, 2, 6, 10, 14
                w.u8(e.version, "version").map_err(room)?;
                w.u32_le(e.criteria, "criteria").map_err(room)?;
                w.u32_le(e.uptime_ms, "uptime").map_err(room)?;
                w.u32_le(0, "reserved").map_err(room)?;
                put_cstr(&mut w, &e.server_name, MAX_NAME, "server name").map_err(room)?;
            }
            BrowseFrame::GetBackupListRequest { count, token } => {
                // 1, 2
                w.u8(*count, "count").map_err(room)?;
                w.u32_le(*token, "token").map_err(room)?;
            }
            BrowseFrame::GetBackupListResponse { token, servers } => {
                // 1, 2, 6
                let count =
                    u8::try_from(servers.len()).map_err(|_| BrowseError::NoRoom("count"))?;
                w.u8(count, "count").map_err(room)?;
                w.u32_le(*token, "token").map_err(room)?;
                for s in servers {
                    put_cstr(&mut w, s, MAX_NAME, "backup server").map_err(room)?;
                }
            }
            BrowseFrame::BecomeBackup { browser } => {
                put_cstr(&mut w, browser, MAX_NAME, "browser name").map_err(room)?;
            }
            BrowseFrame::MasterAnnouncement { master } => {
                put_cstr(&mut w, master, MAX_NAME, "master name").map_err(room)?;
            }
            BrowseFrame::ResetStateRequest { options } => {
                w.u8(*options, "options").map_err(room)?;
            }
        }
        Ok(w.pos())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        // A parsed backup list may hold up to 255 names (found by
        // fuzzing: a long one did not fit the datagram-sized buffer).
        let names = match self {
            BrowseFrame::GetBackupListResponse { servers, .. } => servers.len() * (MAX_NAME + 1),
            _ => 0,
        };
        let mut v = vec![0u8; 64 + super::dgram::MAX_DATAGRAM + names];
        let n = self
            .emit(&mut v)
            .expect("the buffer holds the longest emission of every frame");
        v.truncate(n);
        v
    }
}

fn parse_announcement(mut r: Reader<'_>) -> Result<Announcement, BrowseError> {
    // 1 update count, 2 periodicity
    let update_count = r.u8("update count")?;
    let periodicity_ms = r.u32_le("periodicity")?;
    // 6: 16 bytes, NUL-terminated inside (an unterminated one is cut at 16)
    let raw = r.take(16, "server name")?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let server_name = oem_to_string(&raw[..end]);
    // 22, 23, 24
    let os_major = r.u8("os major")?;
    let os_minor = r.u8("os minor")?;
    let server_type = r.u32_le("server type")?;
    // 28, 29, 30
    let browser_major = r.u8("browser major")?;
    let browser_minor = r.u8("browser minor")?;
    let signature = r.u16_le("signature")?;
    // 32: the comment runs to its NUL or the end of the frame. Over-long
    // ones (beyond MAX_COMMENT) are kept as sent: the datagram bounds them.
    let comment = oem_to_string(r.cstr());
    Ok(Announcement {
        update_count,
        periodicity_ms,
        server_name,
        os_major,
        os_minor,
        server_type,
        browser_major,
        browser_minor,
        signature,
        comment,
    })
}

fn emit_announcement(a: &Announcement, w: &mut Writer<'_>) -> Result<(), Short> {
    // 1, 2
    w.u8(a.update_count, "update count")?;
    w.u32_le(a.periodicity_ms, "periodicity")?;
    // 6: the name NUL-padded to 16 bytes
    let mut name = [0u8; 16];
    let bytes = string_to_oem(&a.server_name);
    let n = bytes.len().min(MAX_NAME);
    name[..n].copy_from_slice(&bytes[..n]);
    w.bytes(&name, "server name")?;
    // 22, 23, 24, 28, 29, 30
    w.u8(a.os_major, "os major")?;
    w.u8(a.os_minor, "os minor")?;
    w.u32_le(a.server_type, "server type")?;
    w.u8(a.browser_major, "browser major")?;
    w.u8(a.browser_minor, "browser minor")?;
    w.u16_le(a.signature, "signature")?;
    // 32
    put_cstr(w, &a.comment, MAX_COMMENT, "comment")
}

/// The string cut to `max` bytes, then a NUL.
fn put_cstr(w: &mut Writer<'_>, s: &str, max: usize, what: &'static str) -> Result<(), Short> {
    let bytes = string_to_oem(s);
    w.bytes(&bytes[..bytes.len().min(max)], what)?;
    w.u8(0, what)
}

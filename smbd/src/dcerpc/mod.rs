//! DCE/RPC over named pipes: srvsvc and wkssvc.
//!
//! The SMB2 front end opens a [`Pipe`] when a client creates `srvsvc` or
//! `wkssvc` on IPC$, hands it the bytes of every WRITE (or the input of
//! FSCTL_PIPE_TRANSCEIVE) and answers READs from [`Pipe::read`]. The pipe is
//! in message mode: a read never returns bytes of two PDUs, and when a PDU
//! does not fit the read `more` is set (the front end answers
//! STATUS_BUFFER_OVERFLOW and the client reads the rest).
//!
//! Layers, each in its own file:
//! - [`pdu`]: the connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2),
//!   parsed into typed structs and emitted in wire order;
//! - [`ndr`]: NDR 2.0 (C706 chapter 14), little-endian only, with the limits
//!   that keep a hostile stub from making us allocate;
//! - [`srvsvc`], [`wkssvc`]: the interface structures of the calls we serve
//!   (no referent ids, counts or offsets in them), their codecs, and the
//!   calls themselves, answered from an [`RpcSnapshot`];
//! - `pipe`: the per-pipe state machine (bind, context negotiation,
//!   reassembly of requests, fragmentation of responses, faults).
//!
//! Only authentication level none is served: SMB has already authenticated
//! the user, and Windows and Samba clients bind srvsvc/wkssvc that way.

pub mod ndr;
pub mod pdu;
mod pipe;
pub mod srvsvc;
pub mod wkssvc;

#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;

pub use pipe::{
    ASSOC_GROUP_ID, MAX_CONTEXTS, MAX_FRAG, MAX_PENDING_OUTPUT, MAX_REQUEST, MIN_FRAG, Pipe,
    ReadOut,
};

/// What kind of resource a share is (srvsvc share type, MS-SRVS 2.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareKind {
    /// STYPE_DISKTREE.
    #[default]
    Disk,
    /// STYPE_IPC; IPC$ is always reported with STYPE_SPECIAL too, as Samba
    /// and Windows do.
    Ipc,
    /// STYPE_PRINTQ.
    Printer,
}

/// One share as the RPC services show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareInfo {
    pub name: String,
    pub kind: ShareKind,
    pub comment: String,
    /// The path as shown to clients, e.g. `C:\srv\share` (Samba shows the
    /// Unix path with `/` turned into `\` behind `C:`).
    pub path: String,
    /// `browseable = no`: left out of NetShareEnumAll; NetShareGetInfo still
    /// answers for it (as Samba does). Names ending in `$` are listed unless
    /// this is set.
    pub hidden: bool,
    /// Connections allowed at once (`max connections`); `None` for no limit.
    pub max_users: Option<u32>,
    /// Tree connects to this share right now, as far as the front end knows.
    pub current_users: u32,
}

/// The server as srvsvc NetSrvGetInfo and wkssvc NetWkstaGetInfo show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// `netbios name`, upper case, without leading backslashes.
    pub netbios_name: String,
    pub workgroup: String,
    /// `server string`.
    pub comment: String,
    /// Samba 4.17 reports 6.1.
    pub version_major: u32,
    pub version_minor: u32,
    /// SV_TYPE_* bits; Samba 4.17 standalone reports 0x00809a03.
    pub server_type: u32,
}

/// Everything the RPC services need, taken when the pipe is opened, so no
/// call has to reach back into the server's live state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpcSnapshot {
    pub server: ServerInfo,
    pub shares: Vec<ShareInfo>,
    /// The account of the SMB session that opened the pipe; it goes into
    /// the log lines of the calls.
    pub user: String,
}

/// SV_TYPE_* bits that Samba 4.17 reports for a standalone server:
/// WORKSTATION | SERVER | PRINTQ_SERVER | SERVER_UNIX | NT | SERVER_NT |
/// POTENTIAL_BROWSER (captured from NetSrvGetInfo level 101).
pub const SAMBA_SERVER_TYPE: u32 = 0x0080_9a03;

/// Errors of this module: malformed PDUs and NDR, limits, and a pipe that
/// was closed after a protocol error.
///
/// Where the protocol has an answer for a problem (a FAULT or BIND_NAK PDU)
/// the pipe sends it and the call returns `Ok`; an error comes back only
/// when the byte stream cannot be followed any more. The front end then
/// fails the SMB2 request with [`PipeError::nt_status`] and closes the pipe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipeError {
    /// Fewer bytes than the named field needs.
    #[error("truncated {0}")]
    MissingData(&'static str),
    /// A length or count beyond what the wire allows or we accept.
    #[error("{what} of {got} exceeds the limit of {limit}")]
    TooLarge {
        what: &'static str,
        got: u64,
        limit: u64,
    },
    /// A value the protocol does not allow here.
    #[error("invalid {what}: {value:#x}")]
    Invalid { what: &'static str, value: u64 },
    /// A string that is not UTF-16 or not terminated as NDR requires.
    #[error("{0} is not a valid NUL-terminated UTF-16 string")]
    BadString(&'static str),
    /// The pipe stopped accepting input after a protocol error (the reply
    /// saying so, if any, can still be read).
    #[error("pipe closed after a protocol error: {0}")]
    Closed(&'static str),
    /// The client keeps writing requests without reading the replies.
    #[error("{0} bytes of replies are waiting to be read")]
    Backlog(usize),
}

impl PipeError {
    /// The NTSTATUS the front end fails the SMB2 WRITE/IOCTL with.
    pub fn nt_status(&self) -> u32 {
        const STATUS_INVALID_PARAMETER: u32 = 0xc000_000d;
        const STATUS_PIPE_DISCONNECTED: u32 = 0xc000_00b0;
        const STATUS_INSUFFICIENT_RESOURCES: u32 = 0xc000_009a;
        match self {
            PipeError::MissingData(_)
            | PipeError::TooLarge { .. }
            | PipeError::Invalid { .. }
            | PipeError::BadString(_) => STATUS_INVALID_PARAMETER,
            PipeError::Closed(_) => STATUS_PIPE_DISCONNECTED,
            PipeError::Backlog(_) => STATUS_INSUFFICIENT_RESOURCES,
        }
    }
}

/// The status of a FAULT PDU (C706 appendix E, MS-RPCE 2.2.2.11 and 3.1.1.5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultStatus(pub u32);

impl FaultStatus {
    pub const ACCESS_DENIED: FaultStatus = FaultStatus(0x0000_0005);
    /// RPC_X_BAD_STUB_DATA, what Samba answers for a stub it cannot decode.
    pub const NDR: FaultStatus = FaultStatus(0x0000_06f7);
    pub const SEC_PKG_ERROR: FaultStatus = FaultStatus(0x0000_0721);
    pub const OP_RNG_ERROR: FaultStatus = FaultStatus(0x1c01_0002);
    pub const UNK_IF: FaultStatus = FaultStatus(0x1c01_0003);
    pub const PROTO_ERROR: FaultStatus = FaultStatus(0x1c01_000b);
}

/// A stub that does not decode is answered with nca_s_fault_ndr, whatever
/// was wrong with it (the log line has the detail).
impl From<&PipeError> for FaultStatus {
    fn from(_: &PipeError) -> FaultStatus {
        FaultStatus::NDR
    }
}

/// A WERROR, the result of srvsvc and wkssvc calls (the last u32 of the
/// response stub).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WError(pub u32);

impl WError {
    pub const OK: WError = WError(0);
    pub const ACCESS_DENIED: WError = WError(0x5);
    pub const INVALID_NAME: WError = WError(0x7b);
    pub const INVALID_LEVEL: WError = WError(0x7c);
    pub const MORE_DATA: WError = WError(0xea);
    /// NERR_NetNameNotFound.
    pub const NET_NAME_NOT_FOUND: WError = WError(0x906);
}

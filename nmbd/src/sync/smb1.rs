//! The few SMB1 pieces a browse-list sync needs, as a client: NetBIOS
//! session service framing (RFC 1002 4.3), the SMB1 header, NEGOTIATE,
//! SESSION_SETUP_ANDX (NT LM 0.12, no extended security), TREE_CONNECT_ANDX,
//! TRANSACTION and LOGOFF_ANDX ([MS-CIFS] 2.2). Encoders build a request
//! from a typed struct; parsers take the untrusted bytes of one message
//! and return a typed value or an [`Smb1Error`] naming what is wrong.
//!
//! ```text
//! NBSS:  0 type  1 flags (bit 0: length bit 16)  2 length (u16 BE)  4 data
//! SMB1 header (offsets from its first byte; little-endian):
//!   0 "\xffSMB"  4 command  5 status (u32 NT, or class u8, reserved u8,
//!   code u16)  9 flags  10 flags2  12 pid high  14 signature[8]
//!   22 reserved  24 tid  26 pid  28 uid  30 mid
//!  32 word count  33 words[2 * count]  then byte count (u16), bytes
//! ```
//!
//! Strings in the bytes follow flags2: UTF-16LE, aligned to an even offset
//! from the header, when FLAGS2_UNICODE is set, otherwise the OEM code
//! page; both NUL-terminated. A string that runs to the end of the bytes
//! without its NUL is read up to there, never further.

use common::netbios::NbName;

use crate::wire::cursor::{Reader, Short, oem_to_string, string_to_oem};

/// The largest NBSS frame we accept (or send).
pub const MAX_FRAME: usize = 128 * 1024;

/// NetBIOS session service frame types.
pub mod nbss {
    pub const HEADER_LEN: usize = 4;
    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const SESSION_REQUEST: u8 = 0x81;
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    pub const RETARGET_RESPONSE: u8 = 0x84;
    pub const KEEPALIVE: u8 = 0x85;
}

pub mod command {
    pub const TRANSACTION: u8 = 0x25;
    pub const NEGOTIATE: u8 = 0x72;
    pub const SESSION_SETUP_ANDX: u8 = 0x73;
    pub const LOGOFF_ANDX: u8 = 0x74;
    pub const TREE_CONNECT_ANDX: u8 = 0x75;
    /// AndXCommand when nothing is chained.
    pub const NO_ANDX: u8 = 0xff;
}

pub mod flags {
    pub const CASE_INSENSITIVE: u8 = 0x08;
    pub const CANONICALIZED_PATHS: u8 = 0x10;
    pub const REPLY: u8 = 0x80;
}

pub mod flags2 {
    pub const LONG_NAMES: u16 = 0x0001;
    pub const IS_LONG_NAME: u16 = 0x0040;
    pub const EXTENDED_SECURITY: u16 = 0x0800;
    pub const NT_STATUS: u16 = 0x4000;
    pub const UNICODE: u16 = 0x8000;
}

pub mod cap {
    pub const UNICODE: u32 = 0x0000_0004;
    pub const NT_SMBS: u32 = 0x0000_0010;
    pub const STATUS32: u32 = 0x0000_0040;
    pub const EXTENDED_SECURITY: u32 = 0x8000_0000;
}

/// The only dialect we offer.
pub const NT_LM_012: &str = "NT LM 0.12";

/// DialectIndex when the server accepts none of the offered dialects.
pub const NO_DIALECT: u16 = 0xffff;

/// TREE_CONNECT_ANDX flags.
pub const TCONX_EXTENDED_RESPONSE: u16 = 0x0008;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Smb1Error {
    #[error("message too short: {0} missing")]
    Truncated(&'static str),
    #[error("not an SMB1 message (protocol bytes {0:02x?})")]
    NotSmb1([u8; 4]),
    #[error("not marked as a reply")]
    NotReply,
    #[error("answer to command {got:#04x}, expected {want:#04x}")]
    WrongCommand { got: u8, want: u8 },
    #[error("reply to message id {got}, expected {want}")]
    WrongMid { got: u16, want: u16 },
    #[error("{what}: word count {got}, expected {want}")]
    WordCount {
        what: &'static str,
        got: u8,
        want: &'static str,
    },
    #[error("{what}: {count} bytes at offset {offset} run past the message ({len} bytes)")]
    OutsideMessage {
        what: &'static str,
        offset: usize,
        count: usize,
        len: usize,
    },
    #[error(
        "transaction {what}: part at displacement {disp} of {count} bytes runs past the total {total}"
    )]
    BeyondTotal {
        what: &'static str,
        disp: usize,
        count: usize,
        total: usize,
    },
    #[error(
        "transaction {what}: part at displacement {disp}, expected {expected} (parts out of order)"
    )]
    OutOfOrder {
        what: &'static str,
        disp: usize,
        expected: usize,
    },
    #[error("transaction {what}: total count {total} exceeds the {max} we asked for")]
    TotalTooLarge {
        what: &'static str,
        total: usize,
        max: usize,
    },
    #[error("transaction {what}: total count grew from {was} to {now}")]
    TotalGrew {
        what: &'static str,
        was: usize,
        now: usize,
    },
    #[error("transaction reply part carries nothing new")]
    EmptyPart,
    #[error("{0} is too long for the request")]
    TooLong(&'static str),
}

impl From<Short> for Smb1Error {
    fn from(s: Short) -> Self {
        Smb1Error::Truncated(s.0)
    }
}

/// The status field: an NTSTATUS when the reply's flags2 has
/// FLAGS2_NT_STATUS, otherwise a DOS error class and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Nt(u32),
    Dos { class: u8, code: u16 },
}

impl Status {
    pub const SUCCESS: Status = Status::Nt(0);

    pub fn is_success(&self) -> bool {
        matches!(self, Status::Nt(0) | Status::Dos { class: 0, code: 0 })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Status::Nt(v) => match nt_status_name(v) {
                Some(name) => write!(f, "{name} ({v:#010x})"),
                None => write!(f, "NT status {v:#010x}"),
            },
            Status::Dos { class, code } => write!(f, "DOS error class {class} code {code}"),
        }
    }
}

/// Names of the NTSTATUS values a browse sync may meet.
pub fn nt_status_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0x0000_0000 => "NT_STATUS_OK",
        0x8000_0005 => "STATUS_BUFFER_OVERFLOW",
        0xc000_0002 => "NT_STATUS_NOT_IMPLEMENTED",
        0xc000_000d => "NT_STATUS_INVALID_PARAMETER",
        0xc000_0022 => "NT_STATUS_ACCESS_DENIED",
        0xc000_005e => "NT_STATUS_NO_LOGON_SERVERS",
        0xc000_006d => "NT_STATUS_LOGON_FAILURE",
        0xc000_006e => "NT_STATUS_ACCOUNT_RESTRICTION",
        0xc000_0072 => "NT_STATUS_ACCOUNT_DISABLED",
        0xc000_00bb => "NT_STATUS_NOT_SUPPORTED",
        0xc000_00cc => "NT_STATUS_BAD_NETWORK_NAME",
        0xc000_00ca => "NT_STATUS_NETWORK_ACCESS_DENIED",
        0xc000_0016 => "NT_STATUS_MORE_PROCESSING_REQUIRED",
        0xc000_0205 => "NT_STATUS_INSUFF_SERVER_RESOURCES",
        0xc000_035c => "NT_STATUS_NETWORK_SESSION_EXPIRED",
        0x0001_0002 => "NT_STATUS_SMB_BAD_COMMAND",
        0x00ff_0002 => "NT_STATUS_SMB_BAD_TID",
        0x005b_0002 => "NT_STATUS_SMB_BAD_UID",
        _ => return None,
    })
}

/// What a negative session response's code means (RFC 1002 4.3.4).
pub fn nbss_error_name(code: u8) -> &'static str {
    match code {
        0x80 => "not listening on called name",
        0x81 => "not listening for calling name",
        0x82 => "called name not present",
        0x83 => "called name present, but insufficient resources",
        0x8f => "unspecified error",
        _ => "unknown error code",
    }
}

// ---------------------------------------------------------------------
// Emitting

/// A message being built; offsets count from the SMB header's first byte
/// (the NBSS header is added by [`nbss_message`]).
struct Out {
    buf: Vec<u8>,
}

impl Out {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn len(&self) -> usize {
        self.buf.len()
    }
    fn patch_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    /// Zero bytes up to a multiple of `n` from the header.
    fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }
    /// A NUL-terminated string: UTF-16LE at an even offset, or OEM.
    fn string(&mut self, s: &str, unicode: bool) {
        if unicode {
            self.align(2);
            for u in s.encode_utf16() {
                self.u16(u);
            }
            self.u16(0);
        } else {
            self.oem(s);
        }
    }
    fn oem(&mut self, s: &str) {
        self.bytes(&string_to_oem(s));
        self.u8(0);
    }
}

/// Byte offsets in the SMB1 header: the datagram codec's (a mailslot
/// write carries the same header); bytes start at 35 + 2 * word count,
/// always an odd offset.
pub mod hdr {
    pub use crate::wire::dgram::smb_field::{
        COMMAND, FLAGS, FLAGS2, Field, MID, PID, PID_HIGH, PROTOCOL, RESERVED, SIGNATURE, STATUS,
        TID, UID, WORD_COUNT,
    };
    pub const LEN: usize = crate::wire::dgram::smb_field::HEADER_LEN;
}

pub const PROTOCOL: [u8; 4] = *b"\xffSMB";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub command: u8,
    pub status: Status,
    pub flags: u8,
    pub flags2: u16,
    pub pid_high: u16,
    pub signature: [u8; 8],
    pub tid: u16,
    pub pid: u16,
    pub uid: u16,
    pub mid: u16,
}

impl Header {
    /// A request header with no status and no signature.
    pub fn request(command: u8, flags2: u16, tid: u16, pid: u16, uid: u16, mid: u16) -> Header {
        Header {
            command,
            status: Status::SUCCESS,
            flags: flags::CASE_INSENSITIVE | flags::CANONICALIZED_PATHS,
            flags2,
            pid_high: 0,
            signature: [0; 8],
            tid,
            pid,
            uid,
            mid,
        }
    }

    pub fn unicode(&self) -> bool {
        self.flags2 & flags2::UNICODE != 0
    }

    fn emit(&self, o: &mut Out) {
        // 0
        o.bytes(&PROTOCOL);
        // 4
        o.u8(self.command);
        // 5
        match self.status {
            Status::Nt(v) => o.u32(v),
            Status::Dos { class, code } => {
                o.u8(class);
                o.u8(0);
                o.u16(code);
            }
        }
        // 9, 10, 12, 14, 22, 24, 26, 28, 30
        o.u8(self.flags);
        o.u16(self.flags2);
        o.u16(self.pid_high);
        o.bytes(&self.signature);
        o.u16(0);
        o.u16(self.tid);
        o.u16(self.pid);
        o.u16(self.uid);
        o.u16(self.mid);
    }

    fn parse(r: &mut Reader<'_>) -> Result<Header, Smb1Error> {
        // 0
        let protocol = r.array::<4>("protocol")?;
        if protocol != PROTOCOL {
            return Err(Smb1Error::NotSmb1(protocol));
        }
        // 4, 5 (read raw; its form depends on flags2, at 10)
        let command = r.u8("command")?;
        let status = r.array::<4>("status")?;
        // 9, 10, 12, 14, 22
        let flags = r.u8("flags")?;
        let flags2 = r.u16_le("flags2")?;
        let pid_high = r.u16_le("pid high")?;
        let signature = r.array::<8>("signature")?;
        r.u16_le("reserved")?;
        // 24, 26, 28, 30
        let tid = r.u16_le("tid")?;
        let pid = r.u16_le("pid")?;
        let uid = r.u16_le("uid")?;
        let mid = r.u16_le("mid")?;
        let status = if flags2 & flags2::NT_STATUS != 0 {
            Status::Nt(u32::from_le_bytes(status))
        } else {
            Status::Dos {
                class: status[0],
                code: u16::from_le_bytes([status[2], status[3]]),
            }
        };
        Ok(Header {
            command,
            status,
            flags,
            flags2,
            pid_high,
            signature,
            tid,
            pid,
            uid,
            mid,
        })
    }
}

/// Starts a message: the header, then the word count.
fn begin(h: &Header, word_count: u8) -> Out {
    let mut o = Out {
        buf: Vec::with_capacity(256),
    };
    h.emit(&mut o);
    // 32
    o.u8(word_count);
    o
}

/// Writes the byte count placeholder; returns where it is.
fn begin_bytes(o: &mut Out, word_count: u8) -> usize {
    debug_assert_eq!(o.len(), hdr::WORD_COUNT + 1 + 2 * usize::from(word_count));
    let at = o.len();
    o.u16(0);
    at
}

fn end_bytes(mut o: Out, at: usize, what: &'static str) -> Result<Vec<u8>, Smb1Error> {
    let n = u16::try_from(o.len() - at - 2).map_err(|_| Smb1Error::TooLong(what))?;
    o.patch_u16(at, n);
    if o.len() + nbss::HEADER_LEN > MAX_FRAME {
        return Err(Smb1Error::TooLong(what));
    }
    Ok(o.buf)
}

/// A SESSION MESSAGE carrying one SMB message.
pub fn nbss_message(msg: &[u8]) -> Vec<u8> {
    let len = msg.len();
    debug_assert!(len < 1 << 17, "messages are built below MAX_FRAME");
    let mut v = Vec::with_capacity(nbss::HEADER_LEN + len);
    // 0 type, 1 flags (length bit 16), 2 length
    v.push(nbss::SESSION_MESSAGE);
    v.push(((len >> 16) & 1) as u8);
    v.extend_from_slice(&((len & 0xffff) as u16).to_be_bytes());
    v.extend_from_slice(msg);
    v
}

/// A SESSION REQUEST (RFC 1002 4.3.2): the called name, then the calling
/// name, both first-level encoded.
pub fn session_request(called: &NbName, calling: &NbName) -> Vec<u8> {
    let mut names = Vec::with_capacity(called.encoded_len() + calling.encoded_len());
    called.encode(&mut names);
    calling.encode(&mut names);
    let mut v = Vec::with_capacity(nbss::HEADER_LEN + names.len());
    // 0 type, 1 flags, 2 length, 4 called, 38 calling
    v.push(nbss::SESSION_REQUEST);
    v.push(0);
    v.extend_from_slice(&(names.len() as u16).to_be_bytes());
    v.extend_from_slice(&names);
    v
}

/// The answer to a SESSION REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionResponse {
    Positive,
    /// The error code (see [`nbss_error_name`]).
    Negative(u8),
    /// Go to this address and port instead.
    Retarget(std::net::Ipv4Addr, u16),
    /// Any other frame type.
    Other(u8),
}

impl SessionResponse {
    /// `kind` is the frame type, `body` the data after the 4-byte header.
    pub fn parse(kind: u8, body: &[u8]) -> Result<SessionResponse, Smb1Error> {
        let mut r = Reader::new(body);
        Ok(match kind {
            nbss::POSITIVE_RESPONSE => SessionResponse::Positive,
            // 4 error code
            nbss::NEGATIVE_RESPONSE => SessionResponse::Negative(r.u8("session error code")?),
            // 4 address, 8 port
            nbss::RETARGET_RESPONSE => {
                let ip = r.array::<4>("retarget address")?;
                let port = r.u16_be("retarget port")?;
                SessionResponse::Retarget(ip.into(), port)
            }
            other => SessionResponse::Other(other),
        })
    }
}

// ---------------------------------------------------------------------
// Parsing a reply

/// A checked view of one SMB1 message: after [`Message::parse`] the words
/// and bytes are within the message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub header: Header,
    words: &'a [u8],
    bytes: &'a [u8],
    /// The whole message (offsets in transaction replies count from its
    /// start).
    raw: &'a [u8],
}

impl<'a> Message<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Message<'a>, Smb1Error> {
        let mut r = Reader::new(raw);
        // 0..32
        let header = Header::parse(&mut r)?;
        // 32
        let wc = r.u8("word count")?;
        // 33
        let words = r.take(2 * usize::from(wc), "words")?;
        // 33 + 2 * wc. Some servers omit the byte count of an error reply
        // with no words; that is an empty byte block.
        let bytes = if wc == 0 && r.left() == 0 {
            &[][..]
        } else {
            let bc = r.u16_le("byte count")?;
            r.take(usize::from(bc), "bytes")?
        };
        // Anything after the bytes (padding, an AndX chain we did not ask
        // for) is not ours to read.
        Ok(Message {
            header,
            words,
            bytes,
            raw,
        })
    }

    /// Checks that this is a reply to `command`.
    pub fn expect(&self, command: u8) -> Result<(), Smb1Error> {
        if self.header.flags & flags::REPLY == 0 {
            return Err(Smb1Error::NotReply);
        }
        if self.header.command != command {
            return Err(Smb1Error::WrongCommand {
                got: self.header.command,
                want: command,
            });
        }
        Ok(())
    }

    pub fn word_count(&self) -> u8 {
        (self.words.len() / 2) as u8
    }

    fn words(&self) -> Reader<'a> {
        Reader::new(self.words)
    }

    fn bytes(&self) -> StrReader<'a> {
        let start = hdr::WORD_COUNT + 1 + self.words.len() + 2;
        StrReader {
            r: Reader::new(self.bytes),
            end: start + self.bytes.len(),
        }
    }
}

/// A reader over the bytes block that knows where it is in the message,
/// for the alignment of Unicode strings.
struct StrReader<'a> {
    r: Reader<'a>,
    /// The offset of the block's end from the header.
    end: usize,
}

impl<'a> StrReader<'a> {
    fn pos(&self) -> usize {
        self.end - self.r.left()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        self.r.take(n, what)
    }

    /// A string in the encoding flags2 says; `align` is false where the
    /// sender writes UTF-16 without padding (the negotiate reply).
    fn string(&mut self, unicode: bool, align: bool) -> String {
        if !unicode {
            return oem_to_string(self.r.cstr());
        }
        if align && self.pos() % 2 == 1 && self.r.left() > 0 {
            let _ = self.r.take(1, "pad");
        }
        let mut units = Vec::new();
        while let Ok(u) = self.r.u16_le("utf-16 unit") {
            if u == 0 {
                break;
            }
            units.push(u);
        }
        // An odd byte left at the very end cannot be a unit; drop it.
        if self.r.left() == 1 {
            let _ = self.r.take(1, "odd byte");
        }
        String::from_utf16_lossy(&units)
    }
}

// ---------------------------------------------------------------------
// NEGOTIATE

/// NEGOTIATE request: word count 0; bytes: for each dialect 0x02, then its
/// name, NUL-terminated.
pub fn negotiate_request(h: &Header, dialects: &[&str]) -> Result<Vec<u8>, Smb1Error> {
    let mut o = begin(h, 0);
    let at = begin_bytes(&mut o, 0);
    for d in dialects {
        o.u8(0x02);
        o.oem(d);
    }
    end_bytes(o, at, "dialect list")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// Index of the chosen dialect in our list; [`NO_DIALECT`] for none.
    pub dialect_index: u16,
    /// The NT LM 0.12 fields; None when the server answered with the
    /// one-word form (no dialect, or a pre-NT one).
    pub nt: Option<NtNegotiate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtNegotiate {
    pub security_mode: u8,
    pub max_mpx_count: u16,
    pub max_number_vcs: u16,
    pub max_buffer_size: u32,
    pub max_raw_size: u32,
    pub session_key: u32,
    pub capabilities: u32,
    /// 100 ns units since 1601.
    pub system_time: u64,
    /// Minutes from UTC.
    pub server_time_zone: i16,
    pub security: NegotiateSecurity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateSecurity {
    /// Non-extended security: an 8-byte challenge (none with plaintext
    /// passwords), then the server's domain and name.
    Challenge {
        challenge: Vec<u8>,
        domain: String,
        server: String,
    },
    /// The server chose extended security (CAP_EXTENDED_SECURITY) although
    /// we did not ask for it.
    Extended {
        server_guid: [u8; 16],
        security_blob: Vec<u8>,
    },
}

impl NegotiateResponse {
    pub fn parse(m: &Message<'_>) -> Result<NegotiateResponse, Smb1Error> {
        m.expect(command::NEGOTIATE)?;
        let mut w = m.words();
        // words 0: DialectIndex
        let dialect_index = w.u16_le("dialect index")?;
        match m.word_count() {
            1 => {
                return Ok(NegotiateResponse {
                    dialect_index,
                    nt: None,
                });
            }
            17 => {}
            got => {
                return Err(Smb1Error::WordCount {
                    what: "NEGOTIATE reply",
                    got,
                    want: "1 or 17",
                });
            }
        }
        // 2 SecurityMode, 3 MaxMpxCount, 5 MaxNumberVcs, 7 MaxBufferSize,
        // 11 MaxRawSize, 15 SessionKey, 19 Capabilities, 23 SystemTime,
        // 31 ServerTimeZone, 33 ChallengeLength
        let security_mode = w.u8("security mode")?;
        let max_mpx_count = w.u16_le("max mpx count")?;
        let max_number_vcs = w.u16_le("max number vcs")?;
        let max_buffer_size = w.u32_le("max buffer size")?;
        let max_raw_size = w.u32_le("max raw size")?;
        let session_key = w.u32_le("session key")?;
        let capabilities = w.u32_le("capabilities")?;
        let lo = w.u32_le("system time")?;
        let hi = w.u32_le("system time")?;
        let system_time = u64::from(hi) << 32 | u64::from(lo);
        let server_time_zone = w.u16_le("time zone")? as i16;
        let challenge_len = w.u8("challenge length")?;
        let mut b = m.bytes();
        let security = if capabilities & cap::EXTENDED_SECURITY != 0 {
            // bytes 0: ServerGUID, 16: SecurityBlob (the rest)
            let server_guid = b.r.array::<16>("server guid")?;
            let security_blob = b.r.rest().to_vec();
            NegotiateSecurity::Extended {
                server_guid,
                security_blob,
            }
        } else {
            // bytes 0: Challenge, then DomainName, ServerName. Samba and
            // Windows write these UTF-16 strings unaligned (right after
            // the 8-byte challenge, at an odd offset).
            let challenge = b.take(usize::from(challenge_len), "challenge")?.to_vec();
            let unicode = m.header.unicode();
            let domain = b.string(unicode, false);
            let server = b.string(unicode, false);
            NegotiateSecurity::Challenge {
                challenge,
                domain,
                server,
            }
        };
        Ok(NegotiateResponse {
            dialect_index,
            nt: Some(NtNegotiate {
                security_mode,
                max_mpx_count,
                max_number_vcs,
                max_buffer_size,
                max_raw_size,
                session_key,
                capabilities,
                system_time,
                server_time_zone,
                security,
            }),
        })
    }
}

// ---------------------------------------------------------------------
// SESSION_SETUP_ANDX (NT LM 0.12, [MS-CIFS] 2.2.4.53, no extended security)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequest {
    pub max_buffer_size: u16,
    pub max_mpx_count: u16,
    pub vc_number: u16,
    pub session_key: u32,
    /// The LM response (or OEM plaintext password); empty for anonymous.
    pub oem_password: Vec<u8>,
    /// The NT response; empty for anonymous.
    pub unicode_password: Vec<u8>,
    pub capabilities: u32,
    pub account: String,
    pub primary_domain: String,
    pub native_os: String,
    pub native_lanman: String,
}

impl SessionSetupRequest {
    /// Strings are UTF-16 when the header's flags2 says so.
    pub fn emit(&self, h: &Header) -> Result<Vec<u8>, Smb1Error> {
        let unicode = h.unicode();
        let oem_len =
            u16::try_from(self.oem_password.len()).map_err(|_| Smb1Error::TooLong("password"))?;
        let uni_len = u16::try_from(self.unicode_password.len())
            .map_err(|_| Smb1Error::TooLong("password"))?;
        let mut o = begin(h, 13);
        // words 0 AndXCommand, 1 AndXReserved, 2 AndXOffset
        o.u8(command::NO_ANDX);
        o.u8(0);
        o.u16(0);
        // 4 MaxBufferSize, 6 MaxMpxCount, 8 VcNumber, 10 SessionKey
        o.u16(self.max_buffer_size);
        o.u16(self.max_mpx_count);
        o.u16(self.vc_number);
        o.u32(self.session_key);
        // 14 OEMPasswordLen, 16 UnicodePasswordLen, 18 Reserved,
        // 22 Capabilities
        o.u16(oem_len);
        o.u16(uni_len);
        o.u32(0);
        o.u32(self.capabilities);
        let at = begin_bytes(&mut o, 13);
        // bytes: OEMPassword, UnicodePassword, then the strings (each
        // Unicode one aligned)
        o.bytes(&self.oem_password);
        o.bytes(&self.unicode_password);
        o.string(&self.account, unicode);
        o.string(&self.primary_domain, unicode);
        o.string(&self.native_os, unicode);
        o.string(&self.native_lanman, unicode);
        end_bytes(o, at, "session setup")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    /// Bit 0: logged on as guest.
    pub action: u16,
    pub native_os: String,
    pub native_lanman: String,
    pub primary_domain: String,
}

impl SessionSetupResponse {
    pub fn parse(m: &Message<'_>) -> Result<SessionSetupResponse, Smb1Error> {
        m.expect(command::SESSION_SETUP_ANDX)?;
        if m.word_count() != 3 {
            // 4 would be the extended-security form, which we never ask for.
            return Err(Smb1Error::WordCount {
                what: "SESSION_SETUP_ANDX reply",
                got: m.word_count(),
                want: "3",
            });
        }
        let mut w = m.words();
        // words 0 AndXCommand, 1 reserved, 2 AndXOffset, 4 Action
        w.u8("andx command")?;
        w.u8("andx reserved")?;
        w.u16_le("andx offset")?;
        let action = w.u16_le("action")?;
        // bytes: NativeOS, NativeLanMan, PrimaryDomain; older servers stop
        // early, which leaves the rest empty.
        let unicode = m.header.unicode();
        let mut b = m.bytes();
        let native_os = b.string(unicode, true);
        let native_lanman = b.string(unicode, true);
        let primary_domain = b.string(unicode, true);
        Ok(SessionSetupResponse {
            action,
            native_os,
            native_lanman,
            primary_domain,
        })
    }
}

// ---------------------------------------------------------------------
// TREE_CONNECT_ANDX ([MS-CIFS] 2.2.4.55)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    pub flags: u16,
    /// With user-level security a single NUL.
    pub password: Vec<u8>,
    /// `\\SERVER\SHARE`
    pub path: String,
    /// "?????" for any, "IPC" for the IPC share; always OEM.
    pub service: String,
}

impl TreeConnectRequest {
    pub fn emit(&self, h: &Header) -> Result<Vec<u8>, Smb1Error> {
        let pw_len =
            u16::try_from(self.password.len()).map_err(|_| Smb1Error::TooLong("password"))?;
        let mut o = begin(h, 4);
        // words 0 AndXCommand, 1 reserved, 2 AndXOffset, 4 Flags,
        // 6 PasswordLength
        o.u8(command::NO_ANDX);
        o.u8(0);
        o.u16(0);
        o.u16(self.flags);
        o.u16(pw_len);
        let at = begin_bytes(&mut o, 4);
        // bytes: Password, Path (aligned if Unicode), Service (OEM)
        o.bytes(&self.password);
        o.string(&self.path, h.unicode());
        o.oem(&self.service);
        end_bytes(o, at, "tree connect")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectResponse {
    pub optional_support: u16,
    /// Present in the extended (7-word) reply.
    pub maximal_access: Option<u32>,
    pub guest_maximal_access: Option<u32>,
    pub service: String,
    pub native_file_system: String,
}

impl TreeConnectResponse {
    pub fn parse(m: &Message<'_>) -> Result<TreeConnectResponse, Smb1Error> {
        m.expect(command::TREE_CONNECT_ANDX)?;
        let wc = m.word_count();
        if wc != 3 && wc != 7 {
            return Err(Smb1Error::WordCount {
                what: "TREE_CONNECT_ANDX reply",
                got: wc,
                want: "3 or 7",
            });
        }
        let mut w = m.words();
        // words 0 AndXCommand, 1 reserved, 2 AndXOffset, 4 OptionalSupport
        w.u8("andx command")?;
        w.u8("andx reserved")?;
        w.u16_le("andx offset")?;
        let optional_support = w.u16_le("optional support")?;
        // 6 MaximalShareAccessRights, 10 GuestMaximalShareAccessRights
        let (maximal_access, guest_maximal_access) = if wc == 7 {
            (
                Some(w.u32_le("maximal access")?),
                Some(w.u32_le("guest maximal access")?),
            )
        } else {
            (None, None)
        };
        // bytes: Service (OEM), NativeFileSystem
        let mut b = m.bytes();
        let service = b.string(false, false);
        let native_file_system = b.string(m.header.unicode(), true);
        Ok(TreeConnectResponse {
            optional_support,
            maximal_access,
            guest_maximal_access,
            service,
            native_file_system,
        })
    }
}

// ---------------------------------------------------------------------
// LOGOFF_ANDX

/// LOGOFF_ANDX request: words AndXCommand, reserved, AndXOffset; no bytes.
pub fn logoff_request(h: &Header) -> Result<Vec<u8>, Smb1Error> {
    let mut o = begin(h, 2);
    o.u8(command::NO_ANDX);
    o.u8(0);
    o.u16(0);
    let at = begin_bytes(&mut o, 2);
    end_bytes(o, at, "logoff")
}

// ---------------------------------------------------------------------
// TRANSACTION ([MS-CIFS] 2.2.4.33)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest {
    /// `\PIPE\LANMAN` for RAP.
    pub name: String,
    pub params: Vec<u8>,
    pub data: Vec<u8>,
    pub setup: Vec<u16>,
    pub max_param_count: u16,
    pub max_data_count: u16,
    pub max_setup_count: u8,
    pub flags: u16,
    pub timeout_ms: u32,
}

impl TransactionRequest {
    /// The whole request in one message (ours are small: a RAP call's
    /// parameters and no data).
    pub fn emit(&self, h: &Header) -> Result<Vec<u8>, Smb1Error> {
        let too_long = |_| Smb1Error::TooLong("transaction");
        let param_count = u16::try_from(self.params.len()).map_err(too_long)?;
        let data_count = u16::try_from(self.data.len()).map_err(too_long)?;
        let setup_count = u8::try_from(self.setup.len()).map_err(too_long)?;
        let word_count = 14u8
            .checked_add(setup_count)
            .ok_or(Smb1Error::TooLong("setup"))?;
        let mut o = begin(h, word_count);
        // words 0 TotalParameterCount, 2 TotalDataCount, 4 MaxParameterCount,
        // 6 MaxDataCount, 8 MaxSetupCount, 9 Reserved1, 10 Flags, 12 Timeout,
        // 16 Reserved2
        o.u16(param_count);
        o.u16(data_count);
        o.u16(self.max_param_count);
        o.u16(self.max_data_count);
        o.u8(self.max_setup_count);
        o.u8(0);
        o.u16(self.flags);
        o.u32(self.timeout_ms);
        o.u16(0);
        // 18 ParameterCount, 20 ParameterOffset, 22 DataCount,
        // 24 DataOffset (offsets patched below), 26 SetupCount,
        // 27 Reserved3, 28 Setup
        o.u16(param_count);
        let param_offset_at = o.len();
        o.u16(0);
        o.u16(data_count);
        let data_offset_at = o.len();
        o.u16(0);
        o.u8(setup_count);
        o.u8(0);
        for s in &self.setup {
            o.u16(*s);
        }
        let at = begin_bytes(&mut o, word_count);
        // bytes: Name, pad to 4, Parameters, pad to 4 (when there is
        // data), Data
        o.string(&self.name, h.unicode());
        o.align(4);
        let param_offset = o.len();
        o.bytes(&self.params);
        if !self.data.is_empty() {
            o.align(4);
        }
        let data_offset = o.len();
        o.bytes(&self.data);
        let off = |v: usize| u16::try_from(v).map_err(|_| Smb1Error::TooLong("transaction"));
        o.patch_u16(param_offset_at, off(param_offset)?);
        o.patch_u16(data_offset_at, off(data_offset)?);
        end_bytes(o, at, "transaction")
    }
}

/// One TRANSACTION reply message: which slice of the parameters and data
/// it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionPart<'a> {
    pub total_param_count: u16,
    pub total_data_count: u16,
    pub param_displacement: u16,
    pub data_displacement: u16,
    pub params: &'a [u8],
    pub data: &'a [u8],
    pub setup: Vec<u16>,
}

impl<'a> TransactionPart<'a> {
    pub fn parse(m: &Message<'a>) -> Result<TransactionPart<'a>, Smb1Error> {
        m.expect(command::TRANSACTION)?;
        let wc = m.word_count();
        if wc < 10 {
            return Err(Smb1Error::WordCount {
                what: "TRANSACTION reply",
                got: wc,
                want: "10 + setup count",
            });
        }
        let mut w = m.words();
        // words 0 TotalParameterCount, 2 TotalDataCount, 4 Reserved1,
        // 6 ParameterCount, 8 ParameterOffset, 10 ParameterDisplacement,
        // 12 DataCount, 14 DataOffset, 16 DataDisplacement, 18 SetupCount,
        // 19 Reserved2, 20 Setup
        let total_param_count = w.u16_le("total parameter count")?;
        let total_data_count = w.u16_le("total data count")?;
        w.u16_le("reserved")?;
        let param_count = w.u16_le("parameter count")?;
        let param_offset = w.u16_le("parameter offset")?;
        let param_displacement = w.u16_le("parameter displacement")?;
        let data_count = w.u16_le("data count")?;
        let data_offset = w.u16_le("data offset")?;
        let data_displacement = w.u16_le("data displacement")?;
        let setup_count = w.u8("setup count")?;
        w.u8("reserved")?;
        if usize::from(wc) != 10 + usize::from(setup_count) {
            return Err(Smb1Error::WordCount {
                what: "TRANSACTION reply",
                got: wc,
                want: "10 + setup count",
            });
        }
        let mut setup = Vec::with_capacity(usize::from(setup_count));
        for _ in 0..setup_count {
            setup.push(w.u16_le("setup")?);
        }
        // The offsets count from the header; the slices must lie within
        // the bytes block of this message.
        let params = m.slice("parameters", param_offset, param_count)?;
        let data = m.slice("data", data_offset, data_count)?;
        Ok(TransactionPart {
            total_param_count,
            total_data_count,
            param_displacement,
            data_displacement,
            params,
            data,
            setup,
        })
    }
}

impl<'a> Message<'a> {
    /// `count` bytes at `offset` from the header, inside the bytes block.
    fn slice(&self, what: &'static str, offset: u16, count: u16) -> Result<&'a [u8], Smb1Error> {
        let (offset, count) = (usize::from(offset), usize::from(count));
        if count == 0 {
            return Ok(&[]);
        }
        let start = hdr::WORD_COUNT + 1 + self.words.len() + 2;
        let end = start + self.bytes.len();
        if offset < start || offset + count > end {
            return Err(Smb1Error::OutsideMessage {
                what,
                offset,
                count,
                len: end,
            });
        }
        Ok(&self.raw[offset..offset + count])
    }
}

/// Collects the parts of a TRANSACTION reply. Parts must arrive in order
/// (as Windows and Samba send them); the totals may shrink but never grow
/// and never exceed what we asked for, so memory is bounded by the
/// request's MaxParameterCount and MaxDataCount.
#[derive(Debug)]
pub struct TransactionAssembly {
    max_params: usize,
    max_data: usize,
    total_params: Option<usize>,
    total_data: usize,
    pub params: Vec<u8>,
    pub data: Vec<u8>,
    pub setup: Vec<u16>,
}

impl TransactionAssembly {
    pub fn new(max_params: u16, max_data: u16) -> TransactionAssembly {
        TransactionAssembly {
            max_params: usize::from(max_params),
            max_data: usize::from(max_data),
            total_params: None,
            total_data: 0,
            params: Vec::new(),
            data: Vec::new(),
            setup: Vec::new(),
        }
    }

    /// Adds one part; true when the reply is complete.
    pub fn add(&mut self, part: &TransactionPart<'_>) -> Result<bool, Smb1Error> {
        let total_params = usize::from(part.total_param_count);
        let total_data = usize::from(part.total_data_count);
        match self.total_params {
            None => {
                if total_params > self.max_params {
                    return Err(Smb1Error::TotalTooLarge {
                        what: "parameters",
                        total: total_params,
                        max: self.max_params,
                    });
                }
                if total_data > self.max_data {
                    return Err(Smb1Error::TotalTooLarge {
                        what: "data",
                        total: total_data,
                        max: self.max_data,
                    });
                }
                self.setup = part.setup.clone();
            }
            Some(was) => {
                if total_params > was {
                    return Err(Smb1Error::TotalGrew {
                        what: "parameters",
                        was,
                        now: total_params,
                    });
                }
                if total_data > self.total_data {
                    return Err(Smb1Error::TotalGrew {
                        what: "data",
                        was: self.total_data,
                        now: total_data,
                    });
                }
            }
        }
        self.total_params = Some(total_params);
        self.total_data = total_data;
        append(
            &mut self.params,
            "parameters",
            part.param_displacement,
            part.params,
            total_params,
        )?;
        append(
            &mut self.data,
            "data",
            part.data_displacement,
            part.data,
            total_data,
        )?;
        let done = self.params.len() >= total_params && self.data.len() >= total_data;
        if !done && part.params.is_empty() && part.data.is_empty() {
            // A part with nothing in it would let a server keep us
            // reading forever.
            return Err(Smb1Error::EmptyPart);
        }
        if done {
            // A total that shrank below what had arrived cuts it.
            self.params.truncate(total_params);
            self.data.truncate(total_data);
        }
        Ok(done)
    }
}

fn append(
    into: &mut Vec<u8>,
    what: &'static str,
    disp: u16,
    part: &[u8],
    total: usize,
) -> Result<(), Smb1Error> {
    let disp = usize::from(disp);
    if part.is_empty() {
        return Ok(());
    }
    if disp + part.len() > total {
        return Err(Smb1Error::BeyondTotal {
            what,
            disp,
            count: part.len(),
            total,
        });
    }
    if disp != into.len() {
        return Err(Smb1Error::OutOfOrder {
            what,
            disp,
            expected: into.len(),
        });
    }
    into.extend_from_slice(part);
    Ok(())
}

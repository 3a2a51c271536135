//! NetBIOS datagram service packets (RFC 1002 4.4), UDP 138, and the SMB1
//! Transaction that carries a mailslot write inside one (the browser's
//! `\MAILSLOT\BROWSE`).
//!
//! ```text
//!  0  msg type   1  flags (bit0 MORE, bit1 FIRST, bits2-3 node type)
//!  2  datagram id (BE)
//!  4  source IP     8  source port (BE)
//!  -- 0x10..0x12 (data): --
//! 10  dgm length (BE): bytes after the 14-byte header
//! 12  packet offset (BE): of this fragment's user data
//! 14  source name (encoded, 34+), destination name, user data
//!  -- 0x13 (error): 10 error code --
//!  -- 0x14..0x16 (query): 10 destination name --
//! ```

use std::net::Ipv4Addr;

use common::netbios::{NameError, NbName};

use super::cursor::{Reader, Short, Writer, oem_to_string, string_to_oem};

/// Byte offsets in wire order.
pub mod field {
    pub type Field = std::ops::Range<usize>;
    pub const MSG_TYPE: usize = 0;
    pub const FLAGS: usize = 1;
    pub const DGM_ID: Field = 2..4;
    pub const SOURCE_IP: Field = 4..8;
    pub const SOURCE_PORT: Field = 8..10;
    /// Data datagrams: the length of what follows the header.
    pub const DGM_LENGTH: Field = 10..12;
    pub const PACKET_OFFSET: Field = 12..14;
    pub const DATA_HEADER_LEN: usize = PACKET_OFFSET.end;
    /// Error datagrams: one byte of error code.
    pub const ERROR_CODE: usize = 10;
    /// Query datagrams: the destination name starts here.
    pub const QUERY_NAME: usize = 10;
    pub const SHORT_HEADER_LEN: usize = 10;
}

/// RFC 1002 MAX_DATAGRAM_LENGTH; we emit nothing longer.
pub const MAX_DATAGRAM: usize = 576;

/// Why a datagram or its SMB transaction cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DgramError {
    #[error("datagram too short: {0} missing")]
    Truncated(&'static str),
    #[error("unknown datagram message type {0:#04x}")]
    MsgType(u8),
    #[error("dgm length {claimed} but only {available} bytes follow the header")]
    DgmLength { claimed: usize, available: usize },
    #[error("{0}: {1}")]
    Name(&'static str, NameError),
    #[error("not an SMB: {0:02x?}")]
    NotSmb([u8; 4]),
    #[error("SMB command {0:#04x}, not Transaction (0x25)")]
    Command(u8),
    #[error("{what} is {value}, must be {expected}")]
    Field {
        what: &'static str,
        value: u32,
        expected: u32,
    },
    #[error("{what}: offset {offset} count {count} outside the {size}-byte SMB")]
    OutOfBounds {
        what: &'static str,
        offset: usize,
        count: usize,
        size: usize,
    },
    #[error("buffer too small to emit {0}")]
    NoRoom(&'static str),
}

impl From<Short> for DgramError {
    fn from(s: Short) -> Self {
        DgramError::Truncated(s.0)
    }
}

/// Message types (offset 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MsgType {
    DirectUnique = 0x10,
    DirectGroup = 0x11,
    Broadcast = 0x12,
    Error = 0x13,
    QueryRequest = 0x14,
    PositiveQueryResponse = 0x15,
    NegativeQueryResponse = 0x16,
}

impl MsgType {
    pub fn from_wire(b: u8) -> Result<MsgType, DgramError> {
        Ok(match b {
            0x10 => MsgType::DirectUnique,
            0x11 => MsgType::DirectGroup,
            0x12 => MsgType::Broadcast,
            0x13 => MsgType::Error,
            0x14 => MsgType::QueryRequest,
            0x15 => MsgType::PositiveQueryResponse,
            0x16 => MsgType::NegativeQueryResponse,
            other => return Err(DgramError::MsgType(other)),
        })
    }
}

/// The sender's node type (flags bits 2-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    B = 0,
    P = 1,
    M = 2,
    /// NBDD / H node.
    H = 3,
}

/// The part every datagram starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DgramHeader {
    /// More fragments follow.
    pub more: bool,
    /// This is the first fragment.
    pub first: bool,
    pub node_type: NodeType,
    pub id: u16,
    pub source_ip: Ipv4Addr,
    pub source_port: u16,
}

/// Error codes of a 0x13 datagram.
pub mod error_code {
    pub const DESTINATION_NAME_NOT_PRESENT: u8 = 0x82;
    pub const INVALID_SOURCE_NAME: u8 = 0x83;
    pub const INVALID_DESTINATION_NAME: u8 = 0x84;
}

/// One parsed datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// 0x10, 0x11, 0x12: user data from `source` to `destination`.
    Data {
        msg_type: MsgType,
        header: DgramHeader,
        /// Where this fragment's data sits in the whole user data.
        packet_offset: u16,
        source: NbName,
        destination: NbName,
        data: Vec<u8>,
    },
    /// 0x13.
    Error { header: DgramHeader, code: u8 },
    /// 0x14..0x16.
    Query {
        msg_type: MsgType,
        header: DgramHeader,
        destination: NbName,
    },
}

impl Datagram {
    pub fn parse(packet: &[u8]) -> Result<Datagram, DgramError> {
        let mut r = Reader::new(packet);
        // 0
        let msg_type = MsgType::from_wire(r.u8("msg type")?)?;
        // 1
        let flags = r.u8("flags")?;
        let node_type = match (flags >> 2) & 3 {
            0 => NodeType::B,
            1 => NodeType::P,
            2 => NodeType::M,
            _ => NodeType::H,
        };
        // 2, 4, 8
        let id = r.u16_be("dgm id")?;
        let source_ip = Ipv4Addr::from(r.array::<4>("source ip")?);
        let source_port = r.u16_be("source port")?;
        let header = DgramHeader {
            more: flags & 1 != 0,
            first: flags & 2 != 0,
            node_type,
            id,
            source_ip,
            source_port,
        };
        match msg_type {
            MsgType::DirectUnique | MsgType::DirectGroup | MsgType::Broadcast => {
                // 10
                let dgm_length = usize::from(r.u16_be("dgm length")?);
                // 12
                let packet_offset = r.u16_be("packet offset")?;
                // The names and data must lie inside dgm length; bytes after
                // it (link-layer padding) are not ours to read.
                if dgm_length > r.left() {
                    return Err(DgramError::DgmLength {
                        claimed: dgm_length,
                        available: r.left(),
                    });
                }
                let body = &packet[..field::DATA_HEADER_LEN + dgm_length];
                // 14: source name, then destination name. Datagrams carry
                // no compression in practice; NbName::decode bounds any
                // pointer to earlier bytes of this same datagram.
                let (source, at) = NbName::decode(body, field::DATA_HEADER_LEN)
                    .map_err(|e| DgramError::Name("source name", e))?;
                let (destination, at) = NbName::decode(body, at)
                    .map_err(|e| DgramError::Name("destination name", e))?;
                Ok(Datagram::Data {
                    msg_type,
                    header,
                    packet_offset,
                    source,
                    destination,
                    data: body[at..].to_vec(),
                })
            }
            MsgType::Error => {
                // 10
                let code = r.u8("error code")?;
                Ok(Datagram::Error { header, code })
            }
            MsgType::QueryRequest
            | MsgType::PositiveQueryResponse
            | MsgType::NegativeQueryResponse => {
                // 10
                let (destination, _) = NbName::decode(packet, field::QUERY_NAME)
                    .map_err(|e| DgramError::Name("destination name", e))?;
                Ok(Datagram::Query {
                    msg_type,
                    header,
                    destination,
                })
            }
        }
    }

    /// The emitted length.
    pub fn buffer_len(&self) -> usize {
        match self {
            Datagram::Data {
                source,
                destination,
                data,
                ..
            } => {
                field::DATA_HEADER_LEN
                    + source.encoded_len()
                    + destination.encoded_len()
                    + data.len()
            }
            Datagram::Error { .. } => field::SHORT_HEADER_LEN + 1,
            Datagram::Query { destination, .. } => {
                field::SHORT_HEADER_LEN + destination.encoded_len()
            }
        }
    }

    /// Writes the datagram at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, DgramError> {
        let (msg_type, header) = match self {
            Datagram::Data {
                msg_type, header, ..
            }
            | Datagram::Query {
                msg_type, header, ..
            } => (*msg_type, header),
            Datagram::Error { header, .. } => (MsgType::Error, header),
        };
        let room = |_| DgramError::NoRoom("datagram");
        let mut w = Writer::new(buf);
        // 0, 1
        w.u8(msg_type as u8, "msg type").map_err(room)?;
        let flags =
            u8::from(header.more) | u8::from(header.first) << 1 | (header.node_type as u8) << 2;
        w.u8(flags, "flags").map_err(room)?;
        // 2, 4, 8
        w.u16_be(header.id, "dgm id").map_err(room)?;
        w.bytes(&header.source_ip.octets(), "source ip")
            .map_err(room)?;
        w.u16_be(header.source_port, "source port").map_err(room)?;
        match self {
            Datagram::Data {
                packet_offset,
                source,
                destination,
                data,
                ..
            } => {
                let dgm_length = source.encoded_len() + destination.encoded_len() + data.len();
                let dgm_length =
                    u16::try_from(dgm_length).map_err(|_| DgramError::NoRoom("dgm length"))?;
                // 10, 12
                w.u16_be(dgm_length, "dgm length").map_err(room)?;
                w.u16_be(*packet_offset, "packet offset").map_err(room)?;
                // 14
                let mut names =
                    Vec::with_capacity(source.encoded_len() + destination.encoded_len());
                source.encode(&mut names);
                destination.encode(&mut names);
                w.bytes(&names, "names").map_err(room)?;
                w.bytes(data, "user data").map_err(room)?;
            }
            Datagram::Error { code, .. } => {
                // 10
                w.u8(*code, "error code").map_err(room)?;
            }
            Datagram::Query { destination, .. } => {
                // 10
                let mut name = Vec::new();
                destination.encode(&mut name);
                w.bytes(&name, "destination name").map_err(room)?;
            }
        }
        Ok(w.pos())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v).expect("buffer_len is the emitted length");
        v.truncate(n);
        v
    }
}

/// SMB1 header and Transaction request layout (offsets from the `\xffSMB`).
pub mod smb_field {
    pub type Field = std::ops::Range<usize>;
    pub const PROTOCOL: Field = 0..4;
    pub const COMMAND: usize = 4;
    pub const STATUS: Field = 5..9;
    pub const FLAGS: usize = 9;
    pub const FLAGS2: Field = 10..12;
    pub const PID_HIGH: Field = 12..14;
    pub const SIGNATURE: Field = 14..22;
    pub const RESERVED: Field = 22..24;
    pub const TID: Field = 24..26;
    pub const PID: Field = 26..28;
    pub const UID: Field = 28..30;
    pub const MID: Field = 30..32;
    pub const HEADER_LEN: usize = 32;
    pub const WORD_COUNT: usize = 32;
    // words, each relative to the SMB start:
    pub const TOTAL_PARAM_COUNT: Field = 33..35;
    pub const TOTAL_DATA_COUNT: Field = 35..37;
    pub const MAX_PARAM_COUNT: Field = 37..39;
    pub const MAX_DATA_COUNT: Field = 39..41;
    pub const MAX_SETUP_COUNT: usize = 41;
    pub const RESERVED1: usize = 42;
    pub const TRANS_FLAGS: Field = 43..45;
    pub const TIMEOUT: Field = 45..49;
    pub const RESERVED2: Field = 49..51;
    pub const PARAM_COUNT: Field = 51..53;
    pub const PARAM_OFFSET: Field = 53..55;
    pub const DATA_COUNT: Field = 55..57;
    pub const DATA_OFFSET: Field = 57..59;
    pub const SETUP_COUNT: usize = 59;
    pub const RESERVED3: usize = 60;
    pub const SETUP_OPCODE: Field = 61..63;
    pub const SETUP_PRIORITY: Field = 63..65;
    pub const SETUP_CLASS: Field = 65..67;
    pub const BYTE_COUNT: Field = 67..69;
    /// The mailslot name starts the bytes.
    pub const NAME: usize = 69;
}

pub const SMB_COM_TRANSACTION: u8 = 0x25;
/// Mailslot opcode 1: write.
pub const MAILSLOT_WRITE: u16 = 1;
/// Unreliable, broadcast mailslot (class 2).
pub const MAILSLOT_CLASS_UNRELIABLE: u16 = 2;
pub const BROWSE_MAILSLOT: &str = "\\MAILSLOT\\BROWSE";
/// The longest mailslot name we accept.
const MAX_MAILSLOT_NAME: usize = 255;

/// A mailslot write: the user data of a browser datagram.
///
/// The SMB header fields that mean nothing for a datagram (tid, uid, mid,
/// signature) are sent as zero and not kept; the ones a sender may set
/// are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailslotWrite {
    /// SMB header flags and flags2 (Samba sends 0/0).
    pub smb_flags: u8,
    pub smb_flags2: u16,
    pub pid: u16,
    pub max_data_count: u16,
    pub timeout: u32,
    /// Setup word 2 (priority; Samba sends 1).
    pub priority: u16,
    /// Setup word 3 (class; 2 = unreliable).
    pub class: u16,
    pub mailslot: String,
    pub data: Vec<u8>,
}

impl MailslotWrite {
    /// A write to `\MAILSLOT\BROWSE` as Samba sends it.
    pub fn browse(data: Vec<u8>) -> MailslotWrite {
        MailslotWrite {
            smb_flags: 0,
            smb_flags2: 0,
            pid: 0,
            max_data_count: 0,
            timeout: 0,
            priority: 1,
            class: MAILSLOT_CLASS_UNRELIABLE,
            mailslot: BROWSE_MAILSLOT.to_string(),
            data,
        }
    }

    pub fn parse(smb: &[u8]) -> Result<MailslotWrite, DgramError> {
        use smb_field as f;
        let mut r = Reader::new(smb);
        // 0
        let proto = r.array::<4>("SMB protocol")?;
        if proto != *b"\xffSMB" {
            return Err(DgramError::NotSmb(proto));
        }
        // 4
        let command = r.u8("SMB command")?;
        if command != SMB_COM_TRANSACTION {
            return Err(DgramError::Command(command));
        }
        // 5 status, 9 flags, 10 flags2, 12 pid high, 14 signature, 22
        // reserved, 24 tid, 26 pid, 28 uid, 30 mid
        r.take(4, "status")?;
        let smb_flags = r.u8("flags")?;
        let smb_flags2 = r.u16_le("flags2")?;
        r.take(2 + 8 + 2 + 2, "pid high .. tid")?;
        let pid = r.u16_le("pid")?;
        r.take(4, "uid, mid")?;
        // 32
        let word_count = r.u8("word count")?;
        expect("word count", word_count.into(), 17)?;
        // 33
        let _total_param = r.u16_le("total parameter count")?;
        let total_data = r.u16_le("total data count")?;
        let _max_param = r.u16_le("max parameter count")?;
        let max_data_count = r.u16_le("max data count")?;
        let _max_setup = r.u8("max setup count")?;
        r.u8("reserved")?;
        let _flags = r.u16_le("transaction flags")?;
        let timeout = r.u32_le("timeout")?;
        r.u16_le("reserved2")?;
        // 51
        let param_count = usize::from(r.u16_le("parameter count")?);
        let param_offset = usize::from(r.u16_le("parameter offset")?);
        let data_count = usize::from(r.u16_le("data count")?);
        let data_offset = usize::from(r.u16_le("data offset")?);
        // 59
        let setup_count = r.u8("setup count")?;
        expect("setup count", setup_count.into(), 3)?;
        r.u8("reserved3")?;
        // 61
        let opcode = r.u16_le("mailslot opcode")?;
        expect("mailslot opcode", opcode.into(), MAILSLOT_WRITE.into())?;
        let priority = r.u16_le("mailslot priority")?;
        let class = r.u16_le("mailslot class")?;
        // 67
        let byte_count = usize::from(r.u16_le("byte count")?);
        debug_assert_eq!(smb.len() - r.left(), f::NAME);
        // 69: the bytes: the mailslot name, then parameters and data at
        // their offsets, all inside byte count.
        let mut bytes = r.sub(byte_count, "SMB bytes")?;
        let name_end = bytes
            .rest()
            .iter()
            .position(|&b| b == 0)
            .ok_or(DgramError::Truncated("mailslot name terminator"))?;
        if name_end > MAX_MAILSLOT_NAME {
            return Err(DgramError::Field {
                what: "mailslot name length",
                value: name_end as u32,
                expected: MAX_MAILSLOT_NAME as u32,
            });
        }
        let mailslot = oem_to_string(bytes.cstr());
        let bytes_end = f::NAME + byte_count;
        // A write is not fragmented over several transactions: the total
        // is the count (a reply would need the rest, a mailslot has none).
        expect("total data count", total_data.into(), data_count as u32)?;
        check_in(smb, bytes_end, "parameters", param_offset, param_count)?;
        let data = check_in(smb, bytes_end, "data", data_offset, data_count)?.to_vec();
        Ok(MailslotWrite {
            smb_flags,
            smb_flags2,
            pid,
            max_data_count,
            timeout,
            priority,
            class,
            mailslot,
            data,
        })
    }

    pub fn buffer_len(&self) -> usize {
        smb_field::NAME + self.mailslot.chars().count() + 1 + self.data.len()
    }

    /// Writes the SMB at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, DgramError> {
        use smb_field as f;
        let room = |s: Short| DgramError::NoRoom(s.0);
        let name = string_to_oem(&self.mailslot);
        let data_offset = f::NAME + name.len() + 1;
        let data_count =
            u16::try_from(self.data.len()).map_err(|_| DgramError::NoRoom("data count"))?;
        let byte_count = u16::try_from(name.len() + 1 + self.data.len())
            .map_err(|_| DgramError::NoRoom("byte count"))?;
        let data_offset16 =
            u16::try_from(data_offset).map_err(|_| DgramError::NoRoom("data offset"))?;
        let mut w = Writer::new(buf);
        // 0 protocol, 4 command, 5 status
        w.bytes(b"\xffSMB", "protocol").map_err(room)?;
        w.u8(SMB_COM_TRANSACTION, "command").map_err(room)?;
        w.bytes(&[0; 4], "status").map_err(room)?;
        // 9 flags, 10 flags2
        w.u8(self.smb_flags, "flags").map_err(room)?;
        w.u16_le(self.smb_flags2, "flags2").map_err(room)?;
        // 12 pid high, 14 signature, 22 reserved, 24 tid
        w.bytes(&[0; 2 + 8 + 2 + 2], "pid high .. tid")
            .map_err(room)?;
        // 26 pid, 28 uid, 30 mid
        w.u16_le(self.pid, "pid").map_err(room)?;
        w.bytes(&[0; 4], "uid, mid").map_err(room)?;
        // 32 word count
        w.u8(17, "word count").map_err(room)?;
        // 33 total parameter, 35 total data, 37 max parameter, 39 max data
        w.u16_le(0, "total parameter count").map_err(room)?;
        w.u16_le(data_count, "total data count").map_err(room)?;
        w.u16_le(0, "max parameter count").map_err(room)?;
        w.u16_le(self.max_data_count, "max data count")
            .map_err(room)?;
        // 41 max setup, 42 reserved, 43 flags, 45 timeout, 49 reserved2
        w.u8(0, "max setup count").map_err(room)?;
        w.u8(0, "reserved").map_err(room)?;
        w.u16_le(0, "transaction flags").map_err(room)?;
        w.u32_le(self.timeout, "timeout").map_err(room)?;
        w.u16_le(0, "reserved2").map_err(room)?;
        // 51 parameter count, 53 parameter offset (no parameters: Samba
        // sends offset 0), 55 data count, 57 data offset
        w.u16_le(0, "parameter count").map_err(room)?;
        w.u16_le(0, "parameter offset").map_err(room)?;
        w.u16_le(data_count, "data count").map_err(room)?;
        w.u16_le(data_offset16, "data offset").map_err(room)?;
        // 59 setup count, 60 reserved3, 61 opcode, 63 priority, 65 class
        w.u8(3, "setup count").map_err(room)?;
        w.u8(0, "reserved3").map_err(room)?;
        w.u16_le(MAILSLOT_WRITE, "opcode").map_err(room)?;
        w.u16_le(self.priority, "priority").map_err(room)?;
        w.u16_le(self.class, "class").map_err(room)?;
        // 67 byte count, 69 name, then the data
        w.u16_le(byte_count, "byte count").map_err(room)?;
        w.bytes(&name, "mailslot name").map_err(room)?;
        w.u8(0, "mailslot name terminator").map_err(room)?;
        debug_assert_eq!(w.pos(), data_offset);
        w.bytes(&self.data, "data").map_err(room)?;
        Ok(w.pos())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v).expect("buffer_len is the emitted length");
        v.truncate(n);
        v
    }
}

fn expect(what: &'static str, value: u32, expected: u32) -> Result<(), DgramError> {
    if value == expected {
        Ok(())
    } else {
        Err(DgramError::Field {
            what,
            value,
            expected,
        })
    }
}

/// `count` bytes at `offset` of the SMB, inside its bytes (which end at
/// `bytes_end`). A count of zero may point anywhere up to the end.
fn check_in<'a>(
    smb: &'a [u8],
    bytes_end: usize,
    what: &'static str,
    offset: usize,
    count: usize,
) -> Result<&'a [u8], DgramError> {
    let bad = DgramError::OutOfBounds {
        what,
        offset,
        count,
        size: bytes_end,
    };
    if count == 0 {
        return if offset <= bytes_end {
            Ok(&[])
        } else {
            Err(bad)
        };
    }
    if offset < smb_field::NAME || offset + count > bytes_end {
        return Err(bad);
    }
    Ok(&smb[offset..offset + count])
}

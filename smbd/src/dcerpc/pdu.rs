//! Connection-oriented DCE/RPC PDUs (C706 12.6, MS-RPCE 2.2.2): the common
//! header, BIND / ALTER_CONTEXT and their answers, REQUEST, RESPONSE and
//! FAULT. Each body is parsed completely into a typed struct and emitted in
//! wire order; offsets in the comments count from the start of the PDU.
//!
//! Integers in the header follow the byte order the sender declares in its
//! data representation, so that a PDU from a big-endian client can still be
//! framed and refused politely; bodies are read only from little-endian
//! senders (the pipe refuses the others first).

use std::fmt;

use super::PipeError;
use super::ndr::{NdrReader, NdrWriter};

/// Offsets of the common header (C706 12.6.3.1).
pub mod field {
    pub type Field = core::ops::Range<usize>;
    pub const RPC_VERS: usize = 0;
    pub const RPC_VERS_MINOR: usize = 1;
    pub const PTYPE: usize = 2;
    pub const PFC_FLAGS: usize = 3;
    pub const DREP: Field = 4..8;
    pub const FRAG_LENGTH: Field = 8..10;
    pub const AUTH_LENGTH: Field = 10..12;
    pub const CALL_ID: Field = 12..16;
    pub const HEADER_LEN: usize = CALL_ID.end;
}

pub const HEADER_LEN: usize = field::HEADER_LEN;

/// Header plus alloc_hint, p_cont_id, opnum / cancel_count: where the stub
/// of a REQUEST or RESPONSE starts.
pub const REQUEST_HEADER_LEN: usize = 24;

/// The sec_trailer in front of an auth verifier (MS-RPCE 2.2.2.11).
pub const SEC_TRAILER_LEN: usize = 8;

/// PDU types (C706 12.6.4); unknown values are kept, and refused by the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketType(pub u8);

impl PacketType {
    pub const REQUEST: PacketType = PacketType(0);
    pub const RESPONSE: PacketType = PacketType(2);
    pub const FAULT: PacketType = PacketType(3);
    pub const BIND: PacketType = PacketType(11);
    pub const BIND_ACK: PacketType = PacketType(12);
    pub const BIND_NAK: PacketType = PacketType(13);
    pub const ALTER_CONTEXT: PacketType = PacketType(14);
    pub const ALTER_CONTEXT_RESP: PacketType = PacketType(15);
    pub const AUTH3: PacketType = PacketType(16);
    pub const SHUTDOWN: PacketType = PacketType(17);
    pub const CO_CANCEL: PacketType = PacketType(18);
    pub const ORPHANED: PacketType = PacketType(19);
}

/// pfc_flags bits (C706 12.6.3.1, MS-RPCE 2.2.2.3).
pub mod pfc {
    pub const FIRST_FRAG: u8 = 0x01;
    pub const LAST_FRAG: u8 = 0x02;
    /// PENDING_CANCEL on requests, SUPPORT_HEADER_SIGN on binds.
    pub const PENDING_CANCEL: u8 = 0x04;
    pub const CONC_MPX: u8 = 0x10;
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    pub const MAYBE: u8 = 0x40;
    pub const OBJECT_UUID: u8 = 0x80;
}

/// Little-endian integers, ASCII characters, IEEE floats: the only data
/// representation we read, and the one we send.
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

/// The common header of every connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub rpc_vers: u8,
    pub rpc_vers_minor: u8,
    pub ptype: PacketType,
    pub pfc_flags: u8,
    pub drep: [u8; 4],
    pub frag_length: u16,
    pub auth_length: u16,
    pub call_id: u32,
}

impl Header {
    /// A header we send: version 5.0, little-endian, frag_length filled in
    /// by [`emit_pdu`].
    pub fn new(ptype: PacketType, pfc_flags: u8, call_id: u32) -> Header {
        Header {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype,
            pfc_flags,
            drep: DREP_LE,
            frag_length: 0,
            auth_length: 0,
            call_id,
        }
    }

    /// The first 16 bytes of `buf`; no semantic checks (the pipe makes them,
    /// with the answer each one deserves).
    pub fn parse(buf: &[u8]) -> Result<Header, PipeError> {
        fn bytes<const N: usize>(buf: &[u8], f: field::Field) -> Result<[u8; N], PipeError> {
            buf.get(f)
                .and_then(|b| <[u8; N]>::try_from(b).ok())
                .ok_or(PipeError::MissingData("PDU header"))
        }
        let byte = |i: usize| {
            buf.get(i)
                .copied()
                .ok_or(PipeError::MissingData("PDU header"))
        };
        let drep: [u8; 4] = bytes(buf, field::DREP)?;
        let little = drep[0] & 0xf0 == 0x10;
        let u16_at = |f| -> Result<u16, PipeError> {
            let b = bytes::<2>(buf, f)?;
            Ok(if little {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            })
        };
        let call_id = bytes::<4>(buf, field::CALL_ID)?;
        Ok(Header {
            rpc_vers: byte(field::RPC_VERS)?,
            rpc_vers_minor: byte(field::RPC_VERS_MINOR)?,
            ptype: PacketType(byte(field::PTYPE)?),
            pfc_flags: byte(field::PFC_FLAGS)?,
            drep,
            frag_length: u16_at(field::FRAG_LENGTH)?,
            auth_length: u16_at(field::AUTH_LENGTH)?,
            call_id: if little {
                u32::from_le_bytes(call_id)
            } else {
                u32::from_be_bytes(call_id)
            },
        })
    }

    /// Emits the header little-endian (we never send anything else).
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        self.emit_into(&mut out);
        out
    }

    /// Writes every byte of `out`.
    pub fn emit_into(&self, out: &mut [u8; HEADER_LEN]) {
        out[field::RPC_VERS] = self.rpc_vers;
        out[field::RPC_VERS_MINOR] = self.rpc_vers_minor;
        out[field::PTYPE] = self.ptype.0;
        out[field::PFC_FLAGS] = self.pfc_flags;
        out[field::DREP].copy_from_slice(&self.drep);
        out[field::FRAG_LENGTH].copy_from_slice(&self.frag_length.to_le_bytes());
        out[field::AUTH_LENGTH].copy_from_slice(&self.auth_length.to_le_bytes());
        out[field::CALL_ID].copy_from_slice(&self.call_id.to_le_bytes());
    }

    /// Integers little-endian, characters ASCII, floats IEEE: the only
    /// representation we decode (reserved drep bytes 2 and 3 are ignored).
    pub fn drep_supported(&self) -> bool {
        self.drep[0] == 0x10 && self.drep[1] == 0
    }
}

/// One PDU split into header, body and auth verifier (sec_trailer plus
/// credentials, empty when auth_length is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: Header,
    pub body: &'a [u8],
    pub auth: &'a [u8],
}

impl<'a> Frame<'a> {
    /// `pdu` must be exactly one PDU: frag_length bytes.
    pub fn parse(pdu: &'a [u8]) -> Result<Frame<'a>, PipeError> {
        let header = Header::parse(pdu)?;
        check_lengths(&header)?;
        if usize::from(header.frag_length) != pdu.len() {
            return Err(PipeError::Invalid {
                what: "frag_length",
                value: header.frag_length.into(),
            });
        }
        let mut r = NdrReader::new(pdu);
        r.take(HEADER_LEN, "PDU header")?;
        let auth_len = auth_part_len(&header);
        let body = r.take(r.remaining() - auth_len, "PDU body")?;
        let auth = r.take(auth_len, "auth verifier")?;
        Ok(Frame { header, body, auth })
    }
}

/// Bytes the auth verifier takes at the end of the PDU.
fn auth_part_len(h: &Header) -> usize {
    if h.auth_length == 0 {
        0
    } else {
        SEC_TRAILER_LEN + usize::from(h.auth_length)
    }
}

/// frag_length must hold the header and the auth verifier; without this no
/// byte after the header can be found.
pub fn check_lengths(h: &Header) -> Result<(), PipeError> {
    let frag = usize::from(h.frag_length);
    if frag < HEADER_LEN {
        return Err(PipeError::Invalid {
            what: "frag_length",
            value: h.frag_length.into(),
        });
    }
    if HEADER_LEN + auth_part_len(h) > frag {
        return Err(PipeError::Invalid {
            what: "auth_length",
            value: h.auth_length.into(),
        });
    }
    Ok(())
}

/// Header with frag_length, then the body.
pub fn emit_pdu(mut header: Header, body: &[u8]) -> Vec<u8> {
    header.frag_length = u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header.emit());
    out.extend_from_slice(body);
    out
}

/// A UUID in its wire form: the first three fields little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub const NIL: Uuid = Uuid([0; 16]);

    /// From the fields as written in text: `d1-d2-d3-d4[0..2]-d4[2..8]`.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Uuid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Uuid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The first eight bytes: time_low, time_mid, time_hi_and_version.
    pub fn prefix(&self) -> [u8; 8] {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        [a, b, c, d, e, f, g, h]
    }

    /// The last eight bytes: clock_seq and node.
    pub fn suffix(&self) -> [u8; 8] {
        let [.., a, b, c, d, e, f, g, h] = self.0;
        [a, b, c, d, e, f, g, h]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An interface or transfer syntax: UUID and version. For interfaces the
/// version is major in the low 16 bits, minor in the high 16 (on the wire:
/// u16 major, u16 minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyntaxId {
    pub uuid: Uuid,
    pub version: u32,
}

impl SyntaxId {
    pub const NIL: SyntaxId = SyntaxId {
        uuid: Uuid::NIL,
        version: 0,
    };

    fn read(r: &mut NdrReader<'_>, what: &'static str) -> Result<SyntaxId, PipeError> {
        Ok(SyntaxId {
            uuid: Uuid(r.bytes16(what)?),
            version: r.u32(what)?,
        })
    }

    fn write(&self, w: &mut NdrWriter) {
        w.bytes(&self.uuid.0);
        w.u32(self.version);
    }
}

/// NDR 2.0, the transfer syntax we speak.
pub const NDR20: SyntaxId = SyntaxId {
    uuid: Uuid::from_fields(
        0x8a88_5d04,
        0x1ceb,
        0x11c9,
        [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
    ),
    version: 2,
};

/// NDR64, which we refuse (as Samba does).
pub const NDR64: SyntaxId = SyntaxId {
    uuid: Uuid::from_fields(
        0x7171_0533,
        0xbeba,
        0x4937,
        [0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36],
    ),
    version: 1,
};

/// Bind time feature negotiation (MS-RPCE 3.3.1.5.3): a transfer syntax
/// `6cb71c2c-9812-4540-XXXX-XXXXXXXXXXXX` version 1 whose last eight bytes
/// are the feature bitmask the client offers.
const BIND_TIME_FEATURES_PREFIX: [u8; 8] = [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45];

/// Feature bits: security context multiplexing, keep connection on orphan.
pub const BIND_TIME_FEATURES_KNOWN: u64 = 0x3;

impl SyntaxId {
    /// The features offered, when this is a bind time feature negotiation
    /// syntax.
    pub fn bind_time_features(&self) -> Option<u64> {
        (self.uuid.prefix() == BIND_TIME_FEATURES_PREFIX && self.version == 1)
            .then(|| u64::from_le_bytes(self.uuid.suffix()))
    }

    /// The syntax a client offers to negotiate `features`.
    pub fn bind_time_feature_negotiation(features: u64) -> SyntaxId {
        let mut uuid = [0u8; 16];
        let (head, tail) = uuid.split_at_mut(8);
        head.copy_from_slice(&BIND_TIME_FEATURES_PREFIX);
        tail.copy_from_slice(&features.to_le_bytes());
        SyntaxId {
            uuid: Uuid(uuid),
            version: 1,
        }
    }
}

/// One presentation context a client proposes (p_cont_elem_t).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextElement {
    pub context_id: u16,
    pub abstract_syntax: SyntaxId,
    pub transfer_syntaxes: Vec<SyntaxId>,
}

/// A context element takes at least this much: id, count, reserved,
/// abstract syntax.
const CONTEXT_ELEMENT_MIN: usize = 4 + 20;

/// BIND and ALTER_CONTEXT bodies (C706 12.6.4.3 and 12.6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group_id: u32,
    pub contexts: Vec<ContextElement>,
}

impl Bind {
    pub fn parse(body: &[u8]) -> Result<Bind, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let max_xmit_frag = r.u16("max_xmit_frag")?; // 16
        let max_recv_frag = r.u16("max_recv_frag")?; // 18
        let assoc_group_id = r.u32("assoc_group_id")?; // 20
        let n_context_elem = r.u8("n_context_elem")?; // 24
        r.take(3, "p_context_elem reserved")?; // 25
        // 28: the context elements; the count is a u8, and each one needs
        // CONTEXT_ELEMENT_MIN bytes that must be there.
        let mut contexts = Vec::new();
        for _ in 0..n_context_elem {
            if r.remaining() < CONTEXT_ELEMENT_MIN {
                return Err(PipeError::MissingData("p_cont_elem_t"));
            }
            let context_id = r.u16("p_cont_id")?;
            let n_transfer_syn = r.u8("n_transfer_syn")?;
            r.take(1, "p_cont_elem_t reserved")?;
            let abstract_syntax = SyntaxId::read(&mut r, "abstract_syntax")?;
            let mut transfer_syntaxes = Vec::new();
            for _ in 0..n_transfer_syn {
                transfer_syntaxes.push(SyntaxId::read(&mut r, "transfer_syntaxes")?);
            }
            contexts.push(ContextElement {
                context_id,
                abstract_syntax,
                transfer_syntaxes,
            });
        }
        // Anything after the list is ignored, as Samba and Windows do.
        Ok(Bind {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            contexts,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u16(self.max_xmit_frag);
        w.u16(self.max_recv_frag);
        w.u32(self.assoc_group_id);
        w.u8(u8::try_from(self.contexts.len()).unwrap_or(u8::MAX));
        w.bytes(&[0; 3]);
        for c in self.contexts.iter().take(usize::from(u8::MAX)) {
            w.u16(c.context_id);
            w.u8(u8::try_from(c.transfer_syntaxes.len()).unwrap_or(u8::MAX));
            w.u8(0);
            c.abstract_syntax.write(&mut w);
            for t in c.transfer_syntaxes.iter().take(usize::from(u8::MAX)) {
                t.write(&mut w);
            }
        }
        w.into_bytes()
    }
}

/// Why a provider refused a context (p_provider_reason_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderReason(pub u16);

impl ProviderReason {
    pub const NOT_SPECIFIED: ProviderReason = ProviderReason(0);
    pub const ABSTRACT_SYNTAX_NOT_SUPPORTED: ProviderReason = ProviderReason(1);
    pub const PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED: ProviderReason = ProviderReason(2);
    pub const LOCAL_LIMIT_EXCEEDED: ProviderReason = ProviderReason(3);
}

/// The answer to one proposed context (p_result_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextResult {
    /// result 0, with the transfer syntax chosen.
    Acceptance(SyntaxId),
    /// result 1.
    UserRejection(ProviderReason),
    /// result 2.
    ProviderRejection(ProviderReason),
    /// result 3 (MS-RPCE): the reason field carries the features granted.
    NegotiateAck(u16),
    /// Any other result, kept as read.
    Unknown {
        result: u16,
        reason: u16,
        transfer_syntax: SyntaxId,
    },
}

impl ContextResult {
    fn read(r: &mut NdrReader<'_>) -> Result<ContextResult, PipeError> {
        let result = r.u16("p_result_t result")?;
        let reason = r.u16("p_result_t reason")?;
        let transfer_syntax = SyntaxId::read(r, "p_result_t transfer_syntax")?;
        Ok(match result {
            0 => ContextResult::Acceptance(transfer_syntax),
            1 => ContextResult::UserRejection(ProviderReason(reason)),
            2 => ContextResult::ProviderRejection(ProviderReason(reason)),
            3 => ContextResult::NegotiateAck(reason),
            _ => ContextResult::Unknown {
                result,
                reason,
                transfer_syntax,
            },
        })
    }

    fn write(&self, w: &mut NdrWriter) {
        let (result, reason, syntax) = match *self {
            ContextResult::Acceptance(s) => (0, 0, s),
            ContextResult::UserRejection(r) => (1, r.0, SyntaxId::NIL),
            ContextResult::ProviderRejection(r) => (2, r.0, SyntaxId::NIL),
            ContextResult::NegotiateAck(features) => (3, features, SyntaxId::NIL),
            ContextResult::Unknown {
                result,
                reason,
                transfer_syntax,
            } => (result, reason, transfer_syntax),
        };
        w.u16(result);
        w.u16(reason);
        syntax.write(w);
    }
}

/// BIND_ACK and ALTER_CONTEXT_RESP bodies (C706 12.6.4.4 and 12.6.4.2); the
/// secondary address is empty in the latter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group_id: u32,
    pub secondary_address: String,
    pub results: Vec<ContextResult>,
}

impl BindAck {
    pub fn parse(body: &[u8]) -> Result<BindAck, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let max_xmit_frag = r.u16("max_xmit_frag")?; // 16
        let max_recv_frag = r.u16("max_recv_frag")?; // 18
        let assoc_group_id = r.u32("assoc_group_id")?; // 20
        let sec_addr_len = r.u16("sec_addr length")?; // 24
        let port_spec = r.take(sec_addr_len.into(), "sec_addr port_spec")?; // 26
        let secondary_address = match port_spec.split_last() {
            None => String::new(),
            Some((0, text)) => text.iter().map(|&b| char::from(b)).collect(),
            Some(_) => return Err(PipeError::BadString("sec_addr port_spec")),
        };
        r.align(4, "sec_addr padding")?;
        let n_results = r.u8("n_results")?;
        r.take(3, "p_result_list reserved")?;
        let mut results = Vec::new();
        for _ in 0..n_results {
            results.push(ContextResult::read(&mut r)?);
        }
        Ok(BindAck {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            secondary_address,
            results,
        })
    }

    /// The address is sent as bytes; it is ASCII (`\PIPE\srvsvc`).
    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u16(self.max_xmit_frag);
        w.u16(self.max_recv_frag);
        w.u32(self.assoc_group_id);
        if self.secondary_address.is_empty() {
            w.u16(0);
        } else {
            let addr: Vec<u8> = self
                .secondary_address
                .chars()
                .map(|c| u8::try_from(c).unwrap_or(b'?'))
                .chain(std::iter::once(0))
                .collect();
            w.u16(u16::try_from(addr.len()).unwrap_or(u16::MAX));
            w.bytes(&addr);
        }
        w.align(4);
        w.u8(u8::try_from(self.results.len()).unwrap_or(u8::MAX));
        w.bytes(&[0; 3]);
        for res in self.results.iter().take(usize::from(u8::MAX)) {
            res.write(&mut w);
        }
        w.into_bytes()
    }
}

/// Why a bind was refused (p_reject_reason_t, MS-RPCE 2.2.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectReason(pub u16);

impl RejectReason {
    pub const NOT_SPECIFIED: RejectReason = RejectReason(0);
    pub const TEMPORARY_CONGESTION: RejectReason = RejectReason(1);
    pub const LOCAL_LIMIT_EXCEEDED: RejectReason = RejectReason(2);
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: RejectReason = RejectReason(4);
    pub const AUTHENTICATION_TYPE_NOT_RECOGNIZED: RejectReason = RejectReason(8);
}

/// BIND_NAK body (C706 12.6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindNak {
    pub reason: RejectReason,
    /// (major, minor) protocol versions we support.
    pub versions: Vec<(u8, u8)>,
}

impl BindNak {
    pub fn parse(body: &[u8]) -> Result<BindNak, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let reason = RejectReason(r.u16("provider_reject_reason")?); // 16
        let n = r.u8("n_protocols")?; // 18
        let mut versions = Vec::new();
        for _ in 0..n {
            versions.push((r.u8("rpc_vers")?, r.u8("rpc_vers_minor")?));
        }
        Ok(BindNak { reason, versions })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u16(self.reason.0);
        w.u8(u8::try_from(self.versions.len()).unwrap_or(u8::MAX));
        for &(major, minor) in self.versions.iter().take(usize::from(u8::MAX)) {
            w.u8(major);
            w.u8(minor);
        }
        // Padded to 4 as Samba and Windows send it.
        w.align(4);
        w.into_bytes()
    }
}

/// REQUEST body (C706 12.6.4.9). The stub is borrowed from the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub opnum: u16,
    /// Present when PFC_OBJECT_UUID is set.
    pub object: Option<Uuid>,
    pub stub: &'a [u8],
}

impl<'a> Request<'a> {
    pub fn parse(pfc_flags: u8, body: &'a [u8]) -> Result<Request<'a>, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let alloc_hint = r.u32("alloc_hint")?; // 16
        let context_id = r.u16("p_cont_id")?; // 20
        let opnum = r.u16("opnum")?; // 22
        let object = if pfc_flags & pfc::OBJECT_UUID != 0 {
            Some(Uuid(r.bytes16("object")?)) // 24
        } else {
            None
        };
        Ok(Request {
            alloc_hint,
            context_id,
            opnum,
            object,
            stub: r.rest(),
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.alloc_hint);
        w.u16(self.context_id);
        w.u16(self.opnum);
        if let Some(o) = self.object {
            w.bytes(&o.0);
        }
        w.bytes(self.stub);
        w.into_bytes()
    }
}

/// RESPONSE body (C706 12.6.4.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    pub stub: &'a [u8],
}

impl<'a> Response<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Response<'a>, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let alloc_hint = r.u32("alloc_hint")?; // 16
        let context_id = r.u16("p_cont_id")?; // 20
        let cancel_count = r.u8("cancel_count")?; // 22
        r.take(1, "reserved")?; // 23
        Ok(Response {
            alloc_hint,
            context_id,
            cancel_count,
            stub: r.rest(), // 24
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.alloc_hint);
        w.u16(self.context_id);
        w.u8(self.cancel_count);
        w.u8(0);
        w.bytes(self.stub);
        w.into_bytes()
    }
}

/// FAULT body (C706 12.6.4.7, MS-RPCE 2.2.2.11); no extended error data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub cancel_count: u8,
    /// MS-RPCE fault flags (0x01: extended error information follows).
    pub flags: u8,
    pub status: u32,
}

impl Fault {
    pub fn parse(body: &[u8]) -> Result<Fault, PipeError> {
        let mut r = NdrReader::at(body, HEADER_LEN);
        let alloc_hint = r.u32("alloc_hint")?; // 16
        let context_id = r.u16("p_cont_id")?; // 20
        let cancel_count = r.u8("cancel_count")?; // 22
        let flags = r.u8("fault flags")?; // 23
        let status = r.u32("status")?; // 24
        r.take(4, "reserved")?; // 28
        Ok(Fault {
            alloc_hint,
            context_id,
            cancel_count,
            flags,
            status,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.alloc_hint);
        w.u16(self.context_id);
        w.u8(self.cancel_count);
        w.u8(self.flags);
        w.u32(self.status);
        w.u32(0);
        w.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text() {
        assert_eq!(
            NDR20.uuid.to_string(),
            "8a885d04-1ceb-11c9-9fe8-08002b104860"
        );
        assert_eq!(
            NDR64.uuid.to_string(),
            "71710533-beba-4937-8319-b5dbef9ccc36"
        );
        let btfn = SyntaxId::bind_time_feature_negotiation(3);
        assert_eq!(
            btfn.uuid.to_string(),
            "6cb71c2c-9812-4540-0300-000000000000"
        );
        assert_eq!(btfn.bind_time_features(), Some(3));
        assert_eq!(NDR20.bind_time_features(), None);
    }

    #[test]
    fn header_big_endian_integers() {
        let h = [5, 0, 11, 3, 0x00, 0, 0, 0, 0, 0x48, 0, 0, 0, 0, 0, 7];
        let h = Header::parse(&h).unwrap();
        assert_eq!(h.frag_length, 0x48);
        assert_eq!(h.call_id, 7);
        assert!(!h.drep_supported());
    }

    #[test]
    fn header_lengths_that_cannot_frame() {
        let mut h = Header::new(PacketType::REQUEST, 3, 1);
        h.frag_length = 15;
        assert!(check_lengths(&h).is_err());
        h.frag_length = 40;
        h.auth_length = 17; // 16 + 8 + 17 > 40
        assert!(check_lengths(&h).is_err());
        h.auth_length = 16;
        assert!(check_lengths(&h).is_ok());
    }
}

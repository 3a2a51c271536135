//! RFC 1002 4.2: the NetBIOS name service packet (UDP 137).
//!
//! ```text
//!  0 transaction id      2 flags: R(15) opcode(14-11) AA(10) TC(9) RD(8) RA(7) B(4) rcode(3-0)
//!  4 qdcount  6 ancount  8 nscount  10 arcount
//! 12 questions:  name, qtype(2), qclass(2)
//!    records:    name (or pointer C0 0C), type(2), class(2), ttl(4), rdlength(2), rdata
//! ```
//!
//! [`Packet::parse`] checks every count and length against the datagram
//! before it allocates; [`Packet::emit`] writes the same bytes back, a
//! record name equal to the first question's name as the pointer C0 0C
//! (as Samba does in registrations and releases).

use std::net::Ipv4Addr;

use common::netbios::{NameError, NbName};

/// Header fields, in wire order.
mod field {
    use std::ops::Range;
    pub const TRN_ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
    pub const HEADER_LEN: usize = ARCOUNT.end;
}
pub use field::HEADER_LEN;

/// RFC 1002 MAX_DATAGRAM_LENGTH; we never send more.
pub const MAX_DATAGRAM: usize = 576;
/// The smallest question: a 2-byte pointer, qtype, qclass.
const MIN_QUESTION: usize = 6;
/// The smallest record: a 2-byte pointer, type, class, ttl, rdlength.
const MIN_RECORD: usize = 12;
/// Bytes per name in a node status response, and of its statistics.
const NODE_NAME_LEN: usize = 18;
pub const STATISTICS_LEN: usize = 46;

/// Record and question types.
pub mod rrtype {
    pub const A: u16 = 0x0001;
    pub const NS: u16 = 0x0002;
    pub const NULL: u16 = 0x000a;
    pub const NB: u16 = 0x0020;
    pub const NBSTAT: u16 = 0x0021;
}
/// The only class in use (IN).
pub const CLASS_IN: u16 = 1;

/// NB rdata / node status name flags.
pub mod nbflags {
    pub const GROUP: u16 = 0x8000;
    pub const ONT_MASK: u16 = 0x6000;
    pub const ONT_B: u16 = 0x0000;
    pub const ONT_P: u16 = 0x2000;
    pub const ONT_M: u16 = 0x4000;
    pub const ONT_H: u16 = 0x6000;
    /// Node status only.
    pub const DEREGISTERING: u16 = 0x1000;
    pub const CONFLICT: u16 = 0x0800;
    pub const ACTIVE: u16 = 0x0400;
    pub const PERMANENT: u16 = 0x0200;
}

/// Why a datagram was not accepted; every variant names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NbnsError {
    #[error("datagram of {0} bytes is shorter than the 12-byte header")]
    ShortHeader(usize),
    #[error("{what} truncated at offset {at}")]
    Truncated { what: &'static str, at: usize },
    #[error(
        "counts (qd {qd}, an {an}, ns {ns}, ar {ar}) need more than the {len} bytes of the datagram"
    )]
    CountsBeyondPacket {
        qd: u16,
        an: u16,
        ns: u16,
        ar: u16,
        len: usize,
    },
    #[error("name at offset {at}: {err}")]
    Name { at: usize, err: NameError },
    #[error("rdlength {rdlength} at offset {at} runs past the end of the datagram")]
    RdataBeyondPacket { rdlength: u16, at: usize },
    #[error("NB rdata of {0} bytes is not a multiple of 6")]
    NbRdataLength(u16),
    #[error("node status rdata of {rdlength} bytes cannot hold {count} names and the statistics")]
    NodeStatusLength { rdlength: u16, count: u8 },
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    #[error("too much to send: {0} bytes")]
    TooLong(usize),
}

/// Opcodes (header bits 14-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// Name query and node status.
    Query,
    Registration,
    Release,
    Wack,
    /// 8 (what Samba sends) or 9; the value is kept.
    Refresh(u8),
    MultiHomedRegistration,
}

impl Opcode {
    pub fn from_wire(v: u8) -> Result<Opcode, NbnsError> {
        Ok(match v {
            0 => Opcode::Query,
            5 => Opcode::Registration,
            6 => Opcode::Release,
            7 => Opcode::Wack,
            8 | 9 => Opcode::Refresh(v),
            0xf => Opcode::MultiHomedRegistration,
            other => return Err(NbnsError::UnknownOpcode(other)),
        })
    }

    pub fn wire(self) -> u8 {
        match self {
            Opcode::Query => 0,
            Opcode::Registration => 5,
            Opcode::Release => 6,
            Opcode::Wack => 7,
            Opcode::Refresh(v) => v,
            Opcode::MultiHomedRegistration => 0xf,
        }
    }
}

/// Response codes.
pub mod rcode {
    pub const OK: u8 = 0;
    pub const FMT_ERR: u8 = 1;
    pub const SRV_ERR: u8 = 2;
    pub const NAM_ERR: u8 = 3;
    pub const IMP_ERR: u8 = 4;
    pub const RFS_ERR: u8 = 5;
    pub const ACT_ERR: u8 = 6;
    pub const CFT_ERR: u8 = 7;

    pub fn name(rcode: u8) -> &'static str {
        match rcode {
            OK => "OK",
            FMT_ERR => "FMT_ERR (format error)",
            SRV_ERR => "SRV_ERR (server failure)",
            NAM_ERR => "NAM_ERR (name not found)",
            IMP_ERR => "IMP_ERR (unsupported request)",
            RFS_ERR => "RFS_ERR (refused)",
            ACT_ERR => "ACT_ERR (name active: owned by another node)",
            CFT_ERR => "CFT_ERR (name in conflict)",
            _ => "unknown rcode",
        }
    }
}

/// The 12-byte header without the counts (the codec derives those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub trn_id: u16,
    pub response: bool,
    pub opcode: Opcode,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub broadcast: bool,
    /// Bits 6-5, reserved (zero); kept so a packet re-emits unchanged.
    pub reserved: u8,
    pub rcode: u8,
}

impl Header {
    fn parse_flags(trn_id: u16, f: u16) -> Result<Header, NbnsError> {
        Ok(Header {
            trn_id,
            response: f & 0x8000 != 0,
            opcode: Opcode::from_wire(((f >> 11) & 0xf) as u8)?,
            authoritative: f & 0x0400 != 0,
            truncated: f & 0x0200 != 0,
            recursion_desired: f & 0x0100 != 0,
            recursion_available: f & 0x0080 != 0,
            reserved: ((f >> 5) & 0x3) as u8,
            broadcast: f & 0x0010 != 0,
            rcode: (f & 0xf) as u8,
        })
    }

    /// The 16-bit flags word (WACK rdata echoes it).
    pub fn flags(&self) -> u16 {
        (u16::from(self.response) << 15)
            | (u16::from(self.opcode.wire() & 0xf) << 11)
            | (u16::from(self.authoritative) << 10)
            | (u16::from(self.truncated) << 9)
            | (u16::from(self.recursion_desired) << 8)
            | (u16::from(self.recursion_available) << 7)
            | (u16::from(self.reserved & 0x3) << 5)
            | (u16::from(self.broadcast) << 4)
            | u16::from(self.rcode & 0xf)
    }

    /// A request header.
    pub fn request(trn_id: u16, opcode: Opcode, broadcast: bool, rd: bool) -> Header {
        Header {
            trn_id,
            response: false,
            opcode,
            authoritative: false,
            truncated: false,
            recursion_desired: rd,
            recursion_available: false,
            broadcast,
            reserved: 0,
            rcode: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: NbName,
    pub qtype: u16,
    pub qclass: u16,
}

/// One (flags, address) entry of NB rdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NbEntry {
    pub flags: u16,
    pub addr: Ipv4Addr,
}

impl NbEntry {
    pub fn is_group(&self) -> bool {
        self.flags & nbflags::GROUP != 0
    }
}

/// One name of a node status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    pub name: NbName,
    pub flags: u16,
}

/// The node status response rdata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub names: Vec<NodeName>,
    /// 46 bytes; the first 6 are the unit id (MAC address).
    pub statistics: [u8; STATISTICS_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// Type NB: (flags, address) entries (empty in some negative responses).
    Nb(Vec<NbEntry>),
    /// Type NBSTAT.
    NodeStatus(NodeStatus),
    /// Type NULL (negative query responses), rdlength 0.
    Null,
    /// WACK (opcode 7): the 2-byte flags of the request being acknowledged.
    Wack(u16),
    /// Anything else (NS, A in redirect responses), kept as sent.
    Other(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    pub name: NbName,
    pub rr_type: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: RData,
}

/// A whole name service datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<ResourceRecord>,
    pub authority: Vec<ResourceRecord>,
    pub additional: Vec<ResourceRecord>,
}

/// A bounded reader over the datagram; names are decoded against the whole
/// packet (compression pointers) through [`NbName::decode_exact`]: a name
/// server compares names byte for byte, as Samba and Windows do.
struct Reader<'a> {
    packet: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], NbnsError> {
        let s = self
            .packet
            .get(self.pos..self.pos + n)
            .ok_or(NbnsError::Truncated { what, at: self.pos })?;
        self.pos += n;
        Ok(s)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, NbnsError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, NbnsError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<NbName, NbnsError> {
        let at = self.pos;
        let (name, end) =
            NbName::decode_exact(self.packet, at).map_err(|err| NbnsError::Name { at, err })?;
        self.pos = end;
        Ok(name)
    }
}

impl Packet {
    pub fn parse(packet: &[u8]) -> Result<Packet, NbnsError> {
        if packet.len() < HEADER_LEN {
            return Err(NbnsError::ShortHeader(packet.len()));
        }
        let be =
            |r: std::ops::Range<usize>| u16::from_be_bytes([packet[r.start], packet[r.start + 1]]);
        let trn_id = be(field::TRN_ID);
        let header = Header::parse_flags(trn_id, be(field::FLAGS))?;
        let (qd, an, ns, ar) = (
            be(field::QDCOUNT),
            be(field::ANCOUNT),
            be(field::NSCOUNT),
            be(field::ARCOUNT),
        );
        // Counts are checked against the smallest possible entries before
        // anything is allocated for them.
        let need = usize::from(qd) * MIN_QUESTION
            + (usize::from(an) + usize::from(ns) + usize::from(ar)) * MIN_RECORD;
        if need > packet.len() - HEADER_LEN {
            return Err(NbnsError::CountsBeyondPacket {
                qd,
                an,
                ns,
                ar,
                len: packet.len(),
            });
        }
        let mut r = Reader {
            packet,
            pos: HEADER_LEN,
        };
        let mut questions = Vec::with_capacity(usize::from(qd));
        for _ in 0..qd {
            let name = r.name()?;
            let qtype = r.u16("question type")?;
            let qclass = r.u16("question class")?;
            questions.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        let records = |n: u16, r: &mut Reader| -> Result<Vec<ResourceRecord>, NbnsError> {
            let mut v = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                v.push(parse_record(r, header.opcode)?);
            }
            Ok(v)
        };
        let answers = records(an, &mut r)?;
        let authority = records(ns, &mut r)?;
        let additional = records(ar, &mut r)?;
        // Bytes after the last record are ignored (some stacks pad).
        Ok(Packet {
            header,
            questions,
            answers,
            authority,
            additional,
        })
    }

    /// The packet's bytes; fails only if they would exceed 576 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NbnsError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&self.header.trn_id.to_be_bytes()); // 0
        out.extend_from_slice(&self.header.flags().to_be_bytes()); // 2
        for n in [
            self.questions.len(),
            self.answers.len(),
            self.authority.len(),
            self.additional.len(),
        ] {
            out.extend_from_slice(&(n as u16).to_be_bytes()); // 4, 6, 8, 10
        }
        // 12: questions
        for q in &self.questions {
            q.name.encode(&mut out);
            out.extend_from_slice(&q.qtype.to_be_bytes());
            out.extend_from_slice(&q.qclass.to_be_bytes());
        }
        let first = self.questions.first().map(|q| &q.name);
        for rr in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            if Some(&rr.name) == first {
                out.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
            } else {
                rr.name.encode(&mut out);
            }
            out.extend_from_slice(&rr.rr_type.to_be_bytes());
            out.extend_from_slice(&rr.class.to_be_bytes());
            out.extend_from_slice(&rr.ttl.to_be_bytes());
            let len_at = out.len();
            out.extend_from_slice(&[0, 0]); // rdlength, set below
            emit_rdata(&rr.rdata, &mut out);
            let rdlength = (out.len() - len_at - 2) as u16;
            out[len_at..len_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        }
        if out.len() > MAX_DATAGRAM {
            return Err(NbnsError::TooLong(out.len()));
        }
        Ok(out)
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, NbnsError> {
        let bytes = self.to_bytes()?;
        let dst = buf
            .get_mut(..bytes.len())
            .ok_or(NbnsError::TooLong(bytes.len()))?;
        dst.copy_from_slice(&bytes);
        Ok(bytes.len())
    }
}

fn parse_record(r: &mut Reader, opcode: Opcode) -> Result<ResourceRecord, NbnsError> {
    let name = r.name()?;
    let rr_type = r.u16("record type")?;
    let class = r.u16("record class")?;
    let ttl = r.u32("record ttl")?;
    let at = r.pos;
    let rdlength = r.u16("rdlength")?;
    let data = r
        .take(usize::from(rdlength), "rdata")
        .map_err(|_| NbnsError::RdataBeyondPacket { rdlength, at })?;
    let rdata = match rr_type {
        _ if opcode == Opcode::Wack && rdlength == 2 => {
            RData::Wack(u16::from_be_bytes([data[0], data[1]]))
        }
        rrtype::NB => {
            if data.len() % 6 != 0 {
                return Err(NbnsError::NbRdataLength(rdlength));
            }
            RData::Nb(
                data.chunks_exact(6)
                    .map(|e| NbEntry {
                        flags: u16::from_be_bytes([e[0], e[1]]),     // 0
                        addr: Ipv4Addr::new(e[2], e[3], e[4], e[5]), // 2
                    })
                    .collect(),
            )
        }
        rrtype::NBSTAT => RData::NodeStatus(parse_node_status(data, rdlength, name.scope())?),
        rrtype::NULL if data.is_empty() => RData::Null,
        _ => RData::Other(data.to_vec()),
    };
    Ok(ResourceRecord {
        name,
        rr_type,
        class,
        ttl,
        rdata,
    })
}

/// 0 count; 1 count x (15-byte name, suffix, flags(2)); then 46 bytes of
/// statistics.
fn parse_node_status(data: &[u8], rdlength: u16, scope: &str) -> Result<NodeStatus, NbnsError> {
    let count = *data
        .first()
        .ok_or(NbnsError::NodeStatusLength { rdlength, count: 0 })?;
    let names_end = 1 + usize::from(count) * NODE_NAME_LEN;
    // The statistics may be short or padded (Samba reads only the
    // names): what is there is kept, up to its 46 bytes.
    if data.len() < names_end {
        return Err(NbnsError::NodeStatusLength { rdlength, count });
    }
    let names = data[1..names_end]
        .chunks_exact(NODE_NAME_LEN)
        .map(|e| {
            let raw: [u8; 16] = e[..16].try_into().expect("18-byte chunk");
            NodeName {
                name: NbName::from_raw(&raw, scope),       // 0..16
                flags: u16::from_be_bytes([e[16], e[17]]), // 16
            }
        })
        .collect();
    let mut statistics = [0u8; STATISTICS_LEN];
    let stats = &data[names_end..];
    let n = stats.len().min(STATISTICS_LEN);
    statistics[..n].copy_from_slice(&stats[..n]);
    Ok(NodeStatus { names, statistics })
}

fn emit_rdata(rdata: &RData, out: &mut Vec<u8>) {
    match rdata {
        RData::Nb(entries) => {
            for e in entries {
                out.extend_from_slice(&e.flags.to_be_bytes());
                out.extend_from_slice(&e.addr.octets());
            }
        }
        RData::NodeStatus(ns) => {
            out.push(ns.names.len() as u8);
            for n in &ns.names {
                out.extend_from_slice(&n.name.raw());
                out.extend_from_slice(&n.flags.to_be_bytes());
            }
            out.extend_from_slice(&ns.statistics);
        }
        RData::Null => {}
        RData::Wack(flags) => out.extend_from_slice(&flags.to_be_bytes()),
        RData::Other(b) => out.extend_from_slice(b),
    }
}

/// The messages nmbd receives and sends, from a parsed [`Packet`]; what is
/// not one of these (a response to nobody, a malformed combination) is
/// [`Message::Other`], which the daemon ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    NameQuery {
        trn_id: u16,
        broadcast: bool,
        recursion_desired: bool,
        name: NbName,
    },
    NodeStatusQuery {
        trn_id: u16,
        name: NbName,
    },
    /// Registration (opcode 5), refresh (8/9) or multi-homed (0xF)
    /// registration request.
    Registration {
        header: Header,
        name: NbName,
        ttl: u32,
        entry: NbEntry,
    },
    Release {
        header: Header,
        name: NbName,
        entry: NbEntry,
    },
    /// Any response (query, registration, release, WACK).
    Response {
        header: Header,
        record: ResourceRecord,
    },
    Other(Packet),
}

impl Message {
    pub fn parse(datagram: &[u8]) -> Result<Message, NbnsError> {
        Ok(Message::from_packet(Packet::parse(datagram)?))
    }

    pub fn from_packet(p: Packet) -> Message {
        let h = p.header;
        if h.response {
            if let Some(record) = p.answers.first() {
                return Message::Response {
                    header: h,
                    record: record.clone(),
                };
            }
            return Message::Other(p);
        }
        let Some(q) = p.questions.first() else {
            return Message::Other(p);
        };
        let nb_entry = |p: &Packet| match p.additional.first().map(|r| &r.rdata) {
            Some(RData::Nb(e)) if !e.is_empty() => Some((e[0], p.additional[0].ttl)),
            _ => None,
        };
        match (h.opcode, q.qtype) {
            (Opcode::Query, rrtype::NB) => Message::NameQuery {
                trn_id: h.trn_id,
                broadcast: h.broadcast,
                recursion_desired: h.recursion_desired,
                name: q.name.clone(),
            },
            (Opcode::Query, rrtype::NBSTAT) => Message::NodeStatusQuery {
                trn_id: h.trn_id,
                name: q.name.clone(),
            },
            (
                Opcode::Registration | Opcode::Refresh(_) | Opcode::MultiHomedRegistration,
                rrtype::NB,
            ) => match nb_entry(&p) {
                Some((entry, ttl)) => Message::Registration {
                    header: h,
                    name: q.name.clone(),
                    ttl,
                    entry,
                },
                None => Message::Other(p),
            },
            (Opcode::Release, rrtype::NB) => match nb_entry(&p) {
                Some((entry, _)) => Message::Release {
                    header: h,
                    name: q.name.clone(),
                    entry,
                },
                None => Message::Other(p),
            },
            _ => Message::Other(p),
        }
    }
}

/// Builders for the packets nmbd sends.
pub mod build {
    use super::*;

    fn nb_request(trn_id: u16, opcode: Opcode, name: &NbName, ttl: u32, entry: NbEntry) -> Packet {
        Packet {
            header: Header::request(trn_id, opcode, true, true),
            questions: vec![Question {
                name: name.clone(),
                qtype: rrtype::NB,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authority: vec![],
            additional: vec![ResourceRecord {
                name: name.clone(),
                rr_type: rrtype::NB,
                class: CLASS_IN,
                ttl,
                rdata: RData::Nb(vec![entry]),
            }],
        }
    }

    /// A broadcast registration request (B=1, RD=1), as Samba sends it.
    pub fn registration(trn_id: u16, name: &NbName, ttl: u32, entry: NbEntry) -> Packet {
        nb_request(trn_id, Opcode::Registration, name, ttl, entry)
    }

    /// A broadcast release request.
    pub fn release(trn_id: u16, name: &NbName, entry: NbEntry) -> Packet {
        let mut p = nb_request(trn_id, Opcode::Release, name, 0, entry);
        p.header.recursion_desired = false;
        p
    }

    /// A name query (NB), B=1 for a broadcast, RD=1, no records.
    pub fn query(trn_id: u16, name: &NbName, broadcast: bool) -> Packet {
        Packet {
            header: Header::request(trn_id, Opcode::Query, broadcast, true),
            questions: vec![Question {
                name: name.clone(),
                qtype: rrtype::NB,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authority: vec![],
            additional: vec![],
        }
    }

    /// A node status query (NBSTAT, unicast, no recursion), as Samba's
    /// nmblookup -A sends it.
    pub fn status_query(trn_id: u16, name: &NbName) -> Packet {
        Packet {
            header: Header::request(trn_id, Opcode::Query, false, false),
            questions: vec![Question {
                name: name.clone(),
                qtype: rrtype::NBSTAT,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authority: vec![],
            additional: vec![],
        }
    }

    fn response(
        trn_id: u16,
        opcode: Opcode,
        rd: bool,
        ra: bool,
        rcode: u8,
        record: ResourceRecord,
    ) -> Packet {
        Packet {
            header: Header {
                trn_id,
                response: true,
                opcode,
                authoritative: true,
                truncated: false,
                recursion_desired: rd,
                recursion_available: ra,
                broadcast: false,
                reserved: 0,
                rcode,
            },
            questions: vec![],
            answers: vec![record],
            authority: vec![],
            additional: vec![],
        }
    }

    /// A positive name query response.
    pub fn query_positive(
        trn_id: u16,
        rd: bool,
        name: &NbName,
        ttl: u32,
        entries: Vec<NbEntry>,
    ) -> Packet {
        let rr = ResourceRecord {
            name: name.clone(),
            rr_type: rrtype::NB,
            class: CLASS_IN,
            ttl,
            rdata: RData::Nb(entries),
        };
        response(trn_id, Opcode::Query, rd, rd, rcode::OK, rr)
    }

    /// A negative name query response (rcode NAM_ERR, a NULL record, as
    /// Samba answers).
    pub fn query_negative(trn_id: u16, rd: bool, name: &NbName) -> Packet {
        let rr = ResourceRecord {
            name: name.clone(),
            rr_type: rrtype::NULL,
            class: CLASS_IN,
            ttl: 0,
            rdata: RData::Null,
        };
        response(trn_id, Opcode::Query, rd, rd, rcode::NAM_ERR, rr)
    }

    pub fn node_status(trn_id: u16, name: &NbName, status: NodeStatus) -> Packet {
        let rr = ResourceRecord {
            name: name.clone(),
            rr_type: rrtype::NBSTAT,
            class: CLASS_IN,
            ttl: 0,
            rdata: RData::NodeStatus(status),
        };
        response(trn_id, Opcode::Query, false, false, rcode::OK, rr)
    }

    /// A negative registration or release response (rcode ACT_ERR when we
    /// own the name), the requester's rdata echoed.
    pub fn negative(
        trn_id: u16,
        opcode: Opcode,
        rd: bool,
        rcode: u8,
        name: &NbName,
        entry: NbEntry,
    ) -> Packet {
        let rr = ResourceRecord {
            name: name.clone(),
            rr_type: rrtype::NB,
            class: CLASS_IN,
            ttl: 0,
            rdata: RData::Nb(vec![entry]),
        };
        response(trn_id, opcode, rd, rd, rcode, rr)
    }
}

#[cfg(test)]
mod tests;

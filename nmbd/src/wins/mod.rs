//! The WINS server (`wins support = yes`): an RFC 1002 NetBIOS name server
//! for unicast registrations, refreshes, releases and queries, with the
//! policies of Samba's nmbd (source3/nmbd/nmbd_winsserver.c):
//!
//! - a new name is granted with its TTL bounded to [`MIN_TTL`, `MAX_TTL`];
//! - the owner registering again (or refreshing) extends the TTL;
//! - a unique name held by another address: the registrant gets a WACK,
//!   the old owner a name query; if it still answers for the name the
//!   registrant is refused (ACT_ERR), otherwise (negative answer, or no
//!   answer after [`CHALLENGE_TRIES`] queries 1 s apart) the name moves;
//! - normal group names are kept as the single address 255.255.255.255
//!   (members are found by broadcast), <1c> groups (domain controllers) keep
//!   their members' addresses; a unique name cannot take a group name
//!   (ACT_ERR) nor a group a unique name (RFS_ERR);
//! - <1d> names (local master browser) are answered positively but never
//!   stored: they only mean something on one subnet;
//! - a release is obeyed only from the owner's own address;
//! - a multi-homed registration (opcode 0xF) from a new address is added to
//!   the name when the challenged owner lists that address among its own.
//!
//! Sans-IO: [`WinsServer::handle`] and [`WinsServer::tick`] return the
//! packets to send; the name service task owns the sockets (names.rs).

pub mod client;
pub mod db;
pub mod service;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::netbios::NbName;

use crate::wire::nbns::{
    CLASS_IN, Header, Message, NbEntry, Opcode, Packet, Question, RData, ResourceRecord, nbflags,
    rcode, rrtype,
};
use db::{Database, Kind, Record};

const LOG: &str = "nmbd::wins";

/// Samba's `min wins ttl` default is 6 hours and `max wins ttl` 6 days;
/// the lower bound we apply is one minute so that short-lived test
/// registrations still behave.
pub const MIN_TTL: u32 = 60;
pub const MAX_TTL: u32 = 6 * 24 * 3600;
/// TTL given in answers about our own (permanent) names (Samba: 3 days).
const OWN_TTL: u32 = 259_200;
/// Name queries sent to a challenged owner, one per tick (1 s).
pub const CHALLENGE_TRIES: u8 = 3;
/// A <1c> group holds at most this many addresses (Windows WINS: 25).
const MAX_GROUP_MEMBERS: usize = 25;
/// The longest scope stored (Windows and Samba 4 answer SRV_ERR beyond it).
const MAX_SCOPE: usize = 237;
/// The address a normal group name is kept as.
const GROUP_ADDR: Ipv4Addr = Ipv4Addr::BROADCAST;

/// A packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub to: SocketAddrV4,
    pub packet: Packet,
}

/// A unique name being taken over: waiting for the old owner to answer.
#[derive(Debug, Clone)]
struct Challenge {
    /// Of our query to the old owner.
    trn_id: u16,
    name: NbName,
    owner: Ipv4Addr,
    tries_left: u8,
    registrant: SocketAddrV4,
    request: Header,
    ttl: u32,
    entry: NbEntry,
}

pub struct WinsServer {
    db: Database,
    challenges: Vec<Challenge>,
    next_trn: u16,
    /// The name service port of the nodes we challenge.
    port: u16,
    dirty: bool,
}

impl WinsServer {
    pub fn new(db: Database, port: u16, first_trn: u16) -> WinsServer {
        WinsServer {
            db,
            challenges: Vec::new(),
            next_trn: first_trn,
            port,
            dirty: false,
        }
    }

    /// What to write to disk: the names others registered (ours are added
    /// again at start-up) and the version counter.
    pub fn snapshot(&self) -> Database {
        let mut d = self.db.clone();
        d.records.retain(|_, r| r.expires.is_some());
        d
    }

    /// True once after every change worth saving.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Everything the server holds, our own names included.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn record(&self, name: &NbName) -> Option<&Record> {
        self.db.records.get(name)
    }

    pub fn len(&self) -> usize {
        self.db.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.db.records.is_empty()
    }

    /// One of our own names on the subnet whose address is `addr`: held
    /// while we run, never challenged.
    pub fn add_own(&mut self, name: &NbName, group: bool, flags: u16, addr: Ipv4Addr) {
        let version = self.db.next_version();
        let (kind, entry) = if group {
            (
                Kind::Group,
                (flags | nbflags::GROUP, group_addr(name, addr)),
            )
        } else {
            (Kind::Unique, (flags, addr))
        };
        let r = self.db.records.entry(name.clone()).or_insert(Record {
            kind,
            addrs: Vec::new(),
            expires: None,
            version,
        });
        if r.kind != kind || r.expires.is_some() {
            r.kind = kind;
            r.addrs.clear();
        }
        r.expires = None;
        r.version = version;
        if !r.addrs.iter().any(|(_, a)| *a == entry.1) {
            r.addrs.push(entry);
        }
        self.dirty = true;
    }

    /// Our own name is no longer held on `addr`.
    pub fn remove_own(&mut self, name: &NbName, addr: Ipv4Addr) {
        let Some(r) = self.db.records.get_mut(name) else {
            return;
        };
        if r.expires.is_some() {
            return;
        }
        r.addrs.retain(|(_, a)| *a != addr && *a != GROUP_ADDR);
        if r.addrs.is_empty() {
            self.db.records.remove(name);
        }
        self.dirty = true;
    }

    /// A datagram sent to the name server, or `None` if it is not a WINS
    /// matter (broadcasts, node status, responses to someone else).
    /// `now` is in Unix seconds.
    pub fn handle(&mut self, now: u64, src: SocketAddrV4, msg: &Message) -> Option<Vec<Out>> {
        match msg {
            Message::NameQuery {
                trn_id,
                broadcast: false,
                recursion_desired,
                name,
            } => Some(vec![self.query(
                now,
                src,
                *trn_id,
                *recursion_desired,
                name,
            )]),
            Message::Registration {
                header,
                name,
                ttl,
                entry,
            } if !header.broadcast => Some(self.register(now, src, header, name, *ttl, *entry)),
            Message::Release {
                header,
                name,
                entry,
            } if !header.broadcast => Some(vec![self.release(src, header, name, *entry)]),
            Message::Response { header, record } if header.opcode == Opcode::Query => {
                let i = self.challenges.iter().position(|c| {
                    c.trn_id == header.trn_id && c.name == record.name && *src.ip() == c.owner
                })?;
                let c = self.challenges.remove(i);
                let answered: &[NbEntry] = match &record.rdata {
                    RData::Nb(e) if header.rcode == rcode::OK => e,
                    _ => &[],
                };
                let still_owner = answered.iter().any(|e| e.addr == c.owner);
                if still_owner
                    && c.request.opcode == Opcode::MultiHomedRegistration
                    && answered.iter().any(|e| e.addr == c.entry.addr)
                {
                    // The owner lists the registrant's address as one of its
                    // own: one multi-homed host, the address joins the name.
                    return Some(vec![self.add_address(now, &c)]);
                }
                Some(vec![if still_owner {
                    tracing::info!(target: LOG, name = %c.name, owner = %c.owner, registrant = %c.entry.addr, "owner still holds the name: registration refused");
                    reg_response(
                        &c.request,
                        rcode::ACT_ERR,
                        &c.name,
                        0,
                        c.entry,
                        c.registrant,
                    )
                } else {
                    self.grant(now, &c)
                }])
            }
            _ => None,
        }
    }

    /// Every second: challenge retries and time-outs, expiry.
    pub fn tick(&mut self, now: u64) -> Vec<Out> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        for (i, c) in self.challenges.iter_mut().enumerate() {
            if c.tries_left > 0 {
                c.tries_left -= 1;
                out.push(challenge_query(c, self.port));
            } else {
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            let c = self.challenges.remove(i);
            tracing::info!(target: LOG, name = %c.name, owner = %c.owner, "old owner did not answer: name moves to {}", c.entry.addr);
            out.push(self.grant(now, &c));
        }
        let before = self.db.records.len();
        self.db.records.retain(|name, r| {
            let keep = r.active(now);
            if !keep {
                tracing::debug!(target: LOG, name = %name, "expired");
            }
            keep
        });
        if self.db.records.len() != before {
            self.dirty = true;
        }
        out
    }

    fn query(&self, now: u64, src: SocketAddrV4, trn_id: u16, rd: bool, name: &NbName) -> Out {
        let found = self
            .db
            .records
            .get(name)
            .filter(|r| r.active(now) && !r.addrs.is_empty() && name.suffix() != 0x1d);
        let packet = match found {
            Some(r) => {
                let entries = r
                    .addrs
                    .iter()
                    .map(|&(flags, addr)| NbEntry { flags, addr })
                    .collect();
                let rr = record(
                    name,
                    rrtype::NB,
                    r.ttl_left(now, OWN_TTL),
                    RData::Nb(entries),
                );
                response(trn_id, Opcode::Query, rd, rcode::OK, rr)
            }
            None => {
                let rr = record(name, rrtype::NULL, 0, RData::Null);
                response(trn_id, Opcode::Query, rd, rcode::NAM_ERR, rr)
            }
        };
        tracing::trace!(target: LOG, from = %src, name = %name, found = found.is_some(), "query");
        Out { to: src, packet }
    }

    fn register(
        &mut self,
        now: u64,
        src: SocketAddrV4,
        h: &Header,
        name: &NbName,
        ttl: u32,
        entry: NbEntry,
    ) -> Vec<Out> {
        let ttl = if ttl == 0 {
            MAX_TTL
        } else {
            ttl.clamp(MIN_TTL, MAX_TTL)
        };
        let group = entry.is_group();
        if name.scope().len() > MAX_SCOPE {
            tracing::info!(target: LOG, addr = %entry.addr, "registration with a scope of {} bytes refused", name.scope().len());
            return vec![reg_response(h, rcode::SRV_ERR, name, 0, entry, src)];
        }
        if name.suffix() == 0x1d {
            // Samba: "don't register 0x1d names, just fake it".
            return vec![reg_response(h, rcode::OK, name, ttl, entry, src)];
        }
        let existing = self.db.records.get(name).filter(|r| r.active(now)).cloned();
        let Some(r) = existing else {
            let version = self.db.next_version();
            let flags = entry.flags;
            self.db.records.insert(
                name.clone(),
                Record {
                    kind: if group { Kind::Group } else { Kind::Unique },
                    addrs: vec![(
                        flags,
                        if group {
                            group_addr(name, entry.addr)
                        } else {
                            entry.addr
                        },
                    )],
                    expires: Some(now + u64::from(ttl)),
                    version,
                },
            );
            self.dirty = true;
            tracing::info!(target: LOG, name = %name, addr = %entry.addr, ttl, version, "registered");
            return vec![reg_response(h, rcode::OK, name, ttl, entry, src)];
        };
        match (r.kind, group) {
            (Kind::Unique, true) => {
                tracing::info!(target: LOG, name = %name, addr = %entry.addr, "group registration of a unique name refused");
                vec![reg_response(h, rcode::RFS_ERR, name, 0, entry, src)]
            }
            (Kind::Group, false) => {
                tracing::info!(target: LOG, name = %name, addr = %entry.addr, "unique registration of a group name refused");
                vec![reg_response(h, rcode::ACT_ERR, name, 0, entry, src)]
            }
            (Kind::Group, true) => {
                let rec = self.db.records.get_mut(name).expect("found above");
                if rec.expires.is_some() {
                    rec.expires = Some(now + u64::from(ttl));
                }
                let addr = group_addr(name, entry.addr);
                if !rec.addrs.iter().any(|(_, a)| *a == addr) {
                    if rec.addrs.len() >= MAX_GROUP_MEMBERS {
                        rec.addrs.remove(0);
                    }
                    rec.addrs.push((entry.flags, addr));
                    self.db.version += 1;
                    rec.version = self.db.version;
                }
                self.dirty = true;
                vec![reg_response(h, rcode::OK, name, ttl, entry, src)]
            }
            (Kind::Unique, false) => {
                if r.addrs.iter().any(|(_, a)| *a == entry.addr) {
                    if r.expires.is_none() {
                        // Our own name, registered by us: nothing to change.
                        return vec![reg_response(h, rcode::OK, name, ttl, entry, src)];
                    }
                    let rec = self.db.records.get_mut(name).expect("found above");
                    rec.expires = Some(now + u64::from(ttl));
                    if h.opcode == Opcode::MultiHomedRegistration {
                        // All addresses of a multi-homed owner stay.
                    } else if rec.addrs.len() > 1 {
                        rec.addrs.retain(|(_, a)| *a == entry.addr);
                        self.db.version += 1;
                        rec.version = self.db.version;
                    }
                    self.dirty = true;
                    tracing::debug!(target: LOG, name = %name, addr = %entry.addr, ttl, "refreshed");
                    return vec![reg_response(h, rcode::OK, name, ttl, entry, src)];
                }
                if r.expires.is_none() {
                    tracing::warn!(target: LOG, name = %name, addr = %entry.addr, "registration of our own name refused");
                    return vec![reg_response(h, rcode::ACT_ERR, name, 0, entry, src)];
                }
                let owner = r.addrs[0].1;
                let wack = wack(h, name, 5 + 4 * r.addrs.len() as u32, entry, src);
                if let Some(c) = self
                    .challenges
                    .iter_mut()
                    .find(|c| c.name == *name && c.entry.addr == entry.addr)
                {
                    // The very request again (a client resends after our
                    // WACK): ignored, the challenge goes on (smbtorture
                    // nbt.wins checks this).
                    if c.registrant == src && c.request.trn_id == h.trn_id {
                        return Vec::new();
                    }
                    // A new request for the same name and address: keep
                    // waiting for the owner, answer this one.
                    c.registrant = src;
                    c.request = *h;
                    return vec![wack];
                }
                if self.challenges.iter().any(|c| c.name == *name) {
                    // Someone else is already contending for it.
                    return vec![reg_response(h, rcode::ACT_ERR, name, 0, entry, src)];
                }
                self.next_trn = self.next_trn.wrapping_add(1);
                let c = Challenge {
                    trn_id: self.next_trn,
                    name: name.clone(),
                    owner,
                    tries_left: CHALLENGE_TRIES - 1,
                    registrant: src,
                    request: *h,
                    ttl,
                    entry,
                };
                tracing::info!(target: LOG, name = %name, owner = %owner, registrant = %entry.addr, "challenging the owner");
                let q = challenge_query(&c, self.port);
                self.challenges.push(c);
                vec![wack, q]
            }
        }
    }

    /// A multi-homed owner's further address.
    fn add_address(&mut self, now: u64, c: &Challenge) -> Out {
        let version = self.db.next_version();
        let r = self
            .db
            .records
            .entry(c.name.clone())
            .or_insert_with(|| Record {
                kind: Kind::Unique,
                addrs: Vec::new(),
                expires: None,
                version,
            });
        if !r.addrs.iter().any(|(_, a)| *a == c.entry.addr) {
            r.addrs.push((c.entry.flags, c.entry.addr));
        }
        r.expires = Some(now + u64::from(c.ttl));
        r.version = version;
        self.dirty = true;
        tracing::info!(target: LOG, name = %c.name, addr = %c.entry.addr, version, "multi-homed owner: address added");
        reg_response(&c.request, rcode::OK, &c.name, c.ttl, c.entry, c.registrant)
    }

    fn grant(&mut self, now: u64, c: &Challenge) -> Out {
        let version = self.db.next_version();
        self.db.records.insert(
            c.name.clone(),
            Record {
                kind: Kind::Unique,
                addrs: vec![(c.entry.flags, c.entry.addr)],
                expires: Some(now + u64::from(c.ttl)),
                version,
            },
        );
        self.dirty = true;
        tracing::info!(target: LOG, name = %c.name, addr = %c.entry.addr, version, "registered after challenge");
        reg_response(&c.request, rcode::OK, &c.name, c.ttl, c.entry, c.registrant)
    }

    fn release(&mut self, src: SocketAddrV4, h: &Header, name: &NbName, entry: NbEntry) -> Out {
        let ok = reg_response(h, rcode::OK, name, 0, entry, src);
        let Some(r) = self.db.records.get_mut(name) else {
            // Like Windows and Samba 4 (smbtorture nbt.wins checks it): a
            // name we do not hold is released without complaint.
            return ok;
        };
        let member = r.addrs.iter().any(|(_, a)| *a == entry.addr);
        match r.kind {
            Kind::Group if name.suffix() != 0x1c => ok,
            _ if r.expires.is_none() => {
                tracing::warn!(target: LOG, name = %name, from = %src, "release of our own name refused");
                reg_response(h, rcode::ACT_ERR, name, 0, entry, src)
            }
            _ if !member || *src.ip() != entry.addr => {
                tracing::info!(target: LOG, name = %name, from = %src, addr = %entry.addr, "release by a non-owner refused");
                reg_response(h, rcode::ACT_ERR, name, 0, entry, src)
            }
            _ => {
                r.addrs.retain(|(_, a)| *a != entry.addr);
                if r.addrs.is_empty() {
                    self.db.records.remove(name);
                } else {
                    self.db.version += 1;
                    r.version = self.db.version;
                }
                self.dirty = true;
                tracing::info!(target: LOG, name = %name, addr = %entry.addr, "released");
                ok
            }
        }
    }
}

/// Normal group names are held as 255.255.255.255; <1c> keeps members.
fn group_addr(name: &NbName, addr: Ipv4Addr) -> Ipv4Addr {
    if name.suffix() == 0x1c {
        addr
    } else {
        GROUP_ADDR
    }
}

fn record(name: &NbName, rr_type: u16, ttl: u32, rdata: RData) -> ResourceRecord {
    ResourceRecord {
        name: name.clone(),
        rr_type,
        class: CLASS_IN,
        ttl,
        rdata,
    }
}

fn response(trn_id: u16, opcode: Opcode, rd: bool, rc: u8, rr: ResourceRecord) -> Packet {
    Packet {
        header: Header {
            trn_id,
            response: true,
            opcode,
            authoritative: true,
            truncated: false,
            recursion_desired: rd,
            recursion_available: true,
            broadcast: false,
            reserved: 0,
            rcode: rc,
        },
        questions: vec![],
        answers: vec![rr],
        authority: vec![],
        additional: vec![],
    }
}

/// A registration, refresh or release response: its rdata echoed, the
/// granted TTL; a release is answered as a release, the rest as a
/// registration (opcode 5), as Samba's WINS server does: Samba's own WINS
/// client drops a response with the multi-homed opcode 0xF unread.
fn reg_response(
    h: &Header,
    rc: u8,
    name: &NbName,
    ttl: u32,
    entry: NbEntry,
    to: SocketAddrV4,
) -> Out {
    let rr = record(name, rrtype::NB, ttl, RData::Nb(vec![entry]));
    Out {
        to,
        packet: response(
            h.trn_id,
            answer_opcode(h.opcode),
            h.recursion_desired,
            rc,
            rr,
        ),
    }
}

fn answer_opcode(request: Opcode) -> Opcode {
    match request {
        Opcode::Refresh(_) | Opcode::MultiHomedRegistration => Opcode::Registration,
        o => o,
    }
}

/// WAIT FOR ACKNOWLEDGEMENT: the registrant should wait `ttl` seconds.
fn wack(h: &Header, name: &NbName, ttl: u32, _entry: NbEntry, to: SocketAddrV4) -> Out {
    let rr = record(name, rrtype::NB, ttl, RData::Wack(h.flags()));
    let mut p = response(h.trn_id, Opcode::Wack, false, rcode::OK, rr);
    p.header.recursion_available = false;
    Out { to, packet: p }
}

/// The unicast name query to the owner being challenged.
fn challenge_query(c: &Challenge, port: u16) -> Out {
    Out {
        to: SocketAddrV4::new(c.owner, port),
        packet: Packet {
            header: Header::request(c.trn_id, Opcode::Query, false, false),
            questions: vec![Question {
                name: c.name.clone(),
                qtype: rrtype::NB,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authority: vec![],
            additional: vec![],
        },
    }
}

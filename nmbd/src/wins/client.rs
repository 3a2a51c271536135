//! `wins server = IP`: our names registered with a WINS server by unicast
//! (besides the broadcast registration), refreshed at half their TTL, and
//! released at shutdown. RFC 1002 timers: a request is sent again every
//! [`RETRY`] s, [`TRIES`] times; a WACK means waiting its TTL. A server
//! that never answers is tried again after [`RETRY_LATER`] s; a refusal is
//! logged (the name stays registered by broadcast on the subnet).
//!
//! Sans-IO like [`super::WinsServer`]: `now` is Unix seconds.

use std::net::{Ipv4Addr, SocketAddrV4};

use common::netbios::NbName;

use super::Out;
use crate::wire::nbns::{Message, NbEntry, Opcode, Packet, build, rcode};

const LOG: &str = "nmbd::wins";
/// UCAST_REQ_RETRY_TIMEOUT is 5 s in RFC 1002; Samba retries faster.
pub const RETRY: u64 = 2;
pub const TRIES: u8 = 3;
pub const RETRY_LATER: u64 = 60;
/// The TTL we ask for (RFC 1002 default).
const ASK_TTL: u32 = 300_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Sent, waiting for an answer (or the WACK's time).
    Registering,
    /// Granted for `ttl` seconds; refreshed at half of it.
    Registered { ttl: u32 },
    /// The server said no.
    Refused { rcode: u8 },
    /// No answer; tried again later.
    NoAnswer,
}

/// A packet to send from the subnet whose address is `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOut {
    pub from: Ipv4Addr,
    pub out: Out,
}

#[derive(Debug, Clone)]
struct Entry {
    name: NbName,
    entry: NbEntry,
    state: ClientState,
    trn_id: u16,
    opcode: Opcode,
    sends_left: u8,
    /// When to send next (retry, refresh or retry later).
    due: u64,
}

pub struct WinsClient {
    server: SocketAddrV4,
    names: Vec<Entry>,
    next_trn: u16,
}

impl WinsClient {
    pub fn new(server: Ipv4Addr, port: u16, first_trn: u16) -> WinsClient {
        WinsClient {
            server: SocketAddrV4::new(server, port),
            names: Vec::new(),
            next_trn: first_trn,
        }
    }

    pub fn server(&self) -> SocketAddrV4 {
        self.server
    }

    pub fn state(&self, name: &NbName, addr: Ipv4Addr) -> Option<ClientState> {
        self.names
            .iter()
            .find(|e| e.name == *name && e.entry.addr == addr)
            .map(|e| e.state)
    }

    fn trn(&mut self) -> u16 {
        self.next_trn = self.next_trn.wrapping_add(1);
        self.next_trn
    }

    /// Starts registering `name` (held on the subnet `entry.addr`).
    pub fn register(&mut self, now: u64, name: &NbName, entry: NbEntry) -> ClientOut {
        let trn_id = self.trn();
        self.names
            .retain(|e| !(e.name == *name && e.entry.addr == entry.addr));
        let e = Entry {
            name: name.clone(),
            entry,
            state: ClientState::Registering,
            trn_id,
            opcode: Opcode::Registration,
            sends_left: TRIES - 1,
            due: now + RETRY,
        };
        let out = self.request(&e);
        tracing::debug!(target: LOG, name = %name, server = %self.server, "registering with the WINS server");
        self.names.push(e);
        out
    }

    /// Forgets `name` on `addr` and releases it at the server.
    pub fn release(&mut self, name: &NbName, addr: Ipv4Addr) -> Option<ClientOut> {
        let i = self
            .names
            .iter()
            .position(|e| e.name == *name && e.entry.addr == addr)?;
        let e = self.names.remove(i);
        let trn_id = self.trn();
        let mut p = build::release(trn_id, &e.name, e.entry);
        p.header.broadcast = false;
        Some(ClientOut {
            from: addr,
            out: Out {
                to: self.server,
                packet: p,
            },
        })
    }

    /// Releases everything registered (shutdown).
    pub fn release_all(&mut self) -> Vec<ClientOut> {
        let held: Vec<Entry> = std::mem::take(&mut self.names)
            .into_iter()
            .filter(|e| matches!(e.state, ClientState::Registered { .. }))
            .collect();
        held.iter()
            .map(|e| {
                let trn_id = self.trn();
                let mut p = build::release(trn_id, &e.name, e.entry);
                p.header.broadcast = false;
                ClientOut {
                    from: e.entry.addr,
                    out: Out {
                        to: self.server,
                        packet: p,
                    },
                }
            })
            .collect()
    }

    /// An answer from the server; true if it was for us.
    pub fn handle(&mut self, now: u64, src: SocketAddrV4, msg: &Message) -> bool {
        let Message::Response { header, record } = msg else {
            return false;
        };
        if *src.ip() != *self.server.ip() {
            return false;
        }
        let Some(e) = self
            .names
            .iter_mut()
            .find(|e| e.trn_id == header.trn_id && e.name == record.name)
        else {
            return false;
        };
        if e.state != ClientState::Registering {
            return true;
        }
        if header.opcode == Opcode::Wack {
            // The server is asking the old owner: wait as long as it says.
            e.due = now + u64::from(record.ttl.clamp(1, 120));
            e.sends_left = 0;
            return true;
        }
        if header.rcode == rcode::OK {
            let ttl = record.ttl.max(60);
            e.state = ClientState::Registered { ttl };
            e.due = now + u64::from(ttl / 2);
            tracing::info!(target: LOG, name = %e.name, server = %self.server, ttl, "registered with the WINS server");
        } else {
            e.state = ClientState::Refused {
                rcode: header.rcode,
            };
            tracing::error!(target: LOG, name = %e.name, server = %self.server, "the WINS server refused our name: {}", rcode::name(header.rcode));
        }
        true
    }

    /// Every second: retries, refreshes.
    pub fn tick(&mut self, now: u64) -> Vec<ClientOut> {
        let mut out = Vec::new();
        for i in 0..self.names.len() {
            if self.names[i].due > now {
                continue;
            }
            let trn_id = self.trn();
            let server = self.server;
            let e = &mut self.names[i];
            match e.state {
                ClientState::Registering if e.sends_left > 0 => {
                    e.sends_left -= 1;
                    e.due = now + RETRY;
                }
                ClientState::Registering => {
                    tracing::warn!(target: LOG, name = %e.name, server = %server, "no answer from the WINS server; trying again in {RETRY_LATER} s");
                    e.state = ClientState::NoAnswer;
                    e.due = now + RETRY_LATER;
                    continue;
                }
                ClientState::Registered { .. } | ClientState::NoAnswer => {
                    // Refresh (opcode 8, as Samba sends), or a new try.
                    e.opcode = if e.state == ClientState::NoAnswer {
                        Opcode::Registration
                    } else {
                        Opcode::Refresh(8)
                    };
                    e.state = ClientState::Registering;
                    e.trn_id = trn_id;
                    e.sends_left = TRIES - 1;
                    e.due = now + RETRY;
                }
                ClientState::Refused { .. } => continue,
            }
            let e = self.names[i].clone();
            out.push(self.request(&e));
        }
        out
    }

    fn request(&self, e: &Entry) -> ClientOut {
        let mut p: Packet = build::registration(e.trn_id, &e.name, ASK_TTL, e.entry);
        p.header.broadcast = false;
        p.header.opcode = e.opcode;
        ClientOut {
            from: e.entry.addr,
            out: Out {
                to: self.server,
                packet: p,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wins::WinsServer;
    use crate::wins::db::Database;

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
    const WINS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const T0: u64 = 1_000_000;

    fn wire(p: &Packet) -> Message {
        Message::parse(&p.to_bytes().unwrap()).unwrap()
    }

    /// Our client against our server, through the codec.
    fn exchange(c: &mut WinsClient, w: &mut WinsServer, now: u64, o: &ClientOut) {
        assert_eq!(o.out.to, SocketAddrV4::new(WINS, 137));
        let from = SocketAddrV4::new(o.from, 137);
        for r in w.handle(now, from, &wire(&o.out.packet)).unwrap() {
            assert!(c.handle(now, SocketAddrV4::new(WINS, 137), &wire(&r.packet)));
        }
    }

    #[test]
    fn registers_refreshes_and_releases() {
        let mut c = WinsClient::new(WINS, 137, 1);
        let mut w = WinsServer::new(Database::new(), 137, 500);
        let n = NbName::new("HOST", 0x20).unwrap();
        let e = NbEntry { flags: 0, addr: US };
        let o = c.register(T0, &n, e);
        assert!(!o.out.packet.header.broadcast);
        assert_eq!(o.from, US);
        exchange(&mut c, &mut w, T0, &o);
        assert_eq!(
            c.state(&n, US),
            Some(ClientState::Registered { ttl: ASK_TTL })
        );
        assert_eq!(w.record(&n).unwrap().addrs, vec![(0, US)]);
        // Nothing until half the TTL, then a refresh (opcode 8).
        assert!(c.tick(T0 + 10).is_empty());
        let r = c.tick(T0 + u64::from(ASK_TTL / 2));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].out.packet.header.opcode, Opcode::Refresh(8));
        exchange(&mut c, &mut w, T0 + u64::from(ASK_TTL / 2), &r[0]);
        assert!(matches!(
            c.state(&n, US),
            Some(ClientState::Registered { .. })
        ));
        // Shutdown releases it at the server.
        let rel = c.release_all();
        assert_eq!(rel.len(), 1);
        assert_eq!(rel[0].out.packet.header.opcode, Opcode::Release);
        w.handle(T0, SocketAddrV4::new(US, 137), &wire(&rel[0].out.packet));
        assert!(w.record(&n).is_none());
    }

    #[test]
    fn retries_then_later_and_refusal() {
        let mut c = WinsClient::new(WINS, 137, 1);
        let n = NbName::new("HOST", 0).unwrap();
        c.register(T0, &n, NbEntry { flags: 0, addr: US });
        let mut sent = 1;
        for t in 1..=10 {
            sent += c.tick(T0 + t).len();
        }
        assert_eq!(sent, usize::from(TRIES));
        assert_eq!(c.state(&n, US), Some(ClientState::NoAnswer));
        assert_eq!(c.tick(T0 + 6 + RETRY_LATER).len(), 1);

        // A server that owns the name refuses: logged, not retried.
        let mut w = WinsServer::new(Database::new(), 137, 500);
        w.add_own(&n, false, 0, WINS);
        let mut c = WinsClient::new(WINS, 137, 1);
        let o = c.register(T0, &n, NbEntry { flags: 0, addr: US });
        exchange(&mut c, &mut w, T0, &o);
        assert_eq!(
            c.state(&n, US),
            Some(ClientState::Refused {
                rcode: rcode::ACT_ERR
            })
        );
        assert!(c.tick(T0 + 1000).is_empty());
        // Answers from elsewhere are not for us.
        let stray = build::query_negative(1, false, &n);
        assert!(!c.handle(T0, SocketAddrV4::new(US, 137), &wire(&stray)));
    }
}

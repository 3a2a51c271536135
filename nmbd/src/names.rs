//! The name service: per served subnet, the names we own and their
//! registration state; answers to queries, node status, registrations and
//! releases by others; our registrations by broadcast; the API the browser
//! uses to register and release its own names ([`NameService`]).
//!
//! One task owns all the state (no locks); socket readers send it the
//! datagrams, the API sends it commands, and a 1 s tick drives the
//! registration retransmits.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use common::netbios::NbName;
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::guard::{self, Guard};
use crate::iface::{self, Interface, Received, SubnetSockets};
use crate::wins::client::{ClientOut, WinsClient};
use crate::wins::service::{WinsService, unix_now};
use crate::wire::nbns::{
    self, Message, NbEntry, NodeName, NodeStatus, Opcode, STATISTICS_LEN, build, nbflags, rcode,
};

const LOG: &str = "nmbd::names";
/// Registration retransmits after the first broadcast, 1 s apart (Samba).
pub const REG_RETRIES: u8 = 3;
pub const REG_INTERVAL: Duration = Duration::from_secs(1);
/// Broadcast name queries: repeats after the first, their spacing (RFC
/// 1002 BCAST_REQ_RETRY_TIMEOUT) and how long the last waits for answers.
pub const QUERY_RETRIES: u8 = 2;
pub const QUERY_INTERVAL: Duration = Duration::from_millis(250);
pub const QUERY_WAIT: Duration = Duration::from_millis(1000);
/// How often interfaces are looked at again.
pub const RESCAN: Duration = Duration::from_secs(10);
/// TTL we ask for in registrations (RFC 1002 default, 300000 s) and give in
/// query answers (Samba: 3 days).
const REG_TTL: u32 = 300_000;
const ANSWER_TTL: u32 = 259_200;
/// The same datagram arriving on both sockets of a subnet within this time
/// is answered once.
const DUP_WINDOW: Duration = Duration::from_millis(200);
/// Received datagrams waiting (of the queue's 1024) from which we count as
/// busy, and the flood limit applies.
const BUSY_QUEUE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameKind {
    Unique,
    Group,
}

/// How a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterResult {
    /// Nobody objected during the broadcast registration.
    Registered,
    /// Someone answered our registration: we do not own the name.
    Refused { by: Ipv4Addr, rcode: u8 },
    /// We do not serve that subnet (or it went away, or we are stopping).
    NoSubnet,
}

/// Sent to [`NameService::lost_names`] subscribers whenever a name we held
/// or were registering is no longer ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostName {
    pub subnet: Ipv4Addr,
    pub name: NbName,
    pub why: LostReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    Refused { by: Ipv4Addr, rcode: u8 },
    InterfaceGone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameState {
    Registering,
    Registered,
    Refused { by: Ipv4Addr, rcode: u8 },
}

/// For `nmbd --status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetStatus {
    pub ip: Ipv4Addr,
    pub broadcast: Ipv4Addr,
    pub names: Vec<(NbName, NameKind, NameState)>,
}

/// What the name service needs from smb.conf.
#[derive(Debug, Clone)]
pub struct NameConfig {
    pub netbios_name: String,
    pub aliases: Vec<String>,
    pub workgroup: String,
    pub interfaces: Vec<String>,
    pub port: u16,
    /// `wins support = yes`: answer unicast name service requests as a
    /// WINS server, its database in `state_directory`.
    pub wins_support: bool,
    pub state_directory: std::path::PathBuf,
    /// `wins server = IP`: our names are also registered there by unicast
    /// (the first address; Samba fails over to the others).
    pub wins_server: Option<Ipv4Addr>,
}

impl NameConfig {
    pub fn from_conf(g: &common::smbconf::Global) -> NameConfig {
        NameConfig {
            netbios_name: g.netbios_name.clone(),
            aliases: g.netbios_aliases.clone(),
            workgroup: g.workgroup.clone(),
            interfaces: g.interfaces.clone(),
            port: g.nbt_port,
            wins_support: g.wins_support,
            state_directory: g.state_directory.clone(),
            wins_server: g.wins_server.first().copied(),
        }
    }

    /// Our names on every subnet, in node status order: the NetBIOS name
    /// first, then the aliases, then the workgroup.
    pub fn own_names(&self) -> Result<Vec<(NbName, NameKind)>, common::netbios::NameError> {
        use common::netbios::suffix::*;
        let mut v = Vec::new();
        for s in [WORKSTATION, MESSENGER, SERVER] {
            v.push((NbName::new(&self.netbios_name, s)?, NameKind::Unique));
        }
        for a in &self.aliases {
            for s in [WORKSTATION, SERVER] {
                v.push((NbName::new(a, s)?, NameKind::Unique));
            }
        }
        for s in [WORKSTATION, BROWSER_ELECTION] {
            v.push((NbName::new(&self.workgroup, s)?, NameKind::Group));
        }
        Ok(v)
    }
}

enum Command {
    Register {
        subnet: Ipv4Addr,
        name: NbName,
        kind: NameKind,
        done: oneshot::Sender<RegisterResult>,
    },
    Release {
        subnet: Ipv4Addr,
        name: NbName,
        done: oneshot::Sender<bool>,
    },
    Query {
        subnet: Ipv4Addr,
        name: NbName,
        to: Target,
        done: oneshot::Sender<Option<Answer>>,
    },
    WinsLookup {
        subnet: Ipv4Addr,
        name: NbName,
        done: oneshot::Sender<Option<Answer>>,
    },
    Status(oneshot::Sender<Vec<SubnetStatus>>),
    Wins(oneshot::Sender<Option<crate::wins::db::Database>>),
    Subnets(oneshot::Sender<Vec<Interface>>),
    Shutdown(oneshot::Sender<()>),
}

/// The handle the rest of nmbd (the browser) uses; cheap to clone.
#[derive(Clone)]
pub struct NameService {
    cmd: mpsc::Sender<Command>,
    lost: broadcast::Sender<LostName>,
}

impl NameService {
    /// Starts the service task: scans interfaces, binds, registers our names.
    pub fn start(cfg: NameConfig) -> Result<(NameService, JoinHandle<()>), String> {
        let own = cfg.own_names().map_err(|e| e.to_string())?;
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (lost_tx, _) = broadcast::channel(64);
        let first_trn = (std::process::id() as u16).wrapping_mul(7919);
        let wins = match cfg.wins_support {
            true => Some(WinsService::open(
                cfg.state_directory.clone(),
                cfg.port,
                first_trn ^ 0x8000,
            )?),
            false => None,
        };
        let wins_client = cfg
            .wins_server
            .map(|ip| WinsClient::new(ip, cfg.port, first_trn ^ 0x4000));
        let (in_tx, in_rx) = mpsc::channel(1024);
        let mut state = State {
            cfg,
            own,
            subnets: BTreeMap::new(),
            guard: Guard::default(),
            recent: VecDeque::new(),
            next_trn: first_trn,
            inbound: in_tx,
            lost: lost_tx.clone(),
            bind_failed: HashSet::new(),
            queries: Vec::new(),
            wins,
            wins_client,
        };
        let task = tokio::spawn(async move { state.run(cmd_rx, in_rx).await });
        Ok((
            NameService {
                cmd: cmd_tx,
                lost: lost_tx,
            },
            task,
        ))
    }

    /// Registers `name` on the subnet whose interface address is `subnet`
    /// by broadcast; resolves when the registration is over (about 3-4 s).
    pub async fn register(&self, subnet: Ipv4Addr, name: NbName, kind: NameKind) -> RegisterResult {
        let (done, rx) = oneshot::channel();
        let cmd = Command::Register {
            subnet,
            name,
            kind,
            done,
        };
        if self.cmd.send(cmd).await.is_err() {
            return RegisterResult::NoSubnet;
        }
        rx.await.unwrap_or(RegisterResult::NoSubnet)
    }

    /// Releases `name` on `subnet` (broadcast release); false if it was not
    /// ours.
    pub async fn release(&self, subnet: Ipv4Addr, name: NbName) -> bool {
        let (done, rx) = oneshot::channel();
        if self
            .cmd
            .send(Command::Release { subnet, name, done })
            .await
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Asks the subnet by broadcast who holds `name` (the browser's check
    /// for `WORKGROUP<1d>`): [`QUERY_RETRIES`] more broadcasts
    /// [`QUERY_INTERVAL`] apart, then [`QUERY_WAIT`] for a late answer.
    /// The first positive answer from another host gives its address
    /// (the first address in the answer); None when nobody answered or we
    /// do not serve the subnet. Our own answers are never counted.
    pub async fn query(&self, subnet: Ipv4Addr, name: NbName) -> Option<Ipv4Addr> {
        match self.ask(subnet, name, Target::Broadcast).await {
            Some(Answer::Address(ip)) => Some(ip),
            _ => None,
        }
    }

    /// Who holds `name` according to our WINS server: our own database
    /// with `wins support = yes`, else a unicast query (retried as a
    /// broadcast one) to `wins server` from `subnet`; None when neither is
    /// configured, nobody answered or the answer is one of our addresses.
    pub async fn wins_query(&self, subnet: Ipv4Addr, name: NbName) -> Option<Ipv4Addr> {
        let (done, rx) = oneshot::channel();
        let cmd = Command::WinsLookup { subnet, name, done };
        if self.cmd.send(cmd).await.is_err() {
            return None;
        }
        match rx.await.ok().flatten() {
            Some(Answer::Address(ip)) => Some(ip),
            _ => None,
        }
    }

    /// The names `host` holds (node status query for `name`, which the
    /// host must hold: Windows does not answer one for `*`), sent from
    /// `subnet`; None when it did not answer.
    pub async fn node_status(
        &self,
        subnet: Ipv4Addr,
        host: Ipv4Addr,
        name: NbName,
    ) -> Option<Vec<nbns::NodeName>> {
        match self.ask(subnet, name, Target::Status(host)).await {
            Some(Answer::Names(n)) => Some(n),
            _ => None,
        }
    }

    async fn ask(&self, subnet: Ipv4Addr, name: NbName, to: Target) -> Option<Answer> {
        let (done, rx) = oneshot::channel();
        let cmd = Command::Query {
            subnet,
            name,
            to,
            done,
        };
        if self.cmd.send(cmd).await.is_err() {
            return None;
        }
        rx.await.ok().flatten()
    }

    /// Told whenever a name we held or were registering is lost.
    pub fn lost_names(&self) -> broadcast::Receiver<LostName> {
        self.lost.subscribe()
    }

    pub async fn status(&self) -> Vec<SubnetStatus> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Status(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The WINS server's database (None unless `wins support = yes`).
    pub async fn wins_database(&self) -> Option<crate::wins::db::Database> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Wins(tx)).await.is_err() {
            return None;
        }
        rx.await.unwrap_or_default()
    }

    /// The interfaces served now.
    pub async fn subnets(&self) -> Vec<Interface> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Subnets(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Releases every name by broadcast and stops the service.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct OwnName {
    name: NbName,
    kind: NameKind,
    state: NameState,
    /// Transaction id of our registration, to match answers to it.
    trn_id: u16,
    sends_left: u8,
    waiters: Vec<oneshot::Sender<RegisterResult>>,
}

impl OwnName {
    fn nb_flags(&self) -> u16 {
        nbflags::ONT_B
            | match self.kind {
                NameKind::Group => nbflags::GROUP,
                NameKind::Unique => 0,
            }
    }
}

struct Subnet {
    iface: Interface,
    sockets: SubnetSockets,
    names: Vec<OwnName>,
}

struct State {
    cfg: NameConfig,
    own: Vec<(NbName, NameKind)>,
    subnets: BTreeMap<Ipv4Addr, Subnet>,
    guard: Guard,
    /// (source, hash of the datagram, when) of the last datagrams.
    recent: VecDeque<(SocketAddrV4, u64, bool, Instant)>,
    next_trn: u16,
    inbound: mpsc::Sender<Received>,
    lost: broadcast::Sender<LostName>,
    /// Interfaces whose sockets could not be bound (logged once).
    bind_failed: HashSet<Ipv4Addr>,
    /// Our broadcast name queries waiting for an answer.
    queries: Vec<PendingQuery>,
    /// `wins support = yes`.
    wins: Option<WinsService>,
    /// `wins server = IP`.
    wins_client: Option<WinsClient>,
}

/// Where one of our queries goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A name query to the subnet's broadcast address.
    Broadcast,
    /// A name query to one host (a WINS server).
    Unicast(Ipv4Addr),
    /// A node status query to one host.
    Status(Ipv4Addr),
}

/// The answer to one of our queries.
#[derive(Debug)]
enum Answer {
    /// A name query's: the first address.
    Address(Ipv4Addr),
    /// A node status query's: the names the host holds.
    Names(Vec<nbns::NodeName>),
}

struct PendingQuery {
    subnet: Ipv4Addr,
    name: NbName,
    to: Target,
    trn_id: u16,
    sends_left: u8,
    next: Instant,
    done: oneshot::Sender<Option<Answer>>,
}

impl PendingQuery {
    fn packet(&self) -> nbns::Packet {
        match self.to {
            Target::Broadcast => build::query(self.trn_id, &self.name, true),
            Target::Unicast(_) => build::query(self.trn_id, &self.name, false),
            Target::Status(_) => build::status_query(self.trn_id, &self.name),
        }
    }

    fn destination(&self, s: &Subnet, port: u16) -> SocketAddrV4 {
        match self.to {
            Target::Broadcast => SocketAddrV4::new(s.iface.broadcast, port),
            Target::Unicast(ip) | Target::Status(ip) => SocketAddrV4::new(ip, port),
        }
    }
}

impl State {
    async fn run(
        &mut self,
        mut cmds: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<Received>,
    ) {
        self.rescan().await;
        let mut reg_tick = tokio::time::interval_at(Instant::now() + REG_INTERVAL, REG_INTERVAL);
        let mut rescan = tokio::time::interval_at(Instant::now() + RESCAN, RESCAN);
        let mut flush = tokio::time::interval_at(Instant::now() + guard::WINDOW, guard::WINDOW);
        let mut query_tick = tokio::time::interval(QUERY_INTERVAL);
        query_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(d) = inbound.recv() => {
                    let busy = inbound.len() >= BUSY_QUEUE;
                    self.datagram(d, busy).await
                }
                c = cmds.recv() => match c {
                    Some(Command::Shutdown(done)) => {
                        self.release_all().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(c) => self.command(c).await,
                    None => {
                        self.release_all().await;
                        return;
                    }
                },
                _ = reg_tick.tick() => {
                    self.registration_tick().await;
                    self.wins_tick().await;
                }
                _ = rescan.tick() => self.rescan().await,
                _ = flush.tick() => self.guard.flush(),
                _ = query_tick.tick(), if !self.queries.is_empty() => self.query_tick().await,
            }
        }
    }

    fn trn_id(&mut self) -> u16 {
        self.next_trn = self.next_trn.wrapping_add(1);
        self.next_trn
    }

    async fn rescan(&mut self) {
        let found = iface::scan(&self.cfg.interfaces);
        let gone: Vec<Ipv4Addr> = self
            .subnets
            .keys()
            .filter(|ip| !found.iter().any(|i| i.ip == **ip))
            .copied()
            .collect();
        for ip in gone {
            if let Some(s) = self.subnets.remove(&ip) {
                tracing::warn!(target: LOG, subnet = %ip, "interface gone; its names are lost");
                for n in &s.names {
                    if !matches!(n.state, NameState::Refused { .. }) {
                        let _ = self.lost.send(LostName {
                            subnet: ip,
                            name: n.name.clone(),
                            why: LostReason::InterfaceGone,
                        });
                    }
                }
            }
        }
        for i in found {
            if self.subnets.contains_key(&i.ip) {
                continue;
            }
            match self.open(i) {
                Ok(s) => {
                    tracing::info!(target: LOG, subnet = %i.ip, broadcast = %i.broadcast, port = self.cfg.port, "serving subnet");
                    self.bind_failed.remove(&i.ip);
                    self.subnets.insert(i.ip, s);
                    for (name, kind) in self.own.clone() {
                        self.start_registration(i.ip, name, kind, None).await;
                    }
                }
                Err(e) => {
                    if self.bind_failed.insert(i.ip) {
                        tracing::error!(target: LOG, subnet = %i.ip, "cannot bind port {}: {e}; will retry", self.cfg.port);
                    }
                }
            }
        }
    }

    fn open(&self, i: Interface) -> std::io::Result<Subnet> {
        let sockets = SubnetSockets::open(
            &i,
            self.cfg.port,
            "name service",
            self.inbound.clone(),
            |r| r,
        )?;
        Ok(Subnet {
            iface: i,
            sockets,
            names: Vec::new(),
        })
    }

    async fn start_registration(
        &mut self,
        subnet: Ipv4Addr,
        name: NbName,
        kind: NameKind,
        done: Option<oneshot::Sender<RegisterResult>>,
    ) {
        let trn_id = self.trn_id();
        let Some(s) = self.subnets.get_mut(&subnet) else {
            if let Some(d) = done {
                let _ = d.send(RegisterResult::NoSubnet);
            }
            return;
        };
        if let Some(n) = s.names.iter_mut().find(|n| n.name == name) {
            match n.state {
                NameState::Registered => {
                    if let Some(d) = done {
                        let _ = d.send(RegisterResult::Registered);
                    }
                    return;
                }
                NameState::Registering => {
                    n.waiters.extend(done);
                    return;
                }
                NameState::Refused { .. } => {
                    // Try again.
                    n.kind = kind;
                    n.state = NameState::Registering;
                    n.trn_id = trn_id;
                    n.sends_left = REG_RETRIES;
                    n.waiters.extend(done);
                }
            }
        } else {
            s.names.push(OwnName {
                name: name.clone(),
                kind,
                state: NameState::Registering,
                trn_id,
                sends_left: REG_RETRIES,
                waiters: done.into_iter().collect(),
            });
        }
        tracing::debug!(target: LOG, subnet = %subnet, name = %name, "registering");
        let n = s.names.iter().find(|n| n.name == name).expect("just added");
        send_registration(s, n, self.cfg.port).await;
    }

    async fn registration_tick(&mut self) {
        let port = self.cfg.port;
        for s in self.subnets.values_mut() {
            let mut to_send = Vec::new();
            let mut to_wins = Vec::new();
            for (i, n) in s.names.iter_mut().enumerate() {
                if n.state != NameState::Registering {
                    continue;
                }
                if n.sends_left > 0 {
                    n.sends_left -= 1;
                    to_send.push(i);
                } else {
                    n.state = NameState::Registered;
                    tracing::info!(target: LOG, subnet = %s.iface.ip, name = %n.name, "registered");
                    if let Some(w) = self.wins.as_mut() {
                        w.add_own(&n.name, n.kind == NameKind::Group, n.nb_flags(), s.iface.ip);
                    }
                    if let Some(c) = self.wins_client.as_mut() {
                        let e = NbEntry {
                            flags: n.nb_flags(),
                            addr: s.iface.ip,
                        };
                        to_wins.push(c.register(unix_now(), &n.name, e));
                    }
                    for w in n.waiters.drain(..) {
                        let _ = w.send(RegisterResult::Registered);
                    }
                }
            }
            for i in to_send {
                send_registration(s, &s.names[i], port).await;
            }
            for o in to_wins {
                send(&s.sockets.unicast, &o.out.packet, o.out.to).await;
            }
        }
    }

    async fn command(&mut self, c: Command) {
        match c {
            Command::Register {
                subnet,
                name,
                kind,
                done,
            } => {
                self.start_registration(subnet, name, kind, Some(done))
                    .await
            }
            Command::Release { subnet, name, done } => {
                let port = self.cfg.port;
                let trn = self.trn_id();
                let ok = match self.subnets.get_mut(&subnet) {
                    Some(s) => match s.names.iter().position(|n| n.name == name) {
                        Some(i) => {
                            let mut n = s.names.remove(i);
                            if let Some(w) = self.wins.as_mut() {
                                w.remove_own(&n.name, subnet);
                            }
                            if let Some(o) = self
                                .wins_client
                                .as_mut()
                                .and_then(|c| c.release(&n.name, subnet))
                            {
                                send(&s.sockets.unicast, &o.out.packet, o.out.to).await;
                            }
                            for w in n.waiters.drain(..) {
                                let _ = w.send(RegisterResult::NoSubnet);
                            }
                            if !matches!(n.state, NameState::Refused { .. }) {
                                send_release(s, &n, trn, port).await;
                            }
                            true
                        }
                        None => false,
                    },
                    None => false,
                };
                let _ = done.send(ok);
            }
            Command::Query {
                subnet,
                name,
                to,
                done,
            } => self.start_query(subnet, name, to, done).await,
            Command::WinsLookup { subnet, name, done } => {
                if let Some(w) = self.wins.as_ref() {
                    let now = unix_now();
                    let found = w
                        .database()
                        .records
                        .get(&name)
                        .filter(|r| r.expires.is_none_or(|e| e > now))
                        .and_then(|r| r.addrs.first())
                        .map(|(_, ip)| *ip)
                        .filter(|ip| !self.subnets.contains_key(ip));
                    let _ = done.send(found.map(Answer::Address));
                } else if let Some(c) = self.wins_client.as_ref() {
                    let server = *c.server().ip();
                    self.start_query(subnet, name, Target::Unicast(server), done)
                        .await;
                } else {
                    let _ = done.send(None);
                }
            }
            Command::Wins(tx) => {
                let _ = tx.send(self.wins.as_ref().map(|w| w.database().clone()));
            }
            Command::Status(tx) => {
                let v = self
                    .subnets
                    .values()
                    .map(|s| SubnetStatus {
                        ip: s.iface.ip,
                        broadcast: s.iface.broadcast,
                        names: s
                            .names
                            .iter()
                            .map(|n| (n.name.clone(), n.kind, n.state))
                            .collect(),
                    })
                    .collect();
                let _ = tx.send(v);
            }
            Command::Subnets(tx) => {
                let _ = tx.send(self.subnets.values().map(|s| s.iface).collect());
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    async fn start_query(
        &mut self,
        subnet: Ipv4Addr,
        name: NbName,
        to: Target,
        done: oneshot::Sender<Option<Answer>>,
    ) {
        let trn_id = self.trn_id();
        let Some(s) = self.subnets.get(&subnet) else {
            let _ = done.send(None);
            return;
        };
        let q = PendingQuery {
            subnet,
            name,
            to,
            trn_id,
            sends_left: QUERY_RETRIES,
            next: Instant::now() + QUERY_INTERVAL,
            done,
        };
        send(
            &s.sockets.unicast,
            &q.packet(),
            q.destination(s, self.cfg.port),
        )
        .await;
        self.queries.push(q);
    }

    /// Repeats our queries; gives up on the ones nobody answered.
    async fn query_tick(&mut self) {
        let now = Instant::now();
        let port = self.cfg.port;
        let mut i = 0;
        while i < self.queries.len() {
            let q = &mut self.queries[i];
            if now < q.next {
                i += 1;
                continue;
            }
            let Some(s) = self.subnets.get(&q.subnet) else {
                let q = self.queries.swap_remove(i);
                let _ = q.done.send(None);
                continue;
            };
            if q.sends_left == 0 {
                let q = self.queries.swap_remove(i);
                tracing::debug!(target: LOG, subnet = %q.subnet, name = %q.name, "query: no answer");
                let _ = q.done.send(None);
                continue;
            }
            q.sends_left -= 1;
            q.next = now
                + if q.sends_left == 0 {
                    QUERY_WAIT
                } else {
                    QUERY_INTERVAL
                };
            send(&s.sockets.unicast, &q.packet(), q.destination(s, port)).await;
            i += 1;
        }
    }

    /// A positive answer to one of our queries, from another host (for a
    /// unicast query, from the host asked).
    fn query_answered(&mut self, src: Ipv4Addr, trn_id: u16, record: &nbns::ResourceRecord) {
        if self.subnets.contains_key(&src) {
            return;
        }
        // A node status answer is matched on its id and sender alone (as
        // Samba's: some hosts answer for `*` whatever was asked).
        let Some(i) = self.queries.iter().position(|q| {
            q.trn_id == trn_id
                && match q.to {
                    Target::Broadcast => q.name == record.name,
                    Target::Unicast(ip) => ip == src && q.name == record.name,
                    Target::Status(ip) => ip == src,
                }
        }) else {
            return;
        };
        let answer = match (&record.rdata, self.queries[i].to) {
            (nbns::RData::Nb(e), Target::Broadcast | Target::Unicast(_)) => {
                let addr = e.first().map_or(src, |e| e.addr);
                if self.subnets.contains_key(&addr) {
                    return;
                }
                Answer::Address(addr)
            }
            (nbns::RData::NodeStatus(st), Target::Status(_)) => Answer::Names(st.names.clone()),
            _ => return,
        };
        let q = self.queries.swap_remove(i);
        tracing::debug!(target: LOG, subnet = %q.subnet, name = %q.name, from = %src, "query answered: {answer:?}");
        let _ = q.done.send(Some(answer));
    }

    async fn release_all(&mut self) {
        if let Some(w) = self.wins.as_mut() {
            w.save();
        }
        let releases = self
            .wins_client
            .as_mut()
            .map(|c| c.release_all())
            .unwrap_or_default();
        self.send_from_subnets(releases).await;
        let port = self.cfg.port;
        for s in self.subnets.values_mut() {
            let names = std::mem::take(&mut s.names);
            for n in &names {
                if n.state == NameState::Registered {
                    self.next_trn = self.next_trn.wrapping_add(1);
                    send_release(s, n, self.next_trn, port).await;
                    tracing::info!(target: LOG, subnet = %s.iface.ip, name = %n.name, "released");
                }
            }
        }
    }

    /// Was this datagram (same source, same bytes) just seen on the other
    /// socket of the subnet?
    /// Whether `d` already came in on the subnet's other socket (a
    /// datagram both sockets see is answered once). The same datagram
    /// again on the same socket is a client's retransmission, or a new
    /// request that reuses its transaction id: it is answered.
    fn duplicate(&mut self, d: &Received) -> bool {
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|(_, _, _, t)| now.duration_since(*t) > DUP_WINDOW)
        {
            self.recent.pop_front();
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        d.data.hash(&mut h);
        let h = h.finish();
        if let Some(i) = self
            .recent
            .iter()
            .position(|(f, x, _, _)| *f == d.from && *x == h)
        {
            let other_socket = self.recent[i].2 != d.broadcast;
            self.recent.remove(i);
            if other_socket {
                return true;
            }
        }
        if self.recent.len() >= 256 {
            self.recent.pop_front();
        }
        self.recent.push_back((d.from, h, d.broadcast, now));
        false
    }

    async fn datagram(&mut self, d: Received, busy: bool) {
        let src = *d.from.ip();
        // Our own broadcasts come back to our broadcast sockets.
        if d.from.port() == self.cfg.port && self.subnets.contains_key(&src) {
            return;
        }
        if !self.guard.admit(src, busy) || self.duplicate(&d) {
            return;
        }
        let msg = match Message::parse(&d.data) {
            Ok(m) => m,
            Err(e) => {
                self.guard.bad(src, &e);
                return;
            }
        };
        let Some(s) = self.subnets.get_mut(&d.subnet) else {
            return;
        };
        if let Some(c) = self.wins_client.as_mut()
            && c.handle(unix_now(), d.from, &msg)
        {
            return;
        }
        if let Some(out) = self.wins.as_mut().and_then(|w| w.handle(d.from, &msg)) {
            for o in out {
                send(&s.sockets.unicast, &o.packet, o.to).await;
            }
            return;
        }
        let reply = match msg {
            Message::NameQuery {
                trn_id,
                broadcast,
                recursion_desired,
                name,
            } => match s
                .names
                .iter()
                .find(|n| n.name == name && n.state == NameState::Registered)
            {
                Some(n) => {
                    tracing::debug!(target: LOG, from = %d.from, name = %name, "query answered");
                    let e = NbEntry {
                        flags: n.nb_flags(),
                        addr: s.iface.ip,
                    };
                    Some(build::query_positive(
                        trn_id,
                        recursion_desired,
                        &name,
                        ANSWER_TTL,
                        vec![e],
                    ))
                }
                // Never a negative answer to a broadcast.
                None if broadcast => None,
                None => Some(build::query_negative(trn_id, recursion_desired, &name)),
            },
            Message::NodeStatusQuery { trn_id, name } => {
                let ours = name.name() == b"*"
                    || s.names
                        .iter()
                        .any(|n| n.name == name && n.state == NameState::Registered);
                ours.then(|| build::node_status(trn_id, &name, node_status(s)))
            }
            Message::Registration {
                header,
                name,
                entry,
                ..
            } => {
                let conflict = s.names.iter().find(|n| {
                    n.name == name
                        && n.state == NameState::Registered
                        && (n.kind == NameKind::Unique || !entry.is_group())
                });
                conflict.map(|n| {
                    tracing::warn!(target: LOG, subnet = %s.iface.ip, from = %d.from, name = %n.name, "refused {}'s registration of our name (ACT_ERR)", entry.addr);
                    build::negative(header.trn_id, header.opcode, header.recursion_desired, rcode::ACT_ERR, &name, entry)
                })
            }
            Message::Release {
                header,
                name,
                entry,
            } => {
                let ours = s.names.iter().any(|n| {
                    n.name == name && n.state == NameState::Registered && n.kind == NameKind::Unique
                });
                ours.then(|| {
                    tracing::warn!(target: LOG, subnet = %s.iface.ip, from = %d.from, name = %name, "refused a release of our name (ACT_ERR)");
                    build::negative(header.trn_id, Opcode::Release, header.recursion_desired, rcode::ACT_ERR, &name, entry)
                })
            }
            Message::Response { header, record } => {
                if header.opcode == Opcode::Query && header.rcode == rcode::OK {
                    self.query_answered(src, header.trn_id, &record);
                }
                if matches!(header.opcode, Opcode::Registration | Opcode::Wack) {
                    self.registration_answered(
                        d.subnet,
                        src,
                        header.trn_id,
                        header.rcode,
                        &record.name,
                    );
                }
                None
            }
            Message::Other(_) => None,
        };
        if let Some(p) = reply {
            let Some(s) = self.subnets.get(&d.subnet) else {
                return;
            };
            send(&s.sockets.unicast, &p, d.from).await;
        }
    }

    /// Any answer to a broadcast registration means the name is not ours.
    fn registration_answered(
        &mut self,
        subnet: Ipv4Addr,
        by: Ipv4Addr,
        trn_id: u16,
        rc: u8,
        name: &NbName,
    ) {
        let Some(s) = self.subnets.get_mut(&subnet) else {
            return;
        };
        let Some(n) = s
            .names
            .iter_mut()
            .find(|n| n.trn_id == trn_id && n.name == *name && n.state == NameState::Registering)
        else {
            return;
        };
        tracing::error!(target: LOG, subnet = %subnet, name = %n.name, by = %by, rcode = rc, "could not register our name {}: {} answered {}; the name is not ours", n.name, by, rcode::name(rc));
        n.state = NameState::Refused { by, rcode: rc };
        for w in n.waiters.drain(..) {
            let _ = w.send(RegisterResult::Refused { by, rcode: rc });
        }
        let _ = self.lost.send(LostName {
            subnet,
            name: n.name.clone(),
            why: LostReason::Refused { by, rcode: rc },
        });
    }
}

impl State {
    /// WINS challenges and expiry; challenge queries leave from the subnet
    /// that holds the owner's address, else the first one.
    async fn wins_tick(&mut self) {
        let client_out = self
            .wins_client
            .as_mut()
            .map(|c| c.tick(unix_now()))
            .unwrap_or_default();
        self.send_from_subnets(client_out).await;
        let Some(w) = self.wins.as_mut() else {
            return;
        };
        for o in w.tick() {
            let s = self
                .subnets
                .values()
                .find(|s| s.iface.contains(*o.to.ip()))
                .or_else(|| self.subnets.values().next());
            if let Some(s) = s {
                send(&s.sockets.unicast, &o.packet, o.to).await;
            }
        }
    }
}

impl State {
    /// WINS client packets, each from the subnet that holds the name.
    async fn send_from_subnets(&self, v: Vec<ClientOut>) {
        for o in v {
            if let Some(s) = self.subnets.get(&o.from) {
                send(&s.sockets.unicast, &o.out.packet, o.out.to).await;
            }
        }
    }
}

fn node_status(s: &Subnet) -> NodeStatus {
    let names = s
        .names
        .iter()
        .filter(|n| n.state == NameState::Registered)
        .take(255)
        .map(|n| NodeName {
            name: n.name.clone(),
            flags: n.nb_flags() | nbflags::ACTIVE,
        })
        .collect();
    let mut statistics = [0u8; STATISTICS_LEN];
    statistics[..6].copy_from_slice(&s.iface.mac);
    NodeStatus { names, statistics }
}

async fn send(sock: &UdpSocket, p: &nbns::Packet, to: SocketAddrV4) {
    match p.to_bytes() {
        Ok(b) => {
            if let Err(e) = sock.send_to(&b, to).await {
                tracing::warn!(target: LOG, to = %to, "send: {e}");
            }
        }
        Err(e) => tracing::error!(target: LOG, to = %to, "cannot encode: {e}"),
    }
}

async fn send_registration(s: &Subnet, n: &OwnName, port: u16) {
    let e = NbEntry {
        flags: n.nb_flags(),
        addr: s.iface.ip,
    };
    let p = build::registration(n.trn_id, &n.name, REG_TTL, e);
    send(
        &s.sockets.unicast,
        &p,
        SocketAddrV4::new(s.iface.broadcast, port),
    )
    .await;
}

async fn send_release(s: &Subnet, n: &OwnName, trn_id: u16, port: u16) {
    let e = NbEntry {
        flags: n.nb_flags(),
        addr: s.iface.ip,
    };
    let p = build::release(trn_id, &n.name, e);
    send(
        &s.sockets.unicast,
        &p,
        SocketAddrV4::new(s.iface.broadcast, port),
    )
    .await;
}

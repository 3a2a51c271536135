//! The browser in the daemon: per served subnet the datagram service on
//! UDP `dgram port` (138) and the sans-IO [`Browser`] of that subnet, fed
//! with the browser frames that arrive, the outcomes of its name
//! registrations and queries, lost names and time; the [`Action`]s it
//! returns are carried out here (datagrams sent, names registered and
//! released through the [`NameService`], queries for `WORKGROUP<1d>`).
//!
//! One task owns all the state, as in the name service: socket readers,
//! the registration and query tasks and the API send it messages.
//!
//! A subnet's browser starts once `WORKGROUP<1e>` is registered there
//! (checked every [`SUBNET_POLL`], so subnets that appear later get one
//! too) and stops when the name service stops serving the subnet.
//!
//! The browse lists are kept across a restart in
//! `<state directory>/browse.json` (written with a temporary file and a
//! rename, at most every [`SAVE_EVERY`] when they changed, and at
//! shutdown).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::netbios::{NbName, suffix};
use common::smbconf::Global;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::browser::{
    Action, BrowseListSnapshot, Browser, BrowserConfig, Delivery, Event, Input, Received, Role,
    ServerInfo, SyncedEntry, SyncedList, WorkgroupInfo,
};
use crate::guard::{self, Guard};
use crate::iface::{self, Interface, SubnetSockets};
use crate::names::{NameKind, NameService, NameState, RegisterResult};
use crate::wire::browse::{BrowseFrame, sv_type};
use crate::wire::dgram::{
    BROWSE_MAILSLOT, Datagram, DgramHeader, MAX_DATAGRAM, MailslotWrite, MsgType, NodeType,
};

const LOG: &str = "nmbd::browse";
/// The browse lists kept across a restart, in the state directory.
pub const SNAPSHOT_FILE: &str = "browse.json";
/// The browse lists are written at most this often (when they changed).
pub const SAVE_EVERY: Duration = Duration::from_secs(5);
/// How often we look for subnets where `WORKGROUP<1e>` is now registered.
pub const SUBNET_POLL: Duration = Duration::from_secs(1);
/// Browse lists are pulled over a NetBIOS session on this port, as
/// Samba's nmbd does ("W2K DMB's return empty browse lists on port 445").
pub const SYNC_PORT: u16 = 139;
/// One browse list sync (connect, log on, both enumerations) gives up
/// after this.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many syncs run at once; more wait for one to end.
pub const MAX_SYNCS: usize = 8;
/// Syncs that may wait (a domain master keeps at most
/// [`crate::browser::MAX_LMBS`] local masters per subnet).
pub const MAX_QUEUED_SYNCS: usize = 1024;

/// A browser's role, as `nmbd --status` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrowserRole {
    /// `local master = no`: takes no part in elections.
    None,
    Potential,
    /// Won an election; registering the master browser names.
    BecomingMaster,
    LocalMaster,
    DomainMaster,
}

impl std::fmt::Display for BrowserRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BrowserRole::None => "not a browser (local master = no)",
            BrowserRole::Potential => "potential browser",
            BrowserRole::BecomingMaster => "becoming local master",
            BrowserRole::LocalMaster => "local master browser",
            BrowserRole::DomainMaster => "domain master browser",
        })
    }
}

/// The local master of our workgroup on a subnet, as far as we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterInfo {
    /// None when only a name query answered (it gives no name).
    pub name: Option<String>,
    pub address: Ipv4Addr,
}

/// One subnet's browser, for `nmbd --status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserStatus {
    pub subnet: Ipv4Addr,
    pub workgroup: String,
    pub role: BrowserRole,
    pub election_running: bool,
    pub master: Option<MasterInfo>,
    /// As domain master: the local masters that announced themselves.
    pub local_masters: Vec<MasterInfo>,
    /// As local master: the domain master found through WINS.
    pub domain_master: Option<MasterInfo>,
    /// The servers and the milliseconds until each expires (None for
    /// ourselves).
    pub servers: Vec<(ServerInfo, Option<u64>)>,
    pub workgroups: Vec<(WorkgroupInfo, u64)>,
}

/// One subnet's browse list as served to clients (NetServerEnum2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetBrowseList {
    pub subnet: Ipv4Addr,
    pub workgroup: String,
    /// True when we are the local master here; the lists are empty when
    /// we are not (a client must ask the master).
    pub local_master: bool,
    /// The servers of our workgroup, ourselves included.
    pub servers: Vec<ServerInfo>,
    /// The workgroups and their masters, ours included.
    pub workgroups: Vec<WorkgroupInfo>,
}

/// What is kept in [`SNAPSHOT_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Saved {
    /// The workgroup the lists are of (absent in files of older versions).
    #[serde(default)]
    workgroup: Option<String>,
    subnets: BTreeMap<Ipv4Addr, BrowseListSnapshot>,
}

enum Command {
    Status(oneshot::Sender<Vec<BrowserStatus>>),
    List(oneshot::Sender<Vec<SubnetBrowseList>>),
    ForceElection(oneshot::Sender<u32>),
    Reconfigure(Box<Global>, oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Messages to the service task from its helpers.
enum Internal {
    Datagram(iface::Received),
    Registered {
        subnet: Ipv4Addr,
        name: NbName,
        ok: bool,
    },
    MasterQuery {
        subnet: Ipv4Addr,
        found: Option<Ipv4Addr>,
    },
    DomainMaster {
        subnet: Ipv4Addr,
        found: Option<(String, Ipv4Addr)>,
    },
    Synced {
        subnet: Ipv4Addr,
        from: String,
        address: Ipv4Addr,
        list: Option<SyncedList>,
    },
}

/// The handle main uses; cheap to clone.
#[derive(Clone)]
pub struct BrowseService {
    cmd: mpsc::Sender<Command>,
}

impl BrowseService {
    /// Starts the service task; browsers start as subnets become ready.
    pub fn start(g: &Global, names: NameService) -> (BrowseService, JoinHandle<()>) {
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (in_tx, in_rx) = mpsc::channel(1024);
        let path = g.state_directory.join(SNAPSHOT_FILE);
        let workgroup = g.workgroup.to_ascii_uppercase();
        let mut saved = load(&path);
        if saved.workgroup.as_ref().is_some_and(|w| *w != workgroup) {
            tracing::info!(target: LOG, path = %path.display(), "the saved browse lists are of workgroup {}, not {workgroup}: not restored", saved.workgroup.as_deref().unwrap_or(""));
            saved = Saved::default();
        }
        saved.workgroup = Some(workgroup);
        let mut own = vec![g.netbios_name.to_ascii_uppercase()];
        own.extend(g.netbios_aliases.iter().map(|a| a.to_ascii_uppercase()));
        let mut state = State {
            g: g.clone(),
            own,
            names,
            subnets: BTreeMap::new(),
            guard: Guard::default(),
            internal: in_tx,
            dgm_id: (std::process::id() as u16).wrapping_mul(31),
            last_saved: Some(saved.clone()),
            saved,
            path,
            bind_failed: HashSet::new(),
            syncs: 0,
            sync_queue: VecDeque::new(),
        };
        let task = tokio::spawn(async move { state.run(cmd_rx, in_rx).await });
        (BrowseService { cmd: cmd_tx }, task)
    }

    pub async fn status(&self) -> Vec<BrowserStatus> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Status(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The browse lists of every subnet, as served to clients.
    pub async fn browse_list(&self) -> Vec<SubnetBrowseList> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::List(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Makes every subnet's browser start an election; returns on how many
    /// subnets one started (or was already running).
    pub async fn force_election(&self) -> u32 {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::ForceElection(tx)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// smb.conf was reloaded with changes only to the browser's settings
    /// (os level, local / preferred / domain master, server string,
    /// browser check interval): every subnet's browser takes them
    /// ([`Browser::reconfigure`]), and so do browsers started later. A
    /// change to the names, workgroup, ports or interfaces needs a new
    /// service instead.
    pub async fn reconfigure(&self, g: &Global) {
        let (tx, rx) = oneshot::channel();
        if self
            .cmd
            .send(Command::Reconfigure(Box::new(g.clone()), tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Tells every browser we are going down and sends what it says (a
    /// master's zero-criteria election, its names released), then saves
    /// the browse lists. Call before [`NameService::shutdown`].
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Subnet {
    iface: Interface,
    browser: Browser,
    sockets: SubnetSockets,
    master: Option<MasterInfo>,
}

struct State {
    g: Global,
    /// Our NetBIOS name and aliases, upper case.
    own: Vec<String>,
    names: NameService,
    subnets: BTreeMap<Ipv4Addr, Subnet>,
    guard: Guard,
    internal: mpsc::Sender<Internal>,
    dgm_id: u16,
    /// The lists as last saved (or loaded at start: subnets whose browser
    /// has not started yet take theirs from here).
    saved: Saved,
    last_saved: Option<Saved>,
    path: PathBuf,
    bind_failed: HashSet<Ipv4Addr>,
    /// Browse list syncs running, and those waiting for one to end.
    syncs: usize,
    sync_queue: VecDeque<SyncJob>,
}

/// One browse list to pull (an [`Action::Sync`] of a subnet's browser).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SyncJob {
    subnet: Ipv4Addr,
    server: String,
    address: Ipv4Addr,
    local_only: bool,
}

fn load(path: &Path) -> Saved {
    match std::fs::read(path) {
        Ok(b) => match serde_json::from_slice::<Saved>(&b) {
            Ok(s) => {
                tracing::info!(target: LOG, path = %path.display(), subnets = s.subnets.len(), "browse lists restored");
                s
            }
            Err(e) => {
                tracing::warn!(target: LOG, path = %path.display(), "ignoring unreadable browse lists: {e}");
                Saved::default()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
        Err(e) => {
            tracing::warn!(target: LOG, path = %path.display(), "cannot read the browse lists: {e}");
            Saved::default()
        }
    }
}

/// Writes `saved` to `path` through a temporary file and a rename.
fn store(path: &Path, saved: &Saved) -> std::io::Result<()> {
    use std::io::Write;
    let data = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The entries of a snapshot without their remaining times, to see
/// whether a list changed.
fn entries(s: &BrowseListSnapshot) -> (Vec<&ServerInfo>, Vec<&WorkgroupInfo>) {
    (
        s.servers.iter().map(|(s, _)| s).collect(),
        s.workgroups.iter().map(|(w, _)| w).collect(),
    )
}

impl State {
    async fn run(
        &mut self,
        mut cmds: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<Internal>,
    ) {
        let mut lost = self.names.lost_names();
        let mut poll = tokio::time::interval(SUBNET_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut save = tokio::time::interval_at(Instant::now() + SAVE_EVERY, SAVE_EVERY);
        let mut flush = tokio::time::interval_at(Instant::now() + guard::WINDOW, guard::WINDOW);
        loop {
            let wake = self
                .subnets
                .values()
                .filter_map(|s| s.browser.next_wakeup())
                .min()
                .map(Instant::from_std);
            tokio::select! {
                Some(m) = inbound.recv() => self.internal(m).await,
                c = cmds.recv() => match c {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(c) => self.command(c).await,
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                l = lost.recv() => match l {
                    Ok(l) => self.feed(l.subnet, Input::NameLost { name: l.name }).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(target: LOG, "missed {n} lost-name notices");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        lost = self.names.lost_names();
                    }
                },
                _ = poll.tick() => self.rescan().await,
                _ = save.tick() => self.save(false),
                _ = flush.tick() => self.guard.flush(),
                _ = sleep_until(wake), if wake.is_some() => {
                    let ips: Vec<Ipv4Addr> = self.subnets.keys().copied().collect();
                    for ip in ips {
                        self.feed(ip, Input::Tick).await;
                    }
                }
            }
        }
    }

    /// Starts browsers where `WORKGROUP<1e>` is now ours; stops those of
    /// subnets the name service no longer serves.
    async fn rescan(&mut self) {
        let ifaces = self.names.subnets().await;
        let gone: Vec<Ipv4Addr> = self
            .subnets
            .keys()
            .filter(|ip| !ifaces.iter().any(|i| i.ip == **ip))
            .copied()
            .collect();
        for ip in gone {
            if let Some(s) = self.subnets.remove(&ip) {
                tracing::warn!(target: LOG, subnet = %ip, "subnet gone; its browser stops");
                self.saved.subnets.insert(
                    ip,
                    s.browser
                        .snapshot(std::time::Instant::now(), SystemTime::now()),
                );
            }
        }
        if ifaces.iter().all(|i| self.subnets.contains_key(&i.ip)) {
            return;
        }
        let wg1e = match NbName::new(&self.g.workgroup, suffix::BROWSER_ELECTION) {
            Ok(n) => n,
            Err(_) => return,
        };
        let status = self.names.status().await;
        for i in ifaces {
            if self.subnets.contains_key(&i.ip) {
                continue;
            }
            let ready = status.iter().any(|s| {
                s.ip == i.ip
                    && s.names
                        .iter()
                        .any(|(n, _, st)| *n == wg1e && *st == NameState::Registered)
            });
            if ready {
                self.open(i).await;
            }
        }
    }

    async fn open(&mut self, i: Interface) {
        let port = self.g.dgram_port;
        let sockets = match SubnetSockets::open(&i, port, "browser", self.internal.clone(), |r| {
            Internal::Datagram(r)
        }) {
            Ok(s) => s,
            Err(e) => {
                if self.bind_failed.insert(i.ip) {
                    tracing::error!(target: LOG, subnet = %i.ip, "cannot bind port {port}: {e}; no browsing on this subnet (will retry)");
                }
                return;
            }
        };
        self.bind_failed.remove(&i.ip);
        let now = std::time::Instant::now();
        let seed = u64::from(u32::from(i.ip))
            ^ u64::from(std::process::id()) << 32
            ^ SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let mut browser = Browser::new(BrowserConfig::from_global(&self.g, i.ip, seed), now);
        if let Some(snap) = self.saved.subnets.get(&i.ip) {
            browser.restore(snap, now, SystemTime::now());
        }
        tracing::info!(target: LOG, subnet = %i.ip, workgroup = %self.g.workgroup, port, os_level = self.g.os_level, "browsing on subnet");
        self.subnets.insert(
            i.ip,
            Subnet {
                iface: i,
                browser,
                sockets,
                master: None,
            },
        );
        self.feed(i.ip, Input::Tick).await;
    }

    async fn command(&mut self, c: Command) {
        match c {
            Command::Status(tx) => {
                let now = std::time::Instant::now();
                let v = self.subnets.values().map(|s| status(s, now)).collect();
                let _ = tx.send(v);
            }
            Command::List(tx) => {
                let v = self.subnets.values().map(browse_list).collect();
                let _ = tx.send(v);
            }
            Command::ForceElection(tx) => {
                let ips: Vec<Ipv4Addr> = self.subnets.keys().copied().collect();
                let mut n = 0;
                for ip in ips {
                    tracing::info!(target: LOG, subnet = %ip, "election forced by an operator");
                    self.feed(ip, Input::ForceElection).await;
                    if self
                        .subnets
                        .get(&ip)
                        .is_some_and(|s| s.browser.election_running())
                    {
                        n += 1;
                    }
                }
                let _ = tx.send(n);
            }
            Command::Reconfigure(g, done) => {
                self.g = *g;
                let now = std::time::Instant::now();
                let ips: Vec<Ipv4Addr> = self.subnets.keys().copied().collect();
                for ip in ips {
                    let Some(s) = self.subnets.get_mut(&ip) else {
                        continue;
                    };
                    // The seed is kept by the browser.
                    let cfg = BrowserConfig::from_global(&self.g, ip, 0);
                    for a in s.browser.reconfigure(now, cfg) {
                        self.execute(ip, a).await;
                    }
                }
                let _ = done.send(());
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    async fn shutdown(&mut self) {
        let ips: Vec<Ipv4Addr> = self.subnets.keys().copied().collect();
        for ip in ips {
            self.feed(ip, Input::Shutdown).await;
        }
        self.save(true);
    }

    /// Writes the lists when they changed since the last write (or always).
    fn save(&mut self, always: bool) {
        let now = std::time::Instant::now();
        let wall = SystemTime::now();
        let mut cur = self.saved.clone();
        for (ip, s) in &self.subnets {
            cur.subnets.insert(*ip, s.browser.snapshot(now, wall));
        }
        let changed = match &self.last_saved {
            None => true,
            Some(last) => {
                // Remaining times always change; the entries may not.
                last.subnets.len() != cur.subnets.len()
                    || last
                        .subnets
                        .iter()
                        .zip(cur.subnets.iter())
                        .any(|((a, x), (b, y))| a != b || entries(x) != entries(y))
            }
        };
        if !changed && !always {
            return;
        }
        match store(&self.path, &cur) {
            Ok(()) => {
                tracing::debug!(target: LOG, path = %self.path.display(), "browse lists saved");
                self.last_saved = Some(cur);
            }
            Err(e) => {
                tracing::warn!(target: LOG, path = %self.path.display(), "cannot save the browse lists: {e}");
            }
        }
    }

    async fn internal(&mut self, m: Internal) {
        match m {
            Internal::Datagram(iface::Received {
                subnet, from, data, ..
            }) => {
                if let Some(input) = self.datagram(subnet, from, &data) {
                    self.feed(subnet, input).await;
                }
            }
            Internal::Registered { subnet, name, ok } => {
                self.feed(subnet, Input::Registered { name, ok }).await
            }
            Internal::MasterQuery { subnet, found } => {
                if let (Some(ip), Some(s)) = (found, self.subnets.get_mut(&subnet))
                    && s.master.as_ref().is_none_or(|m| m.address != ip)
                {
                    s.master = Some(MasterInfo {
                        name: None,
                        address: ip,
                    });
                }
                self.feed(subnet, Input::MasterQuery { found }).await
            }
            Internal::DomainMaster { subnet, found } => {
                self.feed(subnet, Input::DomainMaster { found }).await
            }
            Internal::Synced {
                subnet,
                from,
                address,
                list,
            } => {
                self.syncs = self.syncs.saturating_sub(1);
                self.feed(
                    subnet,
                    Input::Synced {
                        from,
                        address,
                        list,
                    },
                )
                .await;
                if let Some(job) = self.sync_queue.pop_front() {
                    self.sync(job);
                }
            }
        }
    }

    /// Checks one received datagram; the browser input it carries.
    fn datagram(&mut self, subnet: Ipv4Addr, from: SocketAddrV4, data: &[u8]) -> Option<Input> {
        let src = *from.ip();
        // Our own broadcasts come back to our broadcast sockets.
        // Browser traffic is a few datagrams a minute per host: the flood
        // limit always applies.
        if self.subnets.contains_key(&src) || !self.guard.admit(src, true) {
            return None;
        }
        let (header_ip, source, destination, frame) =
            match decode(data, |n| for_us(&self.own, &self.g.workgroup, n)) {
                Decoded::Frame {
                    source_ip,
                    source,
                    destination,
                    frame,
                } => (source_ip, source, destination, frame),
                Decoded::Ignored(why) => {
                    tracing::debug!(target: LOG, source = %src, "ignored datagram: {why}");
                    return None;
                }
                Decoded::Bad(why) => {
                    self.guard.bad(src, &why);
                    return None;
                }
            };
        // Relayed from one of our own addresses.
        if self.subnets.contains_key(&header_ip) {
            return None;
        }
        tracing::debug!(target: LOG, subnet = %subnet, source = %src, from = %source, to = %destination, "received {frame:?}");
        if let (BrowseFrame::LocalMasterAnnouncement(a), Some(s)) =
            (&frame, self.subnets.get_mut(&subnet))
            && destination
                .name_str()
                .eq_ignore_ascii_case(&self.g.workgroup)
            && a.server_type != 0
        {
            s.master = Some(MasterInfo {
                name: Some(a.server_name.clone()),
                address: src,
            });
        }
        Some(Input::Frame(Received {
            source,
            source_ip: src,
            destination,
            frame,
        }))
    }

    /// Feeds one input to a subnet's browser and carries out its actions.
    async fn feed(&mut self, subnet: Ipv4Addr, input: Input) {
        let Some(s) = self.subnets.get_mut(&subnet) else {
            return;
        };
        let actions = s.browser.handle(std::time::Instant::now(), input);
        for a in actions {
            self.execute(subnet, a).await;
        }
    }

    async fn execute(&mut self, subnet: Ipv4Addr, a: Action) {
        match a {
            Action::Send {
                to,
                delivery,
                frame,
            } => self.send(subnet, to, delivery, &frame).await,
            Action::Register { name, group } => {
                let names = self.names.clone();
                let tx = self.internal.clone();
                let kind = if group {
                    NameKind::Group
                } else {
                    NameKind::Unique
                };
                tokio::spawn(async move {
                    let r = names.register(subnet, name.clone(), kind).await;
                    let ok = r == RegisterResult::Registered;
                    let _ = tx.send(Internal::Registered { subnet, name, ok }).await;
                });
            }
            Action::Release { name, .. } => {
                // Answered at once: the release is a broadcast.
                self.names.release(subnet, name).await;
            }
            Action::Query { name } => {
                let names = self.names.clone();
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let found = names.query(subnet, name).await;
                    let _ = tx.send(Internal::MasterQuery { subnet, found }).await;
                });
            }
            Action::FindDomainMaster { name } => {
                let names = self.names.clone();
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let found = find_domain_master(&names, subnet, name).await;
                    let _ = tx.send(Internal::DomainMaster { subnet, found }).await;
                });
            }
            Action::Sync {
                server,
                address,
                local_only,
            } => self.sync(SyncJob {
                subnet,
                server,
                address,
                local_only,
            }),
            Action::Log(e) => {
                if let Some(s) = self.subnets.get_mut(&subnet) {
                    match &e {
                        Event::LocalMaster { .. } => {
                            s.master = Some(MasterInfo {
                                name: Some(self.g.netbios_name.to_ascii_uppercase()),
                                address: subnet,
                            })
                        }
                        Event::NoLongerMaster { .. } | Event::MasterGone { .. } => s.master = None,
                        _ => {}
                    }
                }
                tracing::info!(target: LOG, subnet = %subnet, "{e}");
            }
        }
    }

    /// Pulls `server`'s browse list in a task of its own (Samba forks a
    /// child for it); the outcome comes back as [`Internal::Synced`].
    fn sync(&mut self, job: SyncJob) {
        if self.syncs >= MAX_SYNCS {
            // Waits for a running one to end; one entry per browser.
            if !self.sync_queue.contains(&job) {
                if self.sync_queue.len() >= MAX_QUEUED_SYNCS {
                    tracing::warn!(target: LOG, subnet = %job.subnet, "not syncing with {} ({}): {MAX_QUEUED_SYNCS} syncs waiting", job.server, job.address);
                } else {
                    self.sync_queue.push_back(job);
                }
            }
            return;
        }
        self.syncs += 1;
        let tx = self.internal.clone();
        let calling = self.g.netbios_name.to_ascii_uppercase();
        let workgroup = self.g.workgroup.to_ascii_uppercase();
        let SyncJob {
            subnet,
            server,
            address,
            local_only,
        } = job;
        tracing::info!(target: LOG, subnet = %subnet, "syncing browse lists with {server} ({address}) for {workgroup}");
        let from = server.clone();
        let pull = tokio::spawn(async move {
            let peer = SocketAddrV4::new(address, SYNC_PORT);
            let req = crate::sync::SyncRequest {
                peer,
                called: &server,
                called_suffix: suffix::SERVER,
                calling: &calling,
                workgroup: &workgroup,
                local_only,
                servers: true,
            };
            match crate::sync::sync_lists(&req, SYNC_TIMEOUT).await {
                Ok(l) => Some(SyncedList {
                    servers: l.servers.into_iter().map(entry).collect(),
                    workgroups: l.workgroups.into_iter().map(entry).collect(),
                }),
                Err(e) => {
                    tracing::warn!(target: LOG, subnet = %subnet, "browse list sync with {server} ({peer}) failed: {e}");
                    None
                }
            }
        });
        // The outcome always comes back, so the count of running syncs
        // stays right even if the pull panics.
        tokio::spawn(async move {
            let list = pull.await.unwrap_or_else(|e| {
                tracing::error!(target: LOG, subnet = %subnet, "browse list sync with {from} ({address}) failed: {e}");
                None
            });
            let _ = tx
                .send(Internal::Synced {
                    subnet,
                    from,
                    address,
                    list,
                })
                .await;
        });
    }

    async fn send(
        &mut self,
        subnet: Ipv4Addr,
        to: NbName,
        delivery: Delivery,
        frame: &BrowseFrame,
    ) {
        let Some(s) = self.subnets.get(&subnet) else {
            return;
        };
        let Ok(source) = NbName::new(&self.g.netbios_name, suffix::WORKSTATION) else {
            return;
        };
        let (msg_type, addr) = match delivery {
            Delivery::Broadcast => (MsgType::DirectGroup, s.iface.broadcast),
            Delivery::Unicast(ip) => (MsgType::DirectUnique, ip),
        };
        self.dgm_id = self.dgm_id.wrapping_add(1);
        let dg = Datagram::Data {
            msg_type,
            header: DgramHeader {
                more: false,
                first: true,
                node_type: NodeType::B,
                id: self.dgm_id,
                source_ip: subnet,
                source_port: self.g.dgram_port,
            },
            packet_offset: 0,
            source,
            destination: to.clone(),
            data: MailslotWrite::browse(frame.to_vec()).to_vec(),
        };
        let bytes = dg.to_vec();
        if bytes.len() > MAX_DATAGRAM {
            tracing::warn!(target: LOG, subnet = %subnet, to = %to, "not sent: a {}-byte datagram is over {MAX_DATAGRAM}", bytes.len());
            return;
        }
        let dest = SocketAddrV4::new(addr, self.g.dgram_port);
        match s.sockets.unicast.send_to(&bytes, dest).await {
            Ok(_) => {
                tracing::debug!(target: LOG, subnet = %subnet, to = %to, addr = %dest, "sent {frame:?}")
            }
            Err(e) => tracing::warn!(target: LOG, subnet = %subnet, to = %dest, "send: {e}"),
        }
    }
}

fn entry(s: crate::sync::RapServer) -> SyncedEntry {
    SyncedEntry {
        name: s.name,
        server_type: s.server_type,
        comment: s.comment,
        os_major: s.version_major,
        os_minor: s.version_minor,
    }
}

/// nmbd_browsesync.c: WORKGROUP<1b> through WINS, then the first unique
/// `<20>` name in that host's node status (asked for WORKGROUP<1b>, which
/// it must hold; Windows does not answer a node status for `*`).
async fn find_domain_master(
    names: &NameService,
    subnet: Ipv4Addr,
    name: NbName,
) -> Option<(String, Ipv4Addr)> {
    let Some(ip) = names.wins_query(subnet, name.clone()).await else {
        tracing::info!(target: LOG, subnet = %subnet, "WINS knows no {name}");
        return None;
    };
    let Some(held) = names.node_status(subnet, ip, name.clone()).await else {
        tracing::warn!(target: LOG, subnet = %subnet, "{ip} holds {name} but does not answer a node status");
        return None;
    };
    let server = held.into_iter().find(|n| {
        n.name.suffix() == suffix::SERVER && n.flags & crate::wire::nbns::nbflags::GROUP == 0
    });
    if server.is_none() {
        tracing::warn!(target: LOG, subnet = %subnet, "{ip} holds {name} but no server (<20>) name");
    }
    server.map(|n| (n.name.name_str(), ip))
}

/// Is `n` a name a browse datagram to us may be sent to: our NetBIOS
/// name or an alias (`own`, upper case; any suffix), the workgroup's
/// `<00>`, `<1b>`, `<1d>`, `<1e>`, or `__MSBROWSE__<01>`.
fn for_us(own: &[String], workgroup: &str, n: &NbName) -> bool {
    if *n == NbName::msbrowse() {
        return true;
    }
    let name = n.name_str();
    if own.contains(&name) {
        return true;
    }
    name.eq_ignore_ascii_case(workgroup)
        && matches!(
            n.suffix(),
            suffix::WORKSTATION
                | suffix::DOMAIN_MASTER
                | suffix::MASTER_BROWSER
                | suffix::BROWSER_ELECTION
        )
}

/// What a received datagram is to the browser.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Frame {
        /// The source IP in the datagram header.
        source_ip: Ipv4Addr,
        source: NbName,
        destination: NbName,
        frame: BrowseFrame,
    },
    /// Valid, but not for the browser (another name, another mailslot,
    /// an error or query datagram).
    Ignored(String),
    /// Malformed: logged through the guard.
    Bad(String),
}

/// Samba's checks (reference/netbios.md): a data datagram (0x10-0x12) in
/// one piece, to one of our names, carrying an SMB Transaction mailslot
/// write to `\MAILSLOT\BROWSE` whose counts and offsets are in bounds,
/// with a browser frame we can parse.
fn decode(data: &[u8], for_us: impl Fn(&NbName) -> bool) -> Decoded {
    let (header, source, destination, user) = match Datagram::parse(data) {
        Ok(Datagram::Data {
            header,
            source,
            destination,
            data,
            ..
        }) => (header, source, destination, data),
        Ok(Datagram::Error { header, code }) => {
            return Decoded::Ignored(format!(
                "datagram error {code:#04x} from {}",
                header.source_ip
            ));
        }
        Ok(Datagram::Query { .. }) => {
            return Decoded::Ignored("datagram query (no NBDD here)".into());
        }
        Err(e) => return Decoded::Bad(e.to_string()),
    };
    if header.more || !header.first {
        return Decoded::Bad("fragmented datagram (browser frames fit in one)".into());
    }
    if !for_us(&destination) {
        return Decoded::Ignored(format!("to {destination}, not one of our names"));
    }
    let mw = match MailslotWrite::parse(&user) {
        Ok(m) => m,
        Err(e) => return Decoded::Bad(format!("to {destination}: {e}")),
    };
    if !mw.mailslot.eq_ignore_ascii_case(BROWSE_MAILSLOT) {
        return Decoded::Ignored(format!("mailslot {}", mw.mailslot));
    }
    match BrowseFrame::parse(&mw.data) {
        Ok(frame) => Decoded::Frame {
            source_ip: header.source_ip,
            source,
            destination,
            frame,
        },
        Err(e) => Decoded::Bad(format!("browse frame to {destination}: {e}")),
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn role(b: &Browser) -> BrowserRole {
    match b.role() {
        Role::LocalMaster if b.is_domain_master() => BrowserRole::DomainMaster,
        Role::LocalMaster => BrowserRole::LocalMaster,
        Role::Becoming(_) => BrowserRole::BecomingMaster,
        Role::NotMaster if b.config().local_master => BrowserRole::Potential,
        Role::NotMaster => BrowserRole::None,
    }
}

fn status(s: &Subnet, now: std::time::Instant) -> BrowserStatus {
    let b = &s.browser;
    let snap = b.snapshot(now, SystemTime::now());
    let mut servers: Vec<(ServerInfo, Option<u64>)> = snap
        .servers
        .into_iter()
        .map(|(s, l)| (s, Some(l)))
        .collect();
    if let Some(me) = b
        .servers()
        .into_iter()
        .find(|x| x.name == b.config().netbios_name)
    {
        servers.retain(|(x, _)| x.name != me.name);
        servers.push((me, None));
        servers.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    }
    BrowserStatus {
        subnet: s.iface.ip,
        workgroup: b.config().workgroup.clone(),
        role: role(b),
        election_running: b.election_running(),
        master: s.master.clone(),
        local_masters: b
            .local_masters()
            .map(|(n, a)| MasterInfo {
                name: Some(n.to_string()),
                address: a,
            })
            .collect(),
        domain_master: b.domain_master().map(|(n, a)| MasterInfo {
            name: Some(n.to_string()),
            address: a,
        }),
        servers,
        workgroups: snap.workgroups,
    }
}

fn browse_list(s: &Subnet) -> SubnetBrowseList {
    let b = &s.browser;
    let cfg = b.config();
    let mut workgroups = b.workgroups();
    if b.is_local_master() && !workgroups.iter().any(|w| w.name == cfg.workgroup) {
        workgroups.push(WorkgroupInfo {
            name: cfg.workgroup.clone(),
            master: cfg.netbios_name.clone(),
            server_type: sv_type::DOMAIN_ENUM | sv_type::NT,
            periodicity_ms: 0,
            address: cfg.address,
            synced_from: None,
        });
        workgroups.sort_by(|a, b| a.name.cmp(&b.name));
    }
    SubnetBrowseList {
        subnet: s.iface.ip,
        workgroup: cfg.workgroup.clone(),
        local_master: b.is_local_master(),
        servers: b.servers(),
        workgroups: if b.serves_list() {
            workgroups
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::browse::Election;

    fn datagram(to: NbName, mailslot: &str, frame: &[u8], more: bool) -> Vec<u8> {
        let mut mw = MailslotWrite::browse(frame.to_vec());
        mw.mailslot = mailslot.into();
        Datagram::Data {
            msg_type: MsgType::DirectGroup,
            header: DgramHeader {
                more,
                first: true,
                node_type: NodeType::B,
                id: 7,
                source_ip: Ipv4Addr::new(10, 99, 0, 2),
                source_port: 138,
            },
            packet_offset: 0,
            source: NbName::new("OTHER", 0).unwrap(),
            destination: to,
            data: mw.to_vec(),
        }
        .to_vec()
    }

    fn ours(n: &NbName) -> bool {
        for_us(&["OURS".into(), "ALIAS".into()], "TESTGRP", n)
    }

    #[test]
    fn destinations() {
        let n = |s: &str, x: u8| NbName::new(s, x).unwrap();
        assert!(ours(&n("testgrp", 0x1e)));
        assert!(ours(&n("TESTGRP", 0x1d)));
        assert!(ours(&n("ALIAS", 0x20)));
        assert!(ours(&NbName::msbrowse()));
        assert!(!ours(&n("TESTGRP", 0x20)));
        assert!(!ours(&n("OTHERGRP", 0x1e)));
    }

    #[test]
    fn decode_checks() {
        let wg = NbName::new("TESTGRP", 0x1e).unwrap();
        let e = BrowseFrame::RequestElection(Election {
            version: 1,
            criteria: 0x1401_0f02,
            uptime_ms: 5,
            server_name: "OTHER".into(),
        });
        let ok = decode(
            &datagram(wg.clone(), BROWSE_MAILSLOT, &e.to_vec(), false),
            ours,
        );
        assert_eq!(
            ok,
            Decoded::Frame {
                source_ip: Ipv4Addr::new(10, 99, 0, 2),
                source: NbName::new("OTHER", 0).unwrap(),
                destination: wg.clone(),
                frame: e.clone(),
            }
        );
        // Another workgroup's election: not ours, not bad either.
        let other = NbName::new("OTHERGRP", 0x1e).unwrap();
        let d = datagram(other, BROWSE_MAILSLOT, &e.to_vec(), false);
        assert!(matches!(decode(&d, ours), Decoded::Ignored(_)));
        // Another mailslot.
        let d = datagram(wg.clone(), "\\MAILSLOT\\NET\\NETLOGON", &e.to_vec(), false);
        assert!(matches!(decode(&d, ours), Decoded::Ignored(_)));
        // Fragments, truncation, a bad frame: bad, with a reason.
        let d = datagram(wg.clone(), BROWSE_MAILSLOT, &e.to_vec(), true);
        assert!(matches!(decode(&d, ours), Decoded::Bad(w) if w.contains("fragmented")));
        let d = datagram(wg.clone(), BROWSE_MAILSLOT, &e.to_vec(), false);
        assert!(matches!(decode(&d[..d.len() - 30], ours), Decoded::Bad(_)));
        let d = datagram(wg, BROWSE_MAILSLOT, &[8, 1], false);
        assert!(matches!(decode(&d, ours), Decoded::Bad(w) if w.contains("browse frame")));
        assert!(matches!(decode(&[0x77; 20], ours), Decoded::Bad(_)));
    }

    #[test]
    fn saved_lists_round_trip() {
        let dir = std::env::temp_dir().join(format!("nmbd-browse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(SNAPSHOT_FILE);
        assert_eq!(load(&path), Saved::default());
        let mut saved = Saved::default();
        saved.subnets.insert(
            Ipv4Addr::new(10, 99, 0, 1),
            BrowseListSnapshot {
                taken_unix_ms: 1_700_000_000_000,
                servers: vec![(
                    ServerInfo {
                        name: "SMB".into(),
                        server_type: 0x0001_1003,
                        comment: "a \"quoted\" comment".into(),
                        os_major: 6,
                        os_minor: 1,
                        periodicity_ms: 60_000,
                        address: Ipv4Addr::new(10, 99, 0, 2),
                        synced_from: None,
                    },
                    170_000,
                )],
                workgroups: vec![],
            },
        );
        store(&path, &saved).unwrap();
        assert_eq!(load(&path), saved);
        assert!(!path.with_extension("json.tmp").exists());
        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(load(&path), Saved::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

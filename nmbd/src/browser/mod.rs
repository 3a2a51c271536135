//! The browser of one subnet, sans IO: elections, becoming and ceasing to
//! be the local master (nameelect.doc), our host announcements and, as
//! master, the browse list.
//!
//! The daemon owns the sockets and timers. It creates one [`Browser`] per
//! subnet once its own names and `WORKGROUP<1e>` are registered, feeds it
//! [`Input`]s with the current `Instant`, carries out the [`Action`]s it
//! returns, and calls [`Browser::handle`] with [`Input::Tick`] no later
//! than [`Browser::next_wakeup`].
//!
//! Stages of becoming master (nameelect.doc `become_master`): after the
//! election is won, register `__MSBROWSE__<01>` (group); when that is
//! granted, `WORKGROUP<1d>` (unique); with `domain master`, then
//! `WORKGROUP<1b>`; then announce. A refused registration rolls back
//! (the names held so far are released). Losing an election, losing one
//! of those names or a ResetStateRequest make us a non-master again.

pub mod election;
pub mod list;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use common::netbios::{NbName, suffix};
use common::smbconf::{BoolAuto, Global};

use crate::wire::browse::{Announcement, BrowseFrame, Election, reset, sv_type};
use election::{CriteriaInputs, ELECTION_VERSION, criteria, we_win};
pub use list::{
    BrowseList, BrowseListSnapshot, ServerInfo, SyncedEntry, SyncedList, WorkgroupInfo,
};

/// At most one election frame per this interval.
pub const ELECTION_INTERVAL: Duration = Duration::from_secs(2);
/// Victory comes one interval after this many uncontested frames.
pub const ELECTION_FRAMES: u8 = 5;
/// First host announcement interval, its growth per announcement and cap.
pub const ANNOUNCE_MIN: Duration = Duration::from_secs(60);
pub const ANNOUNCE_STEP: Duration = Duration::from_secs(60);
pub const ANNOUNCE_MAX: Duration = Duration::from_secs(12 * 60);
/// How often a non-master checks that `WORKGROUP<1d>` answers.
pub const MASTER_CHECK_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// The first check, once the name service has settled after start-up.
pub const FIRST_MASTER_CHECK: Duration = Duration::from_secs(1);
/// The longest random delay before answering an AnnouncementRequest.
pub const ANNOUNCE_REPLY_JITTER_MS: u64 = 30_000;
/// A master that knows fewer servers than this asks for announcements.
const FEW_SERVERS: usize = 2;
/// A domain master pulls a local master's list this long after its first
/// MasterAnnouncement, so it has had time to build it (Samba: 1 min).
pub const LMB_FIRST_SYNC: Duration = Duration::from_secs(60);
/// Between two syncs of a list, and between a local master's
/// announcements to its domain master (Samba's CHECK_TIME_DMB_TO_LMB_SYNC
/// and CHECK_TIME_MST_ANNOUNCE); a synced entry lives three of these.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// A local master that stops announcing itself to us is forgotten after
/// this (Samba: one missed announcement and 2 minutes).
pub const LMB_LIFETIME: Duration = Duration::from_secs(17 * 60);
/// Bound on the local masters a domain master keeps.
pub const MAX_LMBS: usize = 256;

/// What the engine needs from smb.conf for one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserConfig {
    pub workgroup: String,
    pub netbios_name: String,
    pub server_string: String,
    /// Our address on this subnet (for logs).
    pub address: Ipv4Addr,
    pub os_level: u8,
    pub local_master: bool,
    pub preferred_master: bool,
    pub domain_master: bool,
    pub wins_server: bool,
    /// We have a WINS server (`wins server`, or ourselves with `wins
    /// support`): only then does a local master look for its domain master
    /// (as Samba: WORKGROUP<1b> is found through WINS).
    pub wins_client: bool,
    /// Server type bits without the browser bits (workstation, server,
    /// unix, NT...); the engine adds potential/master/domain master.
    pub server_type: u32,
    pub os_major: u8,
    pub os_minor: u8,
    /// Seeds the reply jitter; give each host a different one.
    pub seed: u64,
    /// How often a non-master checks that `WORKGROUP<1d>` answers
    /// ([`MASTER_CHECK_INTERVAL`] unless `browser check interval` says).
    pub master_check_interval: Duration,
}

impl BrowserConfig {
    /// From smb.conf `[global]`. `preferred master = auto` follows `domain
    /// master` (as Samba); `domain master = auto` means no (we are no PDC).
    pub fn from_global(g: &Global, address: Ipv4Addr, seed: u64) -> BrowserConfig {
        let domain_master = g.domain_master == BoolAuto::Yes;
        BrowserConfig {
            workgroup: g.workgroup.to_ascii_uppercase(),
            netbios_name: g.netbios_name.to_ascii_uppercase(),
            server_string: g.server_string.clone(),
            address,
            os_level: g.os_level,
            local_master: g.local_master,
            preferred_master: match g.preferred_master {
                BoolAuto::Yes => true,
                BoolAuto::No => false,
                BoolAuto::Auto => domain_master,
            },
            domain_master,
            wins_server: g.wins_support,
            wins_client: g.wins_support || !g.wins_server.is_empty(),
            server_type: DEFAULT_SERVER_TYPE,
            os_major: 6,
            os_minor: 1,
            seed,
            master_check_interval: Duration::from_secs(g.browser_check_interval.into()),
        }
    }
}

/// What Samba announces for a file server without printers.
pub const DEFAULT_SERVER_TYPE: u32 = sv_type::WORKSTATION
    | sv_type::SERVER
    | sv_type::SERVER_UNIX
    | sv_type::NT
    | sv_type::SERVER_NT;

/// A browser frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub source: NbName,
    pub source_ip: Ipv4Addr,
    pub destination: NbName,
    pub frame: BrowseFrame,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A browser frame from `\MAILSLOT\BROWSE` (the daemon drops our own).
    Frame(Received),
    /// The outcome of an [`Action::Register`]: `ok` false when another
    /// node or a WINS server objected.
    Registered { name: NbName, ok: bool },
    /// One of our names was taken from us (conflict, WINS release).
    NameLost { name: NbName },
    /// The answer to an [`Action::Query`] for `WORKGROUP<1d>`: the
    /// master's address, or None when nobody answered.
    MasterQuery { found: Option<Ipv4Addr> },
    /// The answer to an [`Action::FindDomainMaster`]: the domain master's
    /// NetBIOS name and address.
    DomainMaster { found: Option<(String, Ipv4Addr)> },
    /// The outcome of an [`Action::Sync`]: the list pulled, or None when
    /// the sync failed (the daemon logs why).
    Synced {
        from: String,
        address: Ipv4Addr,
        list: Option<SyncedList>,
    },
    /// An operator asked for an election (`nmbd --force-election`,
    /// Samba's `smbcontrol nmbd force-election`).
    ForceElection,
    /// Time passed.
    Tick,
    /// The daemon is going down.
    Shutdown,
}

/// How a frame is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// To the subnet's broadcast address (datagram type 0x11, group).
    Broadcast,
    /// To one host (datagram type 0x10, unique).
    Unicast(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `frame` in a datagram from our name to `to`.
    Send {
        to: NbName,
        delivery: Delivery,
        frame: BrowseFrame,
    },
    /// Register a name on this subnet; answer with [`Input::Registered`].
    Register { name: NbName, group: bool },
    /// Release a name on this subnet.
    Release { name: NbName, group: bool },
    /// Broadcast a name query; answer with [`Input::MasterQuery`].
    Query { name: NbName },
    /// Find who holds `name` (WORKGROUP<1b>) through WINS and its server
    /// name (the first unique `<20>` name in its node status); answer with
    /// [`Input::DomainMaster`].
    FindDomainMaster { name: NbName },
    /// Pull the browse list of browser `server` (a session to its
    /// `server<20>` on `address`, port 139; RAP NetServerEnum2): with
    /// `local_only`, only the servers and workgroups of its own subnet.
    /// Answer with [`Input::Synced`].
    Sync {
        server: String,
        address: Ipv4Addr,
        local_only: bool,
    },
    /// Something an operator wants in the log.
    Log(Event),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ElectionStarted {
        workgroup: String,
        address: Ipv4Addr,
        reason: &'static str,
    },
    ElectionLost {
        workgroup: String,
        address: Ipv4Addr,
        winner: String,
    },
    ElectionWon {
        workgroup: String,
        address: Ipv4Addr,
    },
    LocalMaster {
        workgroup: String,
        address: Ipv4Addr,
    },
    DomainMaster {
        workgroup: String,
        address: Ipv4Addr,
    },
    NoLongerMaster {
        workgroup: String,
        address: Ipv4Addr,
        reason: String,
    },
    RegistrationRefused {
        name: String,
        address: Ipv4Addr,
    },
    MasterGone {
        workgroup: String,
        address: Ipv4Addr,
    },
    OtherMaster {
        workgroup: String,
        address: Ipv4Addr,
        other: String,
        other_ip: Ipv4Addr,
    },
    /// As domain master: a local master announced itself to us.
    LocalMasterAnnounced {
        workgroup: String,
        master: String,
        master_ip: Ipv4Addr,
    },
    /// As local master: our domain master, found through WINS.
    DomainMasterFound {
        workgroup: String,
        master: String,
        master_ip: Ipv4Addr,
    },
    NoDomainMaster {
        workgroup: String,
    },
    Synced {
        workgroup: String,
        from: String,
        from_ip: Ipv4Addr,
        servers: usize,
        workgroups: usize,
    },
    BecomeBackupIgnored {
        workgroup: String,
        master: String,
        browser: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ElectionStarted {
                workgroup,
                address,
                reason,
            } => {
                write!(
                    f,
                    "starting an election for {workgroup} on {address} ({reason})"
                )
            }
            Event::ElectionLost {
                workgroup,
                address,
                winner,
            } => {
                write!(
                    f,
                    "lost the election for {workgroup} on {address} to {winner}"
                )
            }
            Event::ElectionWon { workgroup, address } => {
                write!(f, "won the election for {workgroup} on {address}")
            }
            Event::LocalMaster { workgroup, address } => {
                write!(f, "now local master browser for {workgroup} on {address}")
            }
            Event::DomainMaster { workgroup, address } => {
                write!(f, "now domain master browser for {workgroup} on {address}")
            }
            Event::NoLongerMaster {
                workgroup,
                address,
                reason,
            } => {
                write!(
                    f,
                    "no longer local master browser for {workgroup} on {address}: {reason}"
                )
            }
            Event::RegistrationRefused { name, address } => {
                write!(f, "registration of {name} on {address} refused")
            }
            Event::MasterGone { workgroup, address } => {
                write!(f, "no master browser for {workgroup} answers on {address}")
            }
            Event::OtherMaster {
                workgroup,
                address,
                other,
                other_ip,
            } => write!(
                f,
                "{other} ({other_ip}) also claims to be local master for {workgroup} on {address}"
            ),
            Event::LocalMasterAnnounced {
                workgroup,
                master,
                master_ip,
            } => write!(
                f,
                "local master {master} ({master_ip}) of {workgroup} announced itself; its list will be synced"
            ),
            Event::DomainMasterFound {
                workgroup,
                master,
                master_ip,
            } => write!(
                f,
                "domain master browser for {workgroup} is {master} ({master_ip}): announcing ourselves and syncing"
            ),
            Event::NoDomainMaster { workgroup } => write!(
                f,
                "no domain master browser for {workgroup} found through WINS; browse lists not synced"
            ),
            Event::Synced {
                workgroup,
                from,
                from_ip,
                servers,
                workgroups,
            } => write!(
                f,
                "sync with {from} ({from_ip}) for {workgroup} completed: {servers} servers, {workgroups} workgroups taken"
            ),
            Event::BecomeBackupIgnored {
                workgroup,
                master,
                browser,
            } => write!(
                f,
                "{master} asked {browser} to be a backup browser for {workgroup}: ignored (we are never one, as Samba)"
            ),
        }
    }
}

/// Where we are on the way to (or from) being the local master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A potential browser (or, with `local master = no`, none at all).
    NotMaster,
    /// Won; waiting for this name's registration.
    Becoming(Stage),
    LocalMaster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    MsBrowse,
    MasterName,
    DomainName,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    sent: u8,
    last: Option<Instant>,
}

/// A local master that announced itself to us as domain master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub address: Ipv4Addr,
    next_sync: Instant,
    /// For a local master: forgotten then unless it announces again.
    dies: Option<Instant>,
}

/// The browser of one subnet.
#[derive(Debug)]
pub struct Browser {
    cfg: BrowserConfig,
    start: Instant,
    role: Role,
    domain_master_now: bool,
    won_before: bool,
    /// Browser names we hold or asked for: (name, group).
    held: Vec<(NbName, bool)>,
    election: Option<Running>,
    next_announce: Instant,
    announce_interval: Duration,
    update_count: u8,
    last_type: u32,
    next_master_check: Instant,
    query_outstanding: bool,
    list: BrowseList,
    rng: u64,
    stopped: bool,
    /// Election frames we sent (for tests and statistics).
    elections_sent: u64,
    /// As domain master: the local masters that announced themselves.
    local_masters: Vec<Peer>,
    /// As local master with a WINS server (and not domain master): when
    /// to look for the domain master, announce to it and sync next.
    next_dmb_sync: Option<Instant>,
    dmb_lookup_outstanding: bool,
    /// The domain master as last found.
    domain_master: Option<(String, Ipv4Addr)>,
}

impl Browser {
    pub fn new(cfg: BrowserConfig, now: Instant) -> Browser {
        let rng = cfg.seed | 1;
        let mut b = Browser {
            start: now,
            role: Role::NotMaster,
            domain_master_now: false,
            won_before: false,
            held: Vec::new(),
            election: None,
            next_announce: now,
            announce_interval: ANNOUNCE_MIN,
            update_count: 0,
            last_type: 0,
            next_master_check: now + FIRST_MASTER_CHECK,
            query_outstanding: false,
            list: BrowseList::default(),
            rng,
            stopped: false,
            elections_sent: 0,
            local_masters: Vec::new(),
            next_dmb_sync: None,
            dmb_lookup_outstanding: false,
            domain_master: None,
            cfg,
        };
        b.last_type = b.server_type();
        // A preferred master forces an election when it starts.
        if b.cfg.preferred_master && b.cfg.local_master {
            b.election = Some(Running {
                sent: 0,
                last: None,
            });
        }
        b
    }

    pub fn config(&self) -> &BrowserConfig {
        &self.cfg
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_local_master(&self) -> bool {
        self.role == Role::LocalMaster
    }

    pub fn is_domain_master(&self) -> bool {
        self.is_local_master() && self.domain_master_now
    }

    pub fn election_running(&self) -> bool {
        self.election.is_some()
    }

    pub fn elections_sent(&self) -> u64 {
        self.elections_sent
    }

    /// As domain master: the local masters that announced themselves.
    pub fn local_masters(&self) -> impl Iterator<Item = (&str, Ipv4Addr)> {
        self.local_masters
            .iter()
            .map(|p| (p.name.as_str(), p.address))
    }

    /// As local master: our domain master, when found.
    pub fn domain_master(&self) -> Option<(&str, Ipv4Addr)> {
        self.domain_master.as_ref().map(|(n, a)| (n.as_str(), *a))
    }

    fn workgroup(&self, sfx: u8) -> NbName {
        // The workgroup was checked when the config was loaded; a name that
        // does not fit NetBIOS is cut rather than stopping the browser.
        NbName::new(&self.cfg.workgroup, sfx)
            .or_else(|_| NbName::new(&self.cfg.workgroup[..15.min(self.cfg.workgroup.len())], sfx))
            .unwrap_or_else(|_| NbName::any().with_suffix(sfx))
    }

    /// Our criteria now.
    pub fn criteria(&self) -> u32 {
        criteria(CriteriaInputs {
            os_level: self.cfg.os_level,
            domain_master: self.cfg.domain_master,
            preferred_master: self.cfg.preferred_master,
            wins_server: self.cfg.wins_server,
            running_master: self.role == Role::LocalMaster,
            won_before: self.won_before,
        })
    }

    fn uptime_ms(&self, now: Instant) -> u32 {
        // Wraps after 49 days, as Samba's does on the wire.
        now.saturating_duration_since(self.start).as_millis() as u32
    }

    fn our_election(&self, now: Instant) -> Election {
        Election {
            version: ELECTION_VERSION,
            criteria: self.criteria(),
            uptime_ms: self.uptime_ms(now),
            server_name: self.cfg.netbios_name.clone(),
        }
    }

    /// The server type we announce.
    pub fn server_type(&self) -> u32 {
        let mut t = self.cfg.server_type;
        if self.role == Role::LocalMaster {
            // Samba drops "potential" while it is the master.
            t |= sv_type::MASTER_BROWSER;
            if self.domain_master_now {
                t |= sv_type::DOMAIN_MASTER;
            }
        } else if self.cfg.local_master {
            t |= sv_type::POTENTIAL_BROWSER;
        }
        t
    }

    /// When the engine next needs a Tick.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let mut t = self.next_announce;
        if let Some(r) = &self.election {
            t = t.min(r.last.map_or(self.start, |l| l + ELECTION_INTERVAL));
        }
        if self.role == Role::NotMaster && !self.query_outstanding {
            t = t.min(self.next_master_check);
        }
        if let Some(e) = self.list.next_expiry() {
            t = t.min(e);
        }
        for p in &self.local_masters {
            t = t.min(p.next_sync);
            if let Some(d) = p.dies {
                t = t.min(d);
            }
        }
        if let Some(d) = self.next_dmb_sync
            && !self.dmb_lookup_outstanding
        {
            t = t.min(d);
        }
        Some(t)
    }

    /// Feeds one input; returns what to do.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        match input {
            Input::Frame(rx) => self.frame(now, rx, &mut out),
            Input::Registered { name, ok } => self.registered(now, name, ok, &mut out),
            Input::NameLost { name } => self.name_lost(now, name, &mut out),
            Input::MasterQuery { found } => self.master_query(now, found, &mut out),
            Input::DomainMaster { found } => self.domain_master_found(found, &mut out),
            Input::Synced {
                from,
                address,
                list,
            } => self.synced(now, &from, address, list, &mut out),
            Input::ForceElection => self.start_election("forced by an operator", &mut out),
            Input::Tick => {}
            Input::Shutdown => {
                self.shutdown(now, &mut out);
                return out;
            }
        }
        self.timers(now, &mut out);
        out
    }

    /// smb.conf was reloaded: the browser settings of `cfg` apply from now
    /// on (os level, local / preferred / domain master, server string and
    /// type, master check interval, WINS bit). The identity (workgroup,
    /// name, address, seed) stays: a change there restarts the browser.
    ///
    /// New criteria count from the next election frame. `local master`
    /// turned off while we are (or are becoming) master, or are running an
    /// election: the zero-criteria election of [`Input::Shutdown`] and the
    /// browser names released, and we go on as a non-browser. `local
    /// master` and `preferred master` both on now: an election, as at
    /// start-up; `local master` alone turned on: a master check soon.
    /// `domain master` turned off: `WORKGROUP<1b>` released if we hold it;
    /// turned on while local master: `WORKGROUP<1b>` registered (the
    /// [`Stage::DomainName`] of becoming master). A new server string or
    /// type: the update count goes up and we announce at once.
    pub fn reconfigure(&mut self, now: Instant, cfg: BrowserConfig) -> Vec<Action> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        let cfg = BrowserConfig {
            workgroup: self.cfg.workgroup.clone(),
            netbios_name: self.cfg.netbios_name.clone(),
            address: self.cfg.address,
            seed: self.cfg.seed,
            ..cfg
        };
        let old = std::mem::replace(&mut self.cfg, cfg);
        if old.local_master
            && !self.cfg.local_master
            && (self.role != Role::NotMaster || self.election.is_some())
        {
            // As at shutdown, so that another takes over at once.
            self.send_election(self.zero_election(), &mut out);
            self.election = None;
            self.unbecome_master("local master = no".into(), &mut out);
        }
        let dmb = self.workgroup(suffix::DOMAIN_MASTER);
        if old.domain_master && !self.cfg.domain_master && self.held.iter().any(|(n, _)| *n == dmb)
        {
            self.held.retain(|(n, _)| *n != dmb);
            out.push(Action::Release {
                name: dmb,
                group: false,
            });
            self.domain_master_now = false;
            self.local_masters.clear();
            if self.role == Role::Becoming(Stage::DomainName) {
                // Its registration's late answer is released then.
                self.became_master(now, &mut out);
            } else if self.is_local_master() && self.cfg.wins_client {
                // Now a plain local master: find the domain master.
                self.next_dmb_sync = Some(now);
            }
        } else if !old.domain_master
            && self.cfg.domain_master
            && self.role == Role::LocalMaster
            && !self.domain_master_now
        {
            self.role = Role::Becoming(Stage::DomainName);
            self.register(dmb, false, &mut out);
        }
        let eager = |c: &BrowserConfig| c.local_master && c.preferred_master;
        if eager(&self.cfg) && !eager(&old) {
            self.start_election("preferred master (smb.conf reloaded)", &mut out);
        } else if self.cfg.local_master && !old.local_master && self.role == Role::NotMaster {
            self.next_master_check = self.next_master_check.min(now + FIRST_MASTER_CHECK);
        }
        if self.cfg.master_check_interval < old.master_check_interval {
            self.next_master_check = self
                .next_master_check
                .min(now + self.cfg.master_check_interval);
        }
        let comment = self.cfg.server_string != old.server_string;
        if comment {
            // announce() counts type changes itself.
            self.update_count = self.update_count.wrapping_add(1);
        }
        // While becoming master, the master's announcements follow.
        if (comment || self.server_type() != self.last_type)
            && !matches!(self.role, Role::Becoming(_))
        {
            self.next_announce = now;
            self.announce_interval = ANNOUNCE_MIN;
        }
        self.timers(now, &mut out);
        out
    }

    /// The browse list, with ourselves, as served to clients: empty unless
    /// we are the local master.
    pub fn servers(&self) -> Vec<ServerInfo> {
        if !self.serves_list() {
            return Vec::new();
        }
        let mut v: Vec<ServerInfo> = self
            .list
            .servers()
            .filter(|s| s.name != self.cfg.netbios_name)
            .cloned()
            .collect();
        v.push(ServerInfo {
            name: self.cfg.netbios_name.clone(),
            server_type: self.server_type(),
            comment: self.cfg.server_string.clone(),
            os_major: self.cfg.os_major,
            os_minor: self.cfg.os_minor,
            periodicity_ms: self.announce_interval.as_millis() as u32,
            address: self.cfg.address,
            synced_from: None,
        });
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Do we answer NetServerEnum2 here: as local master (we are never a
    /// backup browser, as Samba's nmbd).
    pub fn serves_list(&self) -> bool {
        self.is_local_master()
    }

    pub fn workgroups(&self) -> Vec<WorkgroupInfo> {
        self.list.workgroups().cloned().collect()
    }

    pub fn browse_list(&self) -> &BrowseList {
        &self.list
    }

    pub fn snapshot(&self, now: Instant, wall: SystemTime) -> BrowseListSnapshot {
        self.list.snapshot(now, wall)
    }

    /// Takes back a list kept across a restart.
    pub fn restore(&mut self, snap: &BrowseListSnapshot, now: Instant, wall: SystemTime) {
        self.list = BrowseList::restore(snap, now, wall);
    }

    fn log(&self, out: &mut Vec<Action>, e: Event) {
        out.push(Action::Log(e));
    }

    fn start_election(&mut self, reason: &'static str, out: &mut Vec<Action>) {
        if self.election.is_none() && self.cfg.local_master {
            self.election = Some(Running {
                sent: 0,
                last: None,
            });
            self.log(
                out,
                Event::ElectionStarted {
                    workgroup: self.cfg.workgroup.clone(),
                    address: self.cfg.address,
                    reason,
                },
            );
        }
    }

    fn send_election(&mut self, e: Election, out: &mut Vec<Action>) {
        self.elections_sent += 1;
        out.push(Action::Send {
            to: self.workgroup(suffix::BROWSER_ELECTION),
            delivery: Delivery::Broadcast,
            frame: BrowseFrame::RequestElection(e),
        });
    }

    fn frame(&mut self, now: Instant, rx: Received, out: &mut Vec<Action>) {
        if rx.source.name() == self.cfg.netbios_name.as_bytes() {
            return;
        }
        let our_wg = rx.destination.name() == self.cfg.workgroup.as_bytes();
        match rx.frame {
            BrowseFrame::RequestElection(theirs) if our_wg => {
                self.process_election(now, &theirs, out)
            }
            BrowseFrame::HostAnnouncement(a) if our_wg && self.is_local_master() => {
                self.list.host_announcement(now, &a, rx.source_ip);
            }
            BrowseFrame::LocalMasterAnnouncement(a)
                if our_wg && self.role != Role::NotMaster && a.server_type != 0 =>
            {
                // Samba steps down and forces an election here, which
                // makes two masters flap. We stay master and call an
                // election: it decides, and we only lose it to a host
                // that beats us.
                self.log(
                    out,
                    Event::OtherMaster {
                        workgroup: self.cfg.workgroup.clone(),
                        address: self.cfg.address,
                        other: a.server_name.clone(),
                        other_ip: rx.source_ip,
                    },
                );
                self.start_election("another local master announced itself", out);
            }
            BrowseFrame::MasterAnnouncement { master } if self.is_domain_master() => {
                self.master_announcement(now, master, rx.source_ip, out)
            }
            BrowseFrame::BecomeBackup { browser }
                if our_wg && browser.eq_ignore_ascii_case(&self.cfg.netbios_name) =>
            {
                // As Samba's nmbd: we never become a backup browser. One
                // must answer NetServerEnum2 itself, and clients that pick
                // us from the master's backup list would then fail.
                self.log(
                    out,
                    Event::BecomeBackupIgnored {
                        workgroup: self.cfg.workgroup.clone(),
                        master: rx.source.name_str(),
                        browser,
                    },
                );
            }
            BrowseFrame::DomainAnnouncement(a) if rx.destination == NbName::msbrowse() => {
                self.list.domain_announcement(now, &a, rx.source_ip);
            }
            BrowseFrame::AnnouncementRequest { .. } if our_wg => {
                // Answer with our regular announcement after a random delay
                // so a segment of hosts does not answer at once.
                let jitter = Duration::from_millis(self.random() % ANNOUNCE_REPLY_JITTER_MS);
                self.next_announce = self.next_announce.min(now + jitter);
            }
            BrowseFrame::GetBackupListRequest { count, token }
                if our_wg && self.is_local_master() =>
            {
                let mut servers = vec![self.cfg.netbios_name.clone()];
                servers.extend(
                    self.list
                        .servers()
                        .filter(|s| s.server_type & sv_type::BACKUP_BROWSER != 0)
                        .filter(|s| s.name != self.cfg.netbios_name)
                        .map(|s| s.name.clone()),
                );
                servers.truncate(usize::from(count.max(1)));
                out.push(Action::Send {
                    to: rx.source.clone(),
                    delivery: Delivery::Unicast(rx.source_ip),
                    frame: BrowseFrame::GetBackupListResponse { token, servers },
                });
            }
            BrowseFrame::ResetStateRequest { options } => {
                if options & reset::CLEAR_ALL != 0 {
                    self.list.clear();
                }
                if options & (reset::STOP_MASTER | reset::STOP) != 0 && self.role != Role::NotMaster
                {
                    self.unbecome_master(
                        format!(
                            "reset requested by {} ({})",
                            rx.source.name_str(),
                            rx.source_ip
                        ),
                        out,
                    );
                    self.election = None;
                }
            }
            _ => {}
        }
    }

    /// nameelect.doc `process_election`.
    fn process_election(&mut self, now: Instant, theirs: &Election, out: &mut Vec<Action>) {
        let ours = self.our_election(now);
        if we_win(self.cfg.local_master, &ours, theirs) {
            // We take precedence: join (or keep running) the election. A
            // running one is not restarted, so its count goes on.
            self.start_election("heard an election we would win", out);
        } else {
            let was_running = self.election.take().is_some();
            if self.role != Role::NotMaster {
                self.unbecome_master(format!("lost an election to {}", theirs.server_name), out);
            } else if was_running {
                self.log(
                    out,
                    Event::ElectionLost {
                        workgroup: self.cfg.workgroup.clone(),
                        address: self.cfg.address,
                        winner: theirs.server_name.clone(),
                    },
                );
            }
            // Someone is taking care of it: check again later.
            self.next_master_check = now + self.cfg.master_check_interval;
        }
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        // Elections: one frame per interval; victory with the last of
        // ELECTION_FRAMES uncontested frames (as Samba: about 8 s).
        if let Some(mut r) = self.election
            && r.last.is_none_or(|l| now >= l + ELECTION_INTERVAL)
        {
            let e = self.our_election(now);
            self.send_election(e, out);
            r.sent += 1;
            r.last = Some(now);
            if r.sent >= ELECTION_FRAMES {
                self.election = None;
                self.won(out);
            } else {
                self.election = Some(r);
            }
        }
        // check_master_browser: is anyone answering for WORKGROUP<1d>?
        if self.role == Role::NotMaster
            && self.election.is_none()
            && !self.query_outstanding
            && now >= self.next_master_check
        {
            self.query_outstanding = true;
            out.push(Action::Query {
                name: self.workgroup(suffix::MASTER_BROWSER),
            });
        }
        self.list.expire(now);
        self.sync_timers(now, out);
        if now >= self.next_announce {
            self.announce(now, out);
        }
    }

    /// Syncs that are due: as domain master with each local master, as
    /// local master with the domain master.
    fn sync_timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.local_masters
            .retain(|p| p.dies.is_none_or(|d| d > now));
        for p in &mut self.local_masters {
            if now >= p.next_sync {
                p.next_sync = now + SYNC_INTERVAL;
                out.push(Action::Sync {
                    server: p.name.clone(),
                    address: p.address,
                    local_only: true,
                });
            }
        }
        if let Some(t) = self.next_dmb_sync
            && now >= t
            && !self.dmb_lookup_outstanding
        {
            self.dmb_lookup_outstanding = true;
            self.next_dmb_sync = Some(now + SYNC_INTERVAL);
            out.push(Action::FindDomainMaster {
                name: self.workgroup(suffix::DOMAIN_MASTER),
            });
        }
    }

    /// nmbd_incomingdgrams.c process_master_browser_announce.
    fn master_announcement(
        &mut self,
        now: Instant,
        master: String,
        ip: Ipv4Addr,
        out: &mut Vec<Action>,
    ) {
        let master = master.to_ascii_uppercase();
        if master == self.cfg.netbios_name || ip == self.cfg.address {
            return;
        }
        // One local master per name and per address: a host that
        // announces itself under many names is synced with once.
        if let Some(p) = self
            .local_masters
            .iter_mut()
            .find(|p| p.name == master || p.address == ip)
        {
            p.name = master;
            p.address = ip;
            p.dies = Some(now + LMB_LIFETIME);
            return;
        }
        if self.local_masters.len() >= MAX_LMBS {
            return;
        }
        self.log(
            out,
            Event::LocalMasterAnnounced {
                workgroup: self.cfg.workgroup.clone(),
                master: master.clone(),
                master_ip: ip,
            },
        );
        self.local_masters.push(Peer {
            name: master,
            address: ip,
            next_sync: now + LMB_FIRST_SYNC,
            dies: Some(now + LMB_LIFETIME),
        });
    }

    /// The domain master found (nmbd_browsesync.c
    /// domain_master_node_status_success): announce ourselves to it as a
    /// local master and pull its whole list.
    fn domain_master_found(&mut self, found: Option<(String, Ipv4Addr)>, out: &mut Vec<Action>) {
        if !self.dmb_lookup_outstanding {
            return;
        }
        self.dmb_lookup_outstanding = false;
        if !self.is_local_master() || self.is_domain_master() {
            return;
        }
        let Some((name, ip)) = found.filter(|(n, ip)| {
            *ip != self.cfg.address && !n.eq_ignore_ascii_case(&self.cfg.netbios_name)
        }) else {
            if self.domain_master.take().is_some() || self.next_dmb_sync.is_some() {
                self.log(
                    out,
                    Event::NoDomainMaster {
                        workgroup: self.cfg.workgroup.clone(),
                    },
                );
            }
            return;
        };
        let name = name.to_ascii_uppercase();
        if self.domain_master.as_ref() != Some(&(name.clone(), ip)) {
            self.log(
                out,
                Event::DomainMasterFound {
                    workgroup: self.cfg.workgroup.clone(),
                    master: name.clone(),
                    master_ip: ip,
                },
            );
        }
        self.domain_master = Some((name.clone(), ip));
        out.push(Action::Send {
            to: NbName::new(&name, suffix::WORKSTATION).unwrap_or_else(|_| NbName::any()),
            delivery: Delivery::Unicast(ip),
            frame: BrowseFrame::MasterAnnouncement {
                master: self.cfg.netbios_name.clone(),
            },
        });
        out.push(Action::Sync {
            server: name,
            address: ip,
            local_only: false,
        });
    }

    /// A list pulled from another browser: merged if we still want it.
    fn synced(
        &mut self,
        now: Instant,
        from: &str,
        address: Ipv4Addr,
        list: Option<SyncedList>,
        out: &mut Vec<Action>,
    ) {
        let Some(list) = list else {
            return;
        };
        let wanted = (self.is_domain_master() && self.local_masters.iter().any(|p| p.name == from))
            || (self.is_local_master()
                && self.domain_master.as_ref().is_some_and(|(n, _)| n == from));
        if !wanted {
            return;
        }
        let (servers, workgroups) = self.list.merge_synced(
            now,
            (from, address),
            &list,
            (&self.cfg.netbios_name, &self.cfg.workgroup),
            SYNC_INTERVAL,
        );
        self.log(
            out,
            Event::Synced {
                workgroup: self.cfg.workgroup.clone(),
                from: from.to_string(),
                from_ip: address,
                servers,
                workgroups,
            },
        );
    }

    fn announcement(&self, server_type: u32, periodicity: Duration) -> Announcement {
        Announcement {
            update_count: self.update_count,
            periodicity_ms: periodicity.as_millis() as u32,
            server_name: self.cfg.netbios_name.clone(),
            os_major: self.cfg.os_major,
            os_minor: self.cfg.os_minor,
            server_type,
            browser_major: 15,
            browser_minor: 1,
            signature: 0xaa55,
            comment: self.cfg.server_string.clone(),
        }
    }

    fn domain_announcement(&self, periodicity: Duration) -> Announcement {
        Announcement {
            update_count: self.update_count,
            periodicity_ms: periodicity.as_millis() as u32,
            server_name: self.cfg.workgroup.clone(),
            os_major: self.cfg.os_major,
            os_minor: self.cfg.os_minor,
            server_type: sv_type::DOMAIN_ENUM | sv_type::NT,
            browser_major: 15,
            browser_minor: 1,
            signature: 0xaa55,
            comment: self.cfg.netbios_name.clone(),
        }
    }

    /// Host announcement (or, as master, LocalMaster + Domain
    /// announcements), then the next one on the 1..12 minute schedule.
    fn announce(&mut self, now: Instant, out: &mut Vec<Action>) {
        let t = self.server_type();
        if t != self.last_type {
            self.update_count = self.update_count.wrapping_add(1);
            self.last_type = t;
        }
        let period = self.announce_interval;
        if self.is_local_master() {
            out.push(Action::Send {
                to: self.workgroup(suffix::BROWSER_ELECTION),
                delivery: Delivery::Broadcast,
                frame: BrowseFrame::LocalMasterAnnouncement(self.announcement(t, period)),
            });
            out.push(Action::Send {
                to: NbName::msbrowse(),
                delivery: Delivery::Broadcast,
                frame: BrowseFrame::DomainAnnouncement(self.domain_announcement(period)),
            });
        } else {
            out.push(Action::Send {
                to: self.workgroup(suffix::MASTER_BROWSER),
                delivery: Delivery::Broadcast,
                frame: BrowseFrame::HostAnnouncement(self.announcement(t, period)),
            });
        }
        self.next_announce = now + period;
        self.announce_interval = (self.announce_interval + ANNOUNCE_STEP).min(ANNOUNCE_MAX);
    }

    /// run_elections declared victory: stage 1.
    fn won(&mut self, out: &mut Vec<Action>) {
        if self.role != Role::NotMaster {
            // Already master (or on the way): the election only reasserted it.
            return;
        }
        self.log(
            out,
            Event::ElectionWon {
                workgroup: self.cfg.workgroup.clone(),
                address: self.cfg.address,
            },
        );
        self.role = Role::Becoming(Stage::MsBrowse);
        self.register(NbName::msbrowse(), true, out);
    }

    fn register(&mut self, name: NbName, group: bool, out: &mut Vec<Action>) {
        self.held.push((name.clone(), group));
        out.push(Action::Register { name, group });
    }

    fn registered(&mut self, now: Instant, name: NbName, ok: bool, out: &mut Vec<Action>) {
        let expected = match self.role {
            Role::Becoming(Stage::MsBrowse) => Some(NbName::msbrowse()),
            Role::Becoming(Stage::MasterName) => Some(self.workgroup(suffix::MASTER_BROWSER)),
            Role::Becoming(Stage::DomainName) => Some(self.workgroup(suffix::DOMAIN_MASTER)),
            _ => None,
        };
        if expected.as_ref() != Some(&name) {
            // A late answer for a name we gave up on: let it go.
            if ok && !self.held.iter().any(|(n, _)| *n == name) {
                let group = name == NbName::msbrowse();
                out.push(Action::Release { name, group });
            }
            return;
        }
        if !ok {
            self.held.retain(|(n, _)| *n != name);
            self.log(
                out,
                Event::RegistrationRefused {
                    name: format!("{}<{:02x}>", name.name_str(), name.suffix()),
                    address: self.cfg.address,
                },
            );
            if matches!(self.role, Role::Becoming(Stage::DomainName)) {
                // Another host is domain master: we stay local master.
                self.domain_master_now = false;
                self.became_master(now, out);
            } else {
                self.unbecome_master(format!("registration of {} refused", name.name_str()), out);
            }
            return;
        }
        match self.role {
            Role::Becoming(Stage::MsBrowse) => {
                self.role = Role::Becoming(Stage::MasterName);
                self.register(self.workgroup(suffix::MASTER_BROWSER), false, out);
            }
            Role::Becoming(Stage::MasterName) if self.cfg.domain_master => {
                self.role = Role::Becoming(Stage::DomainName);
                self.register(self.workgroup(suffix::DOMAIN_MASTER), false, out);
            }
            Role::Becoming(Stage::MasterName) => self.became_master(now, out),
            Role::Becoming(Stage::DomainName) => {
                self.domain_master_now = true;
                self.became_master(now, out);
                self.log(
                    out,
                    Event::DomainMaster {
                        workgroup: self.cfg.workgroup.clone(),
                        address: self.cfg.address,
                    },
                );
            }
            _ => {}
        }
    }

    fn became_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.role = Role::LocalMaster;
        self.won_before = true;
        // nmbd_become_lmb.c reset_announce_timer: announce to the domain
        // master (found through WINS) at once.
        self.next_dmb_sync = (self.cfg.wins_client && !self.domain_master_now).then_some(now);
        if self.domain_master_now {
            self.domain_master = None;
        }
        self.log(
            out,
            Event::LocalMaster {
                workgroup: self.cfg.workgroup.clone(),
                address: self.cfg.address,
            },
        );
        if self.list.servers().count() < FEW_SERVERS {
            out.push(Action::Send {
                to: self.workgroup(suffix::BROWSER_ELECTION),
                delivery: Delivery::Broadcast,
                frame: BrowseFrame::AnnouncementRequest {
                    reserved: 0,
                    response_name: self.cfg.netbios_name.clone(),
                },
            });
        }
        // LocalMaster and Domain announcements at once.
        self.announce(now, out);
    }

    /// nameelect.doc `become_nonmaster`: release the browser names.
    fn unbecome_master(&mut self, reason: String, out: &mut Vec<Action>) {
        for (name, group) in self.held.drain(..).rev() {
            out.push(Action::Release { name, group });
        }
        let was = self.role;
        self.role = Role::NotMaster;
        self.domain_master_now = false;
        self.local_masters.clear();
        self.next_dmb_sync = None;
        self.domain_master = None;
        if was != Role::NotMaster {
            self.log(
                out,
                Event::NoLongerMaster {
                    workgroup: self.cfg.workgroup.clone(),
                    address: self.cfg.address,
                    reason,
                },
            );
        }
    }

    fn name_lost(&mut self, now: Instant, name: NbName, out: &mut Vec<Action>) {
        if !self.held.iter().any(|(n, _)| *n == name) {
            return;
        }
        if name.suffix() == suffix::DOMAIN_MASTER && self.is_local_master() {
            self.held.retain(|(n, _)| *n != name);
            self.domain_master_now = false;
            self.local_masters.clear();
            // Another host is domain master now: find it.
            if self.cfg.wins_client {
                self.next_dmb_sync = Some(now);
            }
            return;
        }
        self.held.retain(|(n, _)| *n != name);
        self.unbecome_master(format!("lost the name {}", name.name_str()), out);
    }

    /// browser_gone: nobody answered for WORKGROUP<1d>.
    fn master_query(&mut self, now: Instant, found: Option<Ipv4Addr>, out: &mut Vec<Action>) {
        if !self.query_outstanding {
            return;
        }
        self.query_outstanding = false;
        self.next_master_check = now + self.cfg.master_check_interval;
        if found.is_some() || self.role != Role::NotMaster {
            return;
        }
        self.log(
            out,
            Event::MasterGone {
                workgroup: self.cfg.workgroup.clone(),
                address: self.cfg.address,
            },
        );
        if self.cfg.local_master {
            self.start_election("no master browser answers", out);
        } else {
            // We may not win, but the others should elect someone: a frame
            // with version, criteria and uptime 0 makes every potential
            // browser start an election without us taking part.
            self.send_election(self.zero_election(), out);
        }
    }

    fn zero_election(&self) -> Election {
        Election {
            version: 0,
            criteria: 0,
            uptime_ms: 0,
            server_name: self.cfg.netbios_name.clone(),
        }
    }

    /// Going down: as master, a RequestElection with version, criteria
    /// and uptime 0 (MS-BRWS 3.3.7; nmbd.c sig_term) so another takes over
    /// at once, and the names released; a goodbye announcement (type 0,
    /// periodicity 0) so masters drop us from their lists.
    fn shutdown(&mut self, _now: Instant, out: &mut Vec<Action>) {
        self.update_count = self.update_count.wrapping_add(1);
        if self.role != Role::NotMaster {
            self.send_election(self.zero_election(), out);
            self.unbecome_master("shutting down".into(), out);
        } else {
            out.push(Action::Send {
                to: self.workgroup(suffix::MASTER_BROWSER),
                delivery: Delivery::Broadcast,
                frame: BrowseFrame::HostAnnouncement(self.announcement(0, Duration::ZERO)),
            });
        }
        self.election = None;
        self.stopped = true;
    }

    /// xorshift64: deterministic per seed, enough for reply jitter.
    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

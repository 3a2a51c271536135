//! Several engines on a simulated broadcast segment: a name service that
//! grants a unique name unless another live host (or a foreign owner)
//! holds it, datagrams delivered to every other live host through the
//! real codec, time advanced in 100 ms steps.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use common::netbios::{NbName, suffix};

use super::*;
use crate::wire::browse::BrowseFrame;

const STEP: Duration = Duration::from_millis(100);

struct Host {
    b: Browser,
    alive: bool,
    inbox: Vec<Input>,
}

struct Net {
    hosts: Vec<Host>,
    now: Instant,
    /// Unique names: owner index (usize::MAX for a foreign owner).
    unique: HashMap<NbName, usize>,
    election_frames: usize,
    logs: Vec<(usize, Event)>,
    sent: Vec<(usize, NbName, BrowseFrame)>,
    /// FindDomainMaster and Sync actions, with the time they came.
    syncs: Vec<(usize, Instant, Action)>,
}

fn cfg(name: &str, i: u8, os_level: u8) -> BrowserConfig {
    BrowserConfig {
        workgroup: "TESTGRP".into(),
        netbios_name: name.into(),
        server_string: format!("server {name}"),
        address: Ipv4Addr::new(10, 99, 0, i),
        os_level,
        local_master: true,
        preferred_master: false,
        domain_master: false,
        wins_server: false,
        wins_client: false,
        server_type: DEFAULT_SERVER_TYPE,
        os_major: 6,
        os_minor: 1,
        seed: u64::from(i) * 0x9e37_79b9,
        master_check_interval: MASTER_CHECK_INTERVAL,
    }
}

impl Net {
    fn new() -> Net {
        Net {
            hosts: Vec::new(),
            now: Instant::now(),
            unique: HashMap::new(),
            election_frames: 0,
            logs: Vec::new(),
            sent: Vec::new(),
            syncs: Vec::new(),
        }
    }

    fn add(&mut self, c: BrowserConfig) -> usize {
        self.hosts.push(Host {
            b: Browser::new(c, self.now),
            alive: true,
            inbox: Vec::new(),
        });
        self.hosts.len() - 1
    }

    fn ip(&self, i: usize) -> Ipv4Addr {
        self.hosts[i].b.config().address
    }

    fn step(&mut self) {
        self.now += STEP;
        for i in 0..self.hosts.len() {
            if !self.hosts[i].alive {
                continue;
            }
            let mut inputs = std::mem::take(&mut self.hosts[i].inbox);
            inputs.push(Input::Tick);
            for input in inputs {
                let actions = self.hosts[i].b.handle(self.now, input);
                self.apply(i, actions);
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    fn input(&mut self, i: usize, input: Input) {
        let actions = self.hosts[i].b.handle(self.now, input);
        self.apply(i, actions);
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send {
                    to,
                    delivery,
                    frame,
                } => {
                    if matches!(frame, BrowseFrame::RequestElection(_)) {
                        self.election_frames += 1;
                    }
                    self.sent.push((i, to.clone(), frame.clone()));
                    // Through the codec, as on the wire.
                    let frame = BrowseFrame::parse(&frame.to_vec()).unwrap();
                    let rx = Received {
                        source: NbName::new(&self.hosts[i].b.config().netbios_name, 0).unwrap(),
                        source_ip: self.ip(i),
                        destination: to,
                        frame,
                    };
                    for j in 0..self.hosts.len() {
                        let hit = match delivery {
                            Delivery::Broadcast => j != i,
                            Delivery::Unicast(ip) => self.ip(j) == ip,
                        };
                        if hit && self.hosts[j].alive {
                            self.hosts[j].inbox.push(Input::Frame(rx.clone()));
                        }
                    }
                }
                Action::Register { name, group } => {
                    let ok = group
                        || match self.unique.get(&name) {
                            Some(&o) if o == usize::MAX => false,
                            Some(&o) if o != i && self.hosts[o].alive => false,
                            _ => true,
                        };
                    if ok && !group {
                        self.unique.insert(name.clone(), i);
                    }
                    self.hosts[i].inbox.push(Input::Registered { name, ok });
                }
                Action::Release { name, .. } => {
                    if self.unique.get(&name) == Some(&i) {
                        self.unique.remove(&name);
                    }
                }
                Action::Query { name } => {
                    let found = match self.unique.get(&name) {
                        Some(&o) if o != usize::MAX && o != i && self.hosts[o].alive => {
                            Some(self.ip(o))
                        }
                        _ => None,
                    };
                    self.hosts[i].inbox.push(Input::MasterQuery { found });
                }
                a @ (Action::FindDomainMaster { .. } | Action::Sync { .. }) => {
                    self.syncs.push((i, self.now, a))
                }
                Action::Log(e) => self.logs.push((i, e)),
            }
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&i| self.hosts[i].alive && self.hosts[i].b.is_local_master())
            .collect()
    }

    fn holder_1d(&self) -> Option<usize> {
        self.unique
            .get(&NbName::new("TESTGRP", suffix::MASTER_BROWSER).unwrap())
            .copied()
    }

    fn kill(&mut self, i: usize) {
        self.hosts[i].alive = false;
    }
}

#[test]
fn higher_os_level_wins_and_one_master() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    assert_eq!(net.holder_1d(), Some(b));
    assert!(!net.hosts[a].b.is_local_master());
    // The log line an operator greps for.
    let line = net
        .logs
        .iter()
        .find(|(i, e)| *i == b && matches!(e, Event::LocalMaster { .. }))
        .map(|(_, e)| e.to_string())
        .unwrap();
    assert_eq!(line, "now local master browser for TESTGRP on 10.99.0.2");
    // Stable: nothing changes for an hour, no more elections.
    let frames = net.election_frames;
    net.run(Duration::from_secs(3600));
    assert_eq!(net.masters(), vec![b]);
    assert_eq!(net.election_frames, frames);
    // The master's list has the other host, with its announced type.
    let servers = net.hosts[b].b.servers();
    let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["HOSTA", "HOSTB"]);
    assert_ne!(servers[1].server_type & sv_type::MASTER_BROWSER, 0);
    assert_ne!(servers[0].server_type & sv_type::POTENTIAL_BROWSER, 0);
}

#[test]
fn preferred_master_forces_an_election() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 20));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    // Same os level, but preferred: it calls an election when it starts
    // and wins on the preferred-master bit, though A has won before.
    let mut c = cfg("HOSTB", 2, 20);
    c.preferred_master = true;
    let b = net.add(c);
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    assert_eq!(net.holder_1d(), Some(b));
    assert!(net.logs.iter().any(|(i, e)| *i == a
        && matches!(e, Event::NoLongerMaster { reason, .. } if reason.contains("HOSTB"))));
}

#[test]
fn graceful_master_shutdown_hands_over_quickly() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    net.input(b, Input::Shutdown);
    // The zero-criteria election went out and the names were released.
    let (_, to, last) = net.sent.last().unwrap();
    assert_eq!(to.suffix(), suffix::BROWSER_ELECTION);
    assert_eq!(
        *last,
        BrowseFrame::RequestElection(Election {
            version: 0,
            criteria: 0,
            uptime_ms: 0,
            server_name: "HOSTB".into()
        })
    );
    assert_eq!(net.holder_1d(), None);
    net.kill(b);
    net.run(Duration::from_secs(15));
    assert_eq!(net.masters(), vec![a]);
}

#[test]
fn vanished_master_is_noticed_and_replaced() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    net.kill(b);
    // Within one check interval plus an election.
    net.run(MASTER_CHECK_INTERVAL + Duration::from_secs(20));
    assert_eq!(net.masters(), vec![a]);
    assert!(
        net.logs
            .iter()
            .any(|(i, e)| *i == a && matches!(e, Event::MasterGone { .. }))
    );
}

#[test]
fn local_master_no_never_wins() {
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 255);
    c.local_master = false;
    c.preferred_master = true;
    let a = net.add(c);
    net.run(Duration::from_secs(600));
    assert!(net.masters().is_empty());
    assert_eq!(net.hosts[a].b.server_type() & sv_type::POTENTIAL_BROWSER, 0);
    // It never sent a real election frame, only zero ones to wake others.
    assert!(net.sent.iter().all(|(_, _, f)| !matches!(
        f,
        BrowseFrame::RequestElection(e) if e.criteria != 0
    )));
    let b = net.add(cfg("HOSTB", 2, 1));
    net.run(Duration::from_secs(600));
    assert_eq!(net.masters(), vec![b]);
}

#[test]
fn several_preferred_masters_do_not_storm() {
    let mut net = Net::new();
    for i in 1..=4u8 {
        let mut c = cfg(&format!("HOST{i}"), i, 30);
        c.preferred_master = true;
        c.domain_master = i == 2;
        net.add(c);
    }
    net.run(Duration::from_secs(60));
    // HOST2 has the domain master bit.
    assert_eq!(net.masters(), vec![1]);
    assert!(net.hosts[1].b.is_domain_master());
    // Each starts with one frame; only the winner goes on.
    assert!(
        net.election_frames <= 4 + 5,
        "{} frames",
        net.election_frames
    );
    let frames = net.election_frames;
    net.run(Duration::from_secs(2 * 3600));
    assert_eq!(net.masters(), vec![1]);
    assert_eq!(net.election_frames, frames);
}

#[test]
fn refused_master_name_rolls_back() {
    let mut net = Net::new();
    // Someone (not an engine) holds TESTGRP<1d> and defends it.
    net.unique.insert(
        NbName::new("TESTGRP", suffix::MASTER_BROWSER).unwrap(),
        usize::MAX,
    );
    let a = net.add(cfg("HOSTA", 1, 21));
    net.run(Duration::from_secs(30));
    assert!(net.masters().is_empty());
    assert_eq!(net.hosts[a].b.role(), Role::NotMaster);
    // __MSBROWSE__ was registered, then released again.
    let released = net.logs.iter().any(
        |(_, e)| matches!(e, Event::RegistrationRefused { name, .. } if name == "TESTGRP<1d>"),
    );
    assert!(released);
    assert!(net.hosts[a].b.servers().is_empty());
}

#[test]
fn stray_local_master_announcement_does_not_flap() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 30));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    let before = net.election_frames;
    // A weaker host that believes it is master says so.
    let ann = BrowseFrame::LocalMasterAnnouncement(net.hosts[a].b.announcement(
        DEFAULT_SERVER_TYPE | sv_type::MASTER_BROWSER,
        Duration::from_secs(60),
    ));
    let BrowseFrame::LocalMasterAnnouncement(mut ann) = ann else {
        unreachable!()
    };
    ann.server_name = "STRAY".into();
    net.input(
        a,
        Input::Frame(Received {
            source: NbName::new("STRAY", 0).unwrap(),
            source_ip: Ipv4Addr::new(10, 99, 0, 9),
            destination: NbName::new("TESTGRP", suffix::BROWSER_ELECTION).unwrap(),
            frame: BrowseFrame::LocalMasterAnnouncement(ann),
        }),
    );
    // Still master the whole time; it reasserted with an election.
    for _ in 0..200 {
        net.step();
        assert_eq!(net.masters(), vec![a]);
    }
    assert_eq!(net.holder_1d(), Some(a));
    assert_eq!(net.election_frames - before, usize::from(ELECTION_FRAMES));
}

#[test]
fn reset_state_request_and_lost_name() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 30));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    net.input(
        a,
        Input::Frame(Received {
            source: NbName::new("ADMIN", 0).unwrap(),
            source_ip: Ipv4Addr::new(10, 99, 0, 9),
            destination: NbName::new("HOSTA", 0).unwrap(),
            frame: BrowseFrame::ResetStateRequest { options: 1 },
        }),
    );
    assert!(net.masters().is_empty());
    assert_eq!(net.holder_1d(), None);
    // Alone, it becomes master again at the next check.
    net.run(MASTER_CHECK_INTERVAL + Duration::from_secs(20));
    assert_eq!(net.masters(), vec![a]);
    net.input(
        a,
        Input::NameLost {
            name: NbName::new("TESTGRP", suffix::MASTER_BROWSER).unwrap(),
        },
    );
    assert!(net.masters().is_empty());
}

#[test]
fn browse_list_backup_list_and_expiry() {
    let mut net = Net::new();
    let _a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(120));
    assert_eq!(net.masters(), vec![b]);
    // A client asks the master for backup browsers.
    let client = Ipv4Addr::new(10, 99, 0, 50);
    let actions = net.hosts[b].b.handle(
        net.now,
        Input::Frame(Received {
            source: NbName::new("CLIENT", 0).unwrap(),
            source_ip: client,
            destination: NbName::new("TESTGRP", suffix::MASTER_BROWSER).unwrap(),
            frame: BrowseFrame::GetBackupListRequest {
                count: 4,
                token: 77,
            },
        }),
    );
    assert!(actions.contains(&Action::Send {
        to: NbName::new("CLIENT", 0).unwrap(),
        delivery: Delivery::Unicast(client),
        frame: BrowseFrame::GetBackupListResponse {
            token: 77,
            servers: vec!["HOSTB".into()]
        }
    }));
    // The workgroup list has our own workgroup from our own
    // DomainAnnouncement as received by the other host only; the master
    // keeps what others announce. Serialize, restore, compare.
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let snap = net.hosts[b].b.snapshot(net.now, wall);
    let bytes = common::codec::encode(&snap).unwrap();
    let back: BrowseListSnapshot = common::codec::decode(&bytes).unwrap();
    assert_eq!(back, snap);
    assert_eq!(snap.servers.len(), 1);
    let mut fresh = Browser::new(cfg("HOSTB", 2, 22), net.now);
    fresh.restore(&back, net.now, wall + Duration::from_secs(10));
    assert_eq!(fresh.browse_list().servers().count(), 1);
    // HOSTA goes away silently: gone after 3 x its periodicity.
    net.kill(0);
    net.run(Duration::from_secs(3 * 12 * 60 + 60));
    let names: Vec<_> = net.hosts[b]
        .b
        .servers()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["HOSTB"]);
}

#[test]
fn host_announcement_schedule_grows_to_twelve_minutes() {
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 21);
    c.local_master = false;
    net.add(c);
    net.run(Duration::from_secs(2 * 3600));
    let periods: Vec<u32> = net
        .sent
        .iter()
        .filter_map(|(_, _, f)| match f {
            BrowseFrame::HostAnnouncement(a) => Some(a.periodicity_ms / 1000),
            _ => None,
        })
        .collect();
    assert_eq!(&periods[..4], [60, 120, 180, 240]);
    assert!(periods.iter().all(|&p| p <= 720));
    assert_eq!(*periods.last().unwrap(), 720);
}

#[test]
fn refused_domain_master_name_keeps_local_master() {
    let mut net = Net::new();
    net.unique.insert(
        NbName::new("TESTGRP", suffix::DOMAIN_MASTER).unwrap(),
        usize::MAX,
    );
    let mut c = cfg("HOSTA", 1, 21);
    c.domain_master = true;
    let a = net.add(c);
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    assert!(!net.hosts[a].b.is_domain_master());
}

#[test]
fn forced_election_reasserts_the_master() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    // Forced on the loser: it starts one, hears the master's and drops out.
    let frames = net.election_frames;
    net.input(a, Input::ForceElection);
    assert!(net.hosts[a].b.election_running());
    net.run(Duration::from_secs(30));
    assert!(net.election_frames > frames);
    assert_eq!(net.masters(), vec![b]);
    assert!(net.logs.iter().any(|(i, e)| *i == a
        && matches!(e, Event::ElectionStarted { reason, .. } if *reason == "forced by an operator")));
    // Forced on the master: it wins again and stays master throughout.
    net.input(b, Input::ForceElection);
    assert!(net.hosts[b].b.election_running());
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    assert!(!net.hosts[b].b.election_running());
}

#[test]
fn master_check_interval_is_configurable() {
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 21);
    c.master_check_interval = Duration::from_secs(15);
    let a = net.add(c);
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    net.kill(b);
    // Checked within 15 s, then an election (~10 s) and the names.
    net.run(Duration::from_secs(40));
    assert_eq!(net.masters(), vec![a]);
}

// smb.conf reloaded: Browser::reconfigure.

impl Net {
    /// Host `i` takes its configuration changed by `f`.
    fn reconfigure(&mut self, i: usize, f: impl FnOnce(&mut BrowserConfig)) -> Vec<Action> {
        let mut c = self.hosts[i].b.config().clone();
        f(&mut c);
        let actions = self.hosts[i].b.reconfigure(self.now, c);
        self.apply(i, actions.clone());
        actions
    }

    /// The announcements host `i` sent from `from` on in `sent`.
    fn announcements(&self, i: usize, from: usize) -> Vec<Announcement> {
        self.sent[from..]
            .iter()
            .filter(|(h, _, _)| *h == i)
            .filter_map(|(_, _, f)| match f {
                BrowseFrame::HostAnnouncement(a) | BrowseFrame::LocalMasterAnnouncement(a) => {
                    Some(a.clone())
                }
                _ => None,
            })
            .collect()
    }
}

fn is_zero_election(f: &BrowseFrame) -> bool {
    matches!(f, BrowseFrame::RequestElection(e) if e.version == 0 && e.criteria == 0 && e.uptime_ms == 0)
}

#[test]
fn reconfigured_os_level_counts_from_the_next_election() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    let frames = net.election_frames;
    let actions = net.reconfigure(a, |c| c.os_level = 30);
    // Nothing is sent for it, and the master stays until an election.
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(net.hosts[a].b.criteria() >> 24, 30);
    net.run(Duration::from_secs(60));
    assert_eq!(net.masters(), vec![b]);
    assert_eq!(net.election_frames, frames);
    // The next election carries the new criteria, and A wins it.
    let from = net.sent.len();
    net.input(a, Input::ForceElection);
    net.run(Duration::from_secs(30));
    let first = net.sent[from..]
        .iter()
        .find_map(|(h, _, f)| match f {
            BrowseFrame::RequestElection(e) if *h == a => Some(e.criteria),
            _ => None,
        })
        .unwrap();
    assert_eq!(first >> 24, 30);
    assert_eq!(net.masters(), vec![a]);
    assert_eq!(net.holder_1d(), Some(a));
}

#[test]
fn local_master_off_steps_down_as_at_shutdown_and_stays_out() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    let from = net.sent.len();
    let before = net.announcements(b, 0).last().unwrap().update_count;
    let actions = net.reconfigure(b, |c| c.local_master = false);
    // The zero-criteria election first, then the names released (the
    // master names last registered first), then a host announcement
    // without the browser bits.
    let zero = actions
        .iter()
        .position(|x| matches!(x, Action::Send { frame, .. } if is_zero_election(frame)))
        .unwrap();
    let released: Vec<(usize, String)> = actions
        .iter()
        .enumerate()
        .filter_map(|(k, x)| match x {
            Action::Release { name, .. } => Some((k, name.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(released.len(), 2, "{actions:?}");
    assert!(released.iter().all(|(k, _)| *k > zero));
    assert_eq!(net.holder_1d(), None);
    assert_eq!(net.hosts[b].b.role(), Role::NotMaster);
    assert!(net.logs.iter().any(|(i, e)| *i == b
        && matches!(e, Event::NoLongerMaster { reason, .. } if reason == "local master = no")));
    let ann = net.announcements(b, from);
    assert_eq!(ann.len(), 1, "{actions:?}");
    assert_eq!(ann[0].server_type, DEFAULT_SERVER_TYPE);
    assert_ne!(ann[0].update_count, before);
    // A takes over at once (it heard the zero election); B keeps running
    // as a non-browser and never takes part again.
    net.run(Duration::from_secs(15));
    assert_eq!(net.masters(), vec![a]);
    assert_eq!(net.holder_1d(), Some(a));
    let from = net.sent.len();
    net.run(Duration::from_secs(3600));
    assert_eq!(net.masters(), vec![a]);
    assert!(!net.announcements(b, from).is_empty());
    assert!(net.sent[from..].iter().all(
        |(h, _, f)| *h != b || !matches!(f, BrowseFrame::RequestElection(e) if e.criteria != 0)
    ));
}

#[test]
fn local_master_off_while_becoming_master_releases_what_it_asked_for() {
    let mut c = cfg("HOSTA", 1, 21);
    c.preferred_master = true;
    let mut now = Instant::now();
    let mut b = Browser::new(c.clone(), now);
    // Win the election alone; stop at the first registration.
    let mut asked = None;
    for _ in 0..200 {
        now += STEP;
        for x in b.handle(now, Input::Tick) {
            if let Action::Register { name, .. } = x {
                asked = Some(name);
            }
        }
        if asked.is_some() {
            break;
        }
    }
    let asked = asked.unwrap();
    assert_eq!(asked, NbName::msbrowse());
    assert_eq!(b.role(), Role::Becoming(Stage::MsBrowse));
    c.local_master = false;
    let actions = b.reconfigure(now, c);
    assert!(
        matches!(&actions[0], Action::Send { frame, .. } if is_zero_election(frame)),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Release {
        name: NbName::msbrowse(),
        group: true
    }));
    assert_eq!(b.role(), Role::NotMaster);
    assert!(!b.election_running());
    // The late grant is given back, and nothing goes on.
    let late = b.handle(
        now,
        Input::Registered {
            name: NbName::msbrowse(),
            ok: true,
        },
    );
    assert!(late.contains(&Action::Release {
        name: NbName::msbrowse(),
        group: true
    }));
    assert_eq!(b.role(), Role::NotMaster);
}

#[test]
fn local_and_preferred_master_on_starts_an_election_and_wins() {
    // The integration test's case: B (local master = no) is reconfigured
    // with local master, preferred master and a higher os level.
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 20));
    let mut c = cfg("HOSTB", 2, 10);
    c.local_master = false;
    let b = net.add(c);
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    net.reconfigure(b, |c| {
        c.local_master = true;
        c.preferred_master = true;
        c.os_level = 65;
    });
    assert!(net.hosts[b].b.election_running());
    assert!(net.logs.iter().any(|(i, e)| *i == b
        && matches!(e, Event::ElectionStarted { reason, .. } if reason.contains("preferred master"))));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    assert_eq!(net.holder_1d(), Some(b));
    assert!(
        net.logs
            .iter()
            .any(|(i, e)| *i == a && matches!(e, Event::NoLongerMaster { .. }))
    );
    // Preferred master on while already master: an election it wins again.
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 20));
    net.run(Duration::from_secs(30));
    net.reconfigure(a, |c| c.preferred_master = true);
    assert!(net.hosts[a].b.election_running());
    for _ in 0..300 {
        net.step();
        assert_eq!(net.masters(), vec![a]);
    }
    assert!(!net.hosts[a].b.election_running());
}

#[test]
fn local_master_on_looks_for_a_master_soon() {
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 20);
    c.local_master = false;
    let a = net.add(c);
    net.run(Duration::from_secs(60));
    assert!(net.masters().is_empty());
    // Not preferred: no election at once, but the master check comes
    // within a second (not at the 5-minute one) and finds nobody.
    net.reconfigure(a, |c| c.local_master = true);
    assert!(!net.hosts[a].b.election_running());
    assert_ne!(net.hosts[a].b.server_type() & sv_type::POTENTIAL_BROWSER, 0);
    net.run(Duration::from_secs(20));
    assert_eq!(net.masters(), vec![a]);
}

#[test]
fn domain_master_off_releases_1b_and_on_registers_it() {
    let dmb = NbName::new("TESTGRP", suffix::DOMAIN_MASTER).unwrap();
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 21);
    c.domain_master = true;
    let a = net.add(c);
    net.run(Duration::from_secs(30));
    assert!(net.hosts[a].b.is_domain_master());
    assert_eq!(net.unique.get(&dmb), Some(&a));
    let from = net.sent.len();
    let actions = net.reconfigure(a, |c| c.domain_master = false);
    assert!(actions.contains(&Action::Release {
        name: dmb.clone(),
        group: false
    }));
    assert_eq!(
        actions
            .iter()
            .filter(|x| matches!(x, Action::Release { .. }))
            .count(),
        1,
        "only <1b>: {actions:?}"
    );
    assert_eq!(net.unique.get(&dmb), None);
    assert!(net.hosts[a].b.is_local_master());
    assert!(!net.hosts[a].b.is_domain_master());
    assert_eq!(net.hosts[a].b.criteria() & election::role::DOMAIN_MASTER, 0);
    // Announced at once without the domain master bit.
    let ann = net.announcements(a, from);
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].server_type & sv_type::DOMAIN_MASTER, 0);
    assert_ne!(ann[0].server_type & sv_type::MASTER_BROWSER, 0);

    // Back on: <1b> registered as when becoming master, then domain master.
    let actions = net.reconfigure(a, |c| c.domain_master = true);
    assert!(actions.contains(&Action::Register {
        name: dmb.clone(),
        group: false
    }));
    assert_eq!(net.hosts[a].b.role(), Role::Becoming(Stage::DomainName));
    net.run(Duration::from_secs(1));
    assert!(net.hosts[a].b.is_domain_master());
    assert_eq!(net.unique.get(&dmb), Some(&a));
    assert!(
        net.logs
            .iter()
            .any(|(i, e)| *i == a && matches!(e, Event::DomainMaster { .. }))
    );
    let ann = net.announcements(a, from);
    assert_ne!(ann.last().unwrap().server_type & sv_type::DOMAIN_MASTER, 0);

    // On while not master: nothing until it becomes master.
    let mut net = Net::new();
    let _a = net.add(cfg("HOSTA", 1, 30));
    let b = net.add(cfg("HOSTB", 2, 20));
    net.run(Duration::from_secs(30));
    let actions = net.reconfigure(b, |c| c.domain_master = true);
    assert!(
        !actions.iter().any(|x| matches!(x, Action::Register { .. })),
        "{actions:?}"
    );
    assert_eq!(net.unique.get(&dmb), None);
}

#[test]
fn server_string_change_is_announced_at_once() {
    let mut net = Net::new();
    let mut c = cfg("HOSTA", 1, 21);
    c.local_master = false;
    let a = net.add(c);
    net.run(Duration::from_secs(2 * 3600));
    let last = net.announcements(a, 0).last().unwrap().clone();
    assert_eq!(last.periodicity_ms, 720_000);
    let from = net.sent.len();
    net.reconfigure(a, |c| c.server_string = "new comment".into());
    let ann = net.announcements(a, from);
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].comment, "new comment");
    assert_ne!(ann[0].update_count, last.update_count);
    // The schedule starts again at one minute.
    assert_eq!(ann[0].periodicity_ms, 60_000);
    net.run(Duration::from_secs(61));
    assert_eq!(net.announcements(a, from).len(), 2);
    // Unchanged settings: nothing is sent.
    let from = net.sent.len();
    assert!(net.reconfigure(a, |_| {}).is_empty());
    assert!(net.announcements(a, from).is_empty());
}

#[test]
fn shorter_check_interval_applies_to_the_pending_check() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 21));
    let b = net.add(cfg("HOSTB", 2, 22));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![b]);
    net.reconfigure(a, |c| c.master_check_interval = Duration::from_secs(15));
    net.kill(b);
    net.run(Duration::from_secs(40));
    assert_eq!(net.masters(), vec![a]);
}

#[test]
fn reconfigure_keeps_the_identity_and_does_nothing_once_stopped() {
    let mut b = Browser::new(cfg("HOSTA", 1, 21), Instant::now());
    let mut c = cfg("OTHER", 9, 40);
    c.workgroup = "OTHERGRP".into();
    b.reconfigure(Instant::now(), c);
    assert_eq!(b.config().netbios_name, "HOSTA");
    assert_eq!(b.config().workgroup, "TESTGRP");
    assert_eq!(b.config().address, Ipv4Addr::new(10, 99, 0, 1));
    assert_eq!(b.config().os_level, 40);
    b.handle(Instant::now(), Input::Shutdown);
    let mut c = cfg("HOSTA", 1, 21);
    c.server_string = "changed".into();
    assert!(b.reconfigure(Instant::now(), c).is_empty());
}

fn entry(name: &str, server_type: u32, comment: &str) -> SyncedEntry {
    SyncedEntry {
        name: name.into(),
        server_type,
        comment: comment.into(),
        os_major: 6,
        os_minor: 1,
    }
}

fn frame_from(name: &str, ip: Ipv4Addr, to: NbName, frame: BrowseFrame) -> Input {
    Input::Frame(Received {
        source: NbName::new(name, 0).unwrap(),
        source_ip: ip,
        destination: to,
        frame,
    })
}

fn syncs_of(net: &Net, i: usize) -> Vec<Action> {
    net.syncs
        .iter()
        .filter(|(h, _, _)| *h == i)
        .map(|(_, _, a)| a.clone())
        .collect()
}

#[test]
fn domain_master_syncs_with_local_masters_that_announce() {
    let mut net = Net::new();
    let mut c = cfg("DMB", 1, 65);
    c.domain_master = true;
    let d = net.add(c);
    net.run(Duration::from_secs(30));
    assert!(net.hosts[d].b.is_domain_master());
    let lmb = Ipv4Addr::new(10, 98, 0, 1);
    let announce = || {
        frame_from(
            "REMOTE",
            lmb,
            NbName::new("DMB", 0).unwrap(),
            BrowseFrame::MasterAnnouncement {
                master: "remote".into(),
            },
        )
    };
    net.input(d, announce());
    assert!(net.logs.iter().any(|(_, e)| e.to_string()
        == "local master REMOTE (10.98.0.1) of TESTGRP announced itself; its list will be synced"));
    // Samba waits a minute so the local master has its list.
    net.run(LMB_FIRST_SYNC - Duration::from_secs(1));
    assert!(syncs_of(&net, d).is_empty());
    net.run(Duration::from_secs(2));
    let want = Action::Sync {
        server: "REMOTE".into(),
        address: lmb,
        local_only: true,
    };
    assert_eq!(syncs_of(&net, d), std::slice::from_ref(&want));
    assert_eq!(
        net.hosts[d].b.local_masters().collect::<Vec<_>>(),
        [("REMOTE", lmb)]
    );
    // Its list: its servers (and a stale copy of us, which we skip) and
    // the workgroups it knows (ours skipped: we are its master).
    let list = SyncedList {
        servers: vec![
            entry("REMOTE", 0x0004_9a03, "remote lmb"),
            entry("FAR", 0x0000_9a03, "far away"),
            entry("DMB", 0x0000_0003, "stale"),
        ],
        workgroups: vec![
            entry("TESTGRP", sv_type::DOMAIN_ENUM, "REMOTE"),
            entry("OTHERWG", sv_type::DOMAIN_ENUM | sv_type::NT, "OTHERLMB"),
        ],
    };
    net.input(
        d,
        Input::Synced {
            from: "REMOTE".into(),
            address: lmb,
            list: Some(list.clone()),
        },
    );
    let servers = net.hosts[d].b.servers();
    let far = servers.iter().find(|s| s.name == "FAR").unwrap();
    assert_eq!(far.synced_from.as_deref(), Some("REMOTE"));
    assert_eq!(far.address, lmb);
    assert_eq!(far.comment, "far away");
    let me = servers.iter().find(|s| s.name == "DMB").unwrap();
    assert_eq!(me.comment, "server DMB");
    assert_eq!(servers.len(), 3);
    let wgs = net.hosts[d].b.workgroups();
    assert_eq!(wgs.len(), 1);
    assert_eq!(
        (wgs[0].name.as_str(), wgs[0].master.as_str()),
        ("OTHERWG", "OTHERLMB")
    );
    assert!(net.logs.iter().any(|(_, e)| e.to_string()
        == "sync with REMOTE (10.98.0.1) for TESTGRP completed: 2 servers, 1 workgroups taken"));
    // Every 15 minutes while it keeps announcing itself.
    net.run(SYNC_INTERVAL - Duration::from_secs(30));
    net.input(d, announce());
    net.run(Duration::from_secs(60));
    assert_eq!(syncs_of(&net, d), [want.clone(), want.clone()]);
    // It stops announcing: one more sync falls inside its 17 minutes,
    // then it is forgotten; its entries go three sync intervals after
    // the last sync that brought them.
    net.run(LMB_LIFETIME);
    assert_eq!(net.hosts[d].b.local_masters().count(), 0);
    assert_eq!(syncs_of(&net, d).len(), 3);
    net.run(SYNC_INTERVAL * 3);
    assert_eq!(syncs_of(&net, d).len(), 3);
    assert_eq!(net.hosts[d].b.servers().len(), 1);
    // A late answer from a browser we no longer sync with is not taken.
    net.input(
        d,
        Input::Synced {
            from: "REMOTE".into(),
            address: lmb,
            list: Some(list),
        },
    );
    assert_eq!(net.hosts[d].b.servers().len(), 1);
}

#[test]
fn only_a_domain_master_takes_master_announcements() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 65));
    net.run(Duration::from_secs(30));
    assert!(net.hosts[a].b.is_local_master());
    net.input(
        a,
        frame_from(
            "REMOTE",
            Ipv4Addr::new(10, 98, 0, 1),
            NbName::new("HOSTA", 0).unwrap(),
            BrowseFrame::MasterAnnouncement {
                master: "REMOTE".into(),
            },
        ),
    );
    net.run(Duration::from_secs(120));
    assert!(net.syncs.is_empty());
    assert_eq!(net.hosts[a].b.local_masters().count(), 0);
}

#[test]
fn local_master_announces_to_its_domain_master_and_syncs() {
    let mut net = Net::new();
    let mut c = cfg("LMB", 1, 65);
    c.wins_client = true;
    let l = net.add(c);
    let other = net.add(cfg("HOSTB", 2, 1));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![l]);
    // At once after becoming master (Samba's reset_announce_timer).
    let wg1b = NbName::new("TESTGRP", suffix::DOMAIN_MASTER).unwrap();
    assert_eq!(
        syncs_of(&net, l),
        [Action::FindDomainMaster { name: wg1b.clone() }]
    );
    // Nothing more while the lookup is out.
    net.run(SYNC_INTERVAL + Duration::from_secs(1));
    assert_eq!(syncs_of(&net, l).len(), 1);
    let dmb = Ipv4Addr::new(10, 97, 0, 9);
    let sent_before = net.sent.len();
    net.input(
        l,
        Input::DomainMaster {
            found: Some(("dmb".into(), dmb)),
        },
    );
    // A MasterAnnouncement to the domain master's name, by unicast, and
    // a sync of its whole list.
    assert!(net.sent[sent_before..].iter().any(|(i, to, f)| *i == l
        && *to == NbName::new("DMB", 0).unwrap()
        && *f
            == BrowseFrame::MasterAnnouncement {
                master: "LMB".into()
            }));
    assert_eq!(
        syncs_of(&net, l)[1],
        Action::Sync {
            server: "DMB".into(),
            address: dmb,
            local_only: false,
        }
    );
    assert_eq!(net.hosts[l].b.domain_master(), Some(("DMB", dmb)));
    // HOSTB announced itself here: the domain master's copy of it does
    // not replace what we heard.
    assert!(net.hosts[l].b.servers().iter().any(|s| s.name == "HOSTB"));
    net.input(
        l,
        Input::Synced {
            from: "DMB".into(),
            address: dmb,
            list: Some(SyncedList {
                servers: vec![
                    entry("DMB", 0x000c_9a03, "the dmb"),
                    entry("HOSTB", 0x0000_0003, "old copy"),
                    entry("ELSEWHERE", 0x0000_9a03, "x"),
                ],
                workgroups: vec![],
            }),
        },
    );
    let servers = net.hosts[l].b.servers();
    let b = servers.iter().find(|s| s.name == "HOSTB").unwrap();
    assert_eq!(b.comment, "server HOSTB");
    assert_eq!(b.synced_from, None);
    assert!(servers.iter().any(|s| s.name == "ELSEWHERE"));
    assert!(servers.iter().any(|s| s.name == "DMB"));
    // Again 15 minutes after the last lookup started.
    net.run(SYNC_INTERVAL);
    assert_eq!(
        syncs_of(&net, l).last(),
        Some(&Action::FindDomainMaster { name: wg1b })
    );
    let _ = other;
}

#[test]
fn no_wins_no_domain_master_lookup() {
    let mut net = Net::new();
    let l = net.add(cfg("LMB", 1, 65));
    net.run(Duration::from_secs(20 * 60));
    assert!(net.hosts[l].b.is_local_master());
    assert!(net.syncs.is_empty());
}

#[test]
fn become_backup_is_ignored_as_by_samba() {
    let mut net = Net::new();
    let a = net.add(cfg("HOSTA", 1, 65));
    let b = net.add(cfg("HOSTB", 2, 1));
    net.run(Duration::from_secs(30));
    assert_eq!(net.masters(), vec![a]);
    let wg1e = NbName::new("TESTGRP", suffix::BROWSER_ELECTION).unwrap();
    let before = net.hosts[b].b.server_type();
    net.input(
        b,
        frame_from(
            "HOSTA",
            net.ip(a),
            wg1e,
            BrowseFrame::BecomeBackup {
                browser: "hostb".into(),
            },
        ),
    );
    net.run(Duration::from_secs(60));
    assert_eq!(net.hosts[b].b.server_type(), before);
    assert_eq!(net.hosts[b].b.server_type() & sv_type::BACKUP_BROWSER, 0);
    assert!(net.hosts[b].b.servers().is_empty());
    assert!(syncs_of(&net, b).is_empty());
    assert!(net.logs.iter().any(|(i, e)| *i == b
        && e.to_string()
            == "HOSTA asked hostb to be a backup browser for TESTGRP: ignored (we are never one, as Samba)"));
}

#[test]
fn one_local_master_per_address() {
    let mut net = Net::new();
    let mut c = cfg("DMB", 1, 65);
    c.domain_master = true;
    let d = net.add(c);
    net.run(Duration::from_secs(30));
    assert!(net.hosts[d].b.is_domain_master());
    let forger = Ipv4Addr::new(10, 98, 0, 66);
    for i in 0..1000 {
        net.input(
            d,
            frame_from(
                "FORGER",
                forger,
                NbName::new("DMB", 0).unwrap(),
                BrowseFrame::MasterAnnouncement {
                    master: format!("NAME{i}"),
                },
            ),
        );
    }
    assert_eq!(net.hosts[d].b.local_masters().count(), 1);
    net.run(LMB_FIRST_SYNC + Duration::from_secs(1));
    assert_eq!(syncs_of(&net, d).len(), 1);
}

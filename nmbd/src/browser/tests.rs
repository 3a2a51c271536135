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

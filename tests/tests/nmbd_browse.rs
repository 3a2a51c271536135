//! Our nmbd's browser beside Samba's nmbd on a bridge between network
//! namespaces (root only): ns1 our nmbd, ns2 Samba's nmbd, ns3 nmblookup
//! and a socket on the broadcast address that sees browser frames.
//!
//! Both run `workgroup = TESTGRP`, `local master = yes`, `preferred master
//! = no`; the os level decides the election.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nmbd::wire::browse::BrowseFrame;
use nmbd::wire::dgram::{Datagram, MailslotWrite};
use system_tests::netns::{Daemon, Lan};
use system_tests::{Scratch, bin, require_root, signal, stdout, wait_for};

fn conf(dir: &Path, name: &str, os_level: u8, extra: &str) -> PathBuf {
    for d in ["state", "cache", "lock", "run", "priv"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let d = dir.display();
    let path = dir.join("smb.conf");
    std::fs::write(
        &path,
        format!(
            "[global]\n workgroup = TESTGRP\n netbios name = {name}\n server string = {name} here\n interfaces = eth0\n bind interfaces only = yes\n local master = yes\n preferred master = no\n domain master = no\n os level = {os_level}\n state directory = {d}/state\n cache directory = {d}/cache\n lock directory = {d}/lock\n private dir = {d}/priv\n pid directory = {d}/run\n ncalrpc dir = {d}/run\n nmbd:socket dir = {d}/nmbd\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// One test's LAN with Samba's nmbd (ns2) and ours (ns1).
struct Setup {
    lan: Lan,
    scratch: Scratch,
    ours: String,
    smb: String,
}

impl Setup {
    fn new(tag: u8) -> Setup {
        let pid = std::process::id() % 10000;
        Setup {
            lan: Lan::new(tag, 3),
            scratch: Scratch::new(),
            ours: format!("OURS{pid}T{tag}"),
            smb: format!("SMB{pid}T{tag}"),
        }
    }

    fn samba(&self, os_level: u8) -> Daemon {
        let dir = self.scratch.path().join("samba");
        let c = conf(&dir, &self.smb, os_level, "");
        let mut cmd = self.lan.cmd(2, "/usr/sbin/nmbd");
        cmd.args(["-F", "--debug-stdout", "-d", "2", "-s"]).arg(c);
        Daemon::start(cmd, dir.join("log"))
    }

    fn our_conf(&self, os_level: u8) -> PathBuf {
        conf(
            &self.scratch.path().join("ours"),
            &self.ours,
            os_level,
            " browser check interval = 15\n",
        )
    }

    fn ours(&self, os_level: u8) -> Daemon {
        let c = self.our_conf(os_level);
        let mut cmd = self.lan.cmd(1, bin("nmbd").to_str().unwrap());
        cmd.args(["-F", "--debug-stdout", "-d", "3", "-s"]).arg(c);
        Daemon::start(cmd, self.scratch.path().join("ours").join("log"))
    }

    /// `nmbd --status` (or another request) against our running nmbd.
    fn our_tool(&self, arg: &str) -> String {
        let o = Command::new(bin("nmbd"))
            .arg("-s")
            .arg(self.scratch.path().join("ours").join("smb.conf"))
            .arg(arg)
            .output()
            .unwrap();
        stdout(&o)
    }

    /// The addresses answering for TESTGRP<1d> (`nmblookup -M`).
    fn masters(&self) -> Vec<Ipv4Addr> {
        let o: Output = self
            .lan
            .cmd(3, "nmblookup")
            .args(["-B", &self.lan.broadcast().to_string(), "-M", "TESTGRP"])
            .output()
            .unwrap();
        stdout(&o)
            .lines()
            .filter(|l| l.contains("TESTGRP<1d>"))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Waits until exactly `ip` answers for TESTGRP<1d>.
    fn wait_master(&self, ip: Ipv4Addr, limit: Duration) -> bool {
        wait_for(limit, || {
            let m = self.masters();
            (m == [ip]).then_some(())
        })
        .is_some()
    }

    /// A socket in ns3 on the broadcast address, port 138.
    fn listener(&self) -> UdpSocket {
        let bcast = self.lan.broadcast();
        self.lan.in_ns(3, move || {
            let s = UdpSocket::bind(SocketAddrV4::new(bcast, 138)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            s
        })
    }
}

/// Browser frames from `from` seen on `sock` within `limit` until `want`
/// says one is the one; that frame.
fn wait_frame(
    sock: &UdpSocket,
    from: Ipv4Addr,
    limit: Duration,
    want: impl Fn(&BrowseFrame) -> bool,
) -> Option<BrowseFrame> {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if src.ip() != std::net::IpAddr::V4(from) {
            continue;
        }
        let Ok(Datagram::Data { data, .. }) = Datagram::parse(&buf[..n]) else {
            continue;
        };
        let Ok(mw) = MailslotWrite::parse(&data) else {
            continue;
        };
        if let Ok(f) = BrowseFrame::parse(&mw.data)
            && want(&f)
        {
            return Some(f);
        }
    }
    None
}

/// Ours (os level 65) beats Samba (20): we are the one master; our list
/// has Samba's server; `--force-election` sends an election frame; at
/// SIGTERM our zero-criteria election makes Samba master at once, and the
/// browse list is on disk.
#[test]
fn ours_wins_then_hands_over() {
    if !require_root("ours_wins_then_hands_over") {
        return;
    }
    let started = Instant::now();
    let s = Setup::new(1);
    let (ip1, ip2) = (s.lan.ip(1), s.lan.ip(2));
    let samba = s.samba(20);
    let mut our = s.ours(65);

    assert!(
        s.wait_master(ip1, Duration::from_secs(50)),
        "masters {:?} after {:?}\nours:\n{}\nsamba:\n{}",
        s.masters(),
        started.elapsed(),
        our.log_text(),
        samba.log_text()
    );
    let elected = started.elapsed();
    assert!(
        our.log_text()
            .contains(&format!("now local master browser for TESTGRP on {ip1}")),
        "{}",
        our.log_text()
    );
    // Samba is not master (or stopped being it).
    let sl = samba.log_text();
    if let Some(i) = sl.find("is now a local master browser") {
        assert!(
            sl[i..].contains("stopped being a local master browser"),
            "{sl}"
        );
    }

    // Samba's server in our list.
    let found = wait_for(Duration::from_secs(30), || {
        let st = s.our_tool("--status");
        (st.contains(&s.smb) && st.contains("local master browser")).then_some(st)
    });
    let st = found.unwrap_or_else(|| {
        panic!(
            "{}\nours:\n{}\nsamba:\n{}",
            s.our_tool("--status"),
            our.log_text(),
            samba.log_text()
        )
    });
    assert!(st.contains(&format!("{} here", s.smb)), "{st}");
    assert!(st.contains(&format!("local master: {}", s.ours)), "{st}");
    assert!(st.contains("TESTGRP<1d>"), "{st}");
    let listed = started.elapsed();

    // --force-election: an election frame from us.
    let l = s.listener();
    let out = s.our_tool("--force-election");
    assert!(out.contains("election started on 1 subnet"), "{out}");
    let f = wait_frame(&l, ip1, Duration::from_secs(5), |f| {
        matches!(f, BrowseFrame::RequestElection(_))
    });
    assert!(f.is_some(), "no election frame\n{}", our.log_text());
    // We win it again.
    assert!(s.wait_master(ip1, Duration::from_secs(20)));

    // SIGTERM: the zero-criteria election, then Samba takes over.
    const BECAME: &str = "is now a local master browser";
    let before = samba.log_text().matches(BECAME).count();
    let sigterm = Instant::now();
    signal(our.child.id() as i32, Signal::SIGTERM);
    let f = wait_frame(
        &l,
        ip1,
        Duration::from_secs(5),
        |f| matches!(f, BrowseFrame::RequestElection(e) if e.criteria == 0 && e.version == 0),
    );
    assert!(
        f.is_some(),
        "no zero election at shutdown\n{}",
        our.log_text()
    );
    let exited = wait_for(Duration::from_secs(5), || {
        our.child.try_wait().ok().flatten()
    });
    assert!(exited.is_some_and(|x| x.success()), "{}", our.log_text());
    let took_over = wait_for(Duration::from_secs(30), || {
        (samba.log_text().matches(BECAME).count() > before).then_some(())
    });
    assert!(
        took_over.is_some(),
        "Samba did not take over:\n{}",
        samba.log_text()
    );
    let handed = sigterm.elapsed();
    assert!(s.wait_master(ip2, Duration::from_secs(10)));
    // The browse list kept for the next start.
    let saved = std::fs::read_to_string(s.scratch.path().join("ours/state/browse.json")).unwrap();
    assert!(saved.contains(&s.smb), "{saved}");
    // ... and restored at the next start (os level 1 now: Samba stays
    // master, the list still shows Samba's entry with its time left).
    drop(our);
    let our = s.ours(1);
    let restored = wait_for(Duration::from_secs(15), || {
        let st = s.our_tool("--status");
        (st.contains("potential browser") && st.contains(&format!("{} here", s.smb))).then_some(st)
    });
    assert!(
        restored.is_some(),
        "{}\n{}",
        s.our_tool("--status"),
        our.log_text()
    );
    assert!(our.log_text().contains("browse lists restored"));
    eprintln!(
        "ours_wins_then_hands_over: elected after {elected:?}, Samba listed after {listed:?}, Samba master {handed:?} after SIGTERM, total {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(85));
}

/// Samba (os level 65) beats ours (20); Samba's browse.dat lists us; our
/// status shows Samba as master. Then our restart keeps no stale role.
#[test]
fn samba_wins_and_lists_us() {
    if !require_root("samba_wins_and_lists_us") {
        return;
    }
    let started = Instant::now();
    let s = Setup::new(2);
    let ip2 = s.lan.ip(2);
    let samba = s.samba(65);
    let our = s.ours(20);
    assert!(
        s.wait_master(ip2, Duration::from_secs(50)),
        "masters {:?}\nours:\n{}\nsamba:\n{}",
        s.masters(),
        our.log_text(),
        samba.log_text()
    );
    let elected = started.elapsed();
    assert!(
        !our.log_text().contains("now local master browser"),
        "{}",
        our.log_text()
    );
    // Samba's browse.dat (somewhere in its directories) lists us.
    let sdir = s.scratch.path().join("samba");
    let listed = wait_for(Duration::from_secs(50), || {
        ["cache", "lock", "state"].iter().find_map(|d| {
            let t = std::fs::read_to_string(sdir.join(d).join("browse.dat")).ok()?;
            t.contains(&s.ours).then_some(t)
        })
    });
    assert!(
        listed.is_some(),
        "not in Samba's browse.dat\nours:\n{}\nsamba:\n{}",
        our.log_text(),
        samba.log_text()
    );
    let st = s.our_tool("--status");
    assert!(st.contains("potential browser"), "{st}");
    assert!(st.contains(&ip2.to_string()), "{st}");
    eprintln!(
        "samba_wins_and_lists_us: Samba elected after {elected:?}, we are in its browse.dat after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(85));
}

/// Samba (65) is master; SIGKILL it: ours (20) finds WORKGROUP<1d> gone
/// at its next check (`browser check interval = 15` here; Samba checks
/// every 5 minutes) and takes over.
#[test]
fn samba_killed_ours_takes_over() {
    if !require_root("samba_killed_ours_takes_over") {
        return;
    }
    let started = Instant::now();
    let s = Setup::new(3);
    let (ip1, ip2) = (s.lan.ip(1), s.lan.ip(2));
    let mut samba = s.samba(65);
    let our = s.ours(20);
    assert!(
        s.wait_master(ip2, Duration::from_secs(50)),
        "masters {:?}\nours:\n{}\nsamba:\n{}",
        s.masters(),
        our.log_text(),
        samba.log_text()
    );
    let elected = started.elapsed();
    let killed = Instant::now();
    signal(samba.child.id() as i32, Signal::SIGKILL);
    let _ = samba.child.wait();
    assert!(
        s.wait_master(ip1, Duration::from_secs(50)),
        "masters {:?}\nours:\n{}",
        s.masters(),
        our.log_text()
    );
    assert!(
        our.log_text()
            .contains("no master browser for TESTGRP answers")
    );
    eprintln!(
        "samba_killed_ours_takes_over: Samba elected after {elected:?}, ours master {:?} after SIGKILL",
        killed.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(85));
}

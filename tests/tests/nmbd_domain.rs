//! Browse lists across subnets (root only): two LANs joined by a router
//! namespace; the domain master browser (with the WINS server) on LAN A,
//! a local master on LAN B that finds it through WINS, announces itself
//! to it (MasterAnnouncement) and syncs lists with it (RAP
//! NetServerEnum2 over an SMB1 session on port 139), as Samba's
//! nmbd_browsesync.c does.
//!
//! - `our_domain_master_collects_from_samba`: ours is the domain master;
//!   Samba's nmbd + smbd the local master of LAN B: Samba's server shows
//!   up in our list, learned from Samba.
//! - `our_local_master_syncs_with_samba_domain_master`: Samba's nmbd +
//!   smbd are domain master and WINS server; ours the local master of LAN
//!   B: Samba takes our MasterAnnouncement and its server shows up in our
//!   list.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, bin, require_root, stdout, wait_for};

/// An smb.conf for Samba's nmbd and smbd (or ours) under `dir`: a
/// preferred local master with os level 65 on eth0, SMB1 allowed (lists
/// are pulled over it), then `extra`.
fn conf(dir: &Path, name: &str, extra: &str) -> PathBuf {
    nmbd_conf(
        dir,
        "TESTGRP",
        name,
        &format!(
            " server string = {name} here\n interfaces = eth0\n bind interfaces only = yes\n local master = yes\n preferred master = yes\n os level = 65\n server min protocol = NT1\n{extra}"
        ),
    )
}

/// LAN A (ns1 the router and domain master, ns2 spare) and LAN B (ns1
/// the local master).
struct Setup {
    a: Lan,
    b: Lan,
    scratch: Scratch,
    ours: String,
    smb: String,
}

impl Setup {
    fn new(tag: u8) -> Setup {
        let a = Lan::new(tag, 2);
        let b = Lan::new(tag + 100, 1);
        a.route_to(1, &b, 254);
        let pid = std::process::id() % 10000;
        Setup {
            a,
            b,
            scratch: Scratch::new(),
            ours: format!("OURS{pid}T{tag}"),
            smb: format!("SMB{pid}T{tag}"),
        }
    }

    /// Samba's nmbd (-d 3) and smbd on `lan`'s namespace 1.
    fn samba(&self, lan: &Lan, extra: &str) -> (Daemon, Daemon) {
        let dir = self.scratch.path().join("samba");
        let c = conf(&dir, &self.smb, extra);
        let nmbd = Daemon::nmbd_at(lan, 1, "/usr/sbin/nmbd", 3, &c, dir.join("nmbd.log"));
        let mut cmd = lan.cmd(1, "/usr/sbin/smbd");
        cmd.args(["-F", "--debug-stdout", "-d", "2", "-s"]).arg(&c);
        let smbd = Daemon::start(cmd, dir.join("smbd.log"));
        (nmbd, smbd)
    }

    fn ours(&self, lan: &Lan, extra: &str) -> Daemon {
        let dir = self.scratch.path().join("ours");
        let c = conf(&dir, &self.ours, extra);
        Daemon::nmbd_at(
            lan,
            1,
            bin("nmbd").to_str().unwrap(),
            3,
            &c,
            dir.join("log"),
        )
    }

    fn our_status(&self) -> String {
        let o = Command::new(bin("nmbd"))
            .arg("-s")
            .arg(self.scratch.path().join("ours").join("smb.conf"))
            .arg("--status")
            .output()
            .unwrap();
        stdout(&o)
    }
}

fn logs(ours: &Daemon, nmbd: &Daemon, smbd: &Daemon) -> String {
    format!(
        "ours:\n{}\nsamba nmbd:\n{}\nsamba smbd:\n{}",
        ours.log_text(),
        nmbd.log_text(),
        smbd.log_text()
    )
}

#[test]
fn our_domain_master_collects_from_samba() {
    if !require_root("our_domain_master_collects_from_samba") {
        return;
    }
    let started = Instant::now();
    let s = Setup::new(31);
    let wins = s.a.ip(1);
    let our = s.ours(&s.a, " domain master = yes\n wins support = yes\n");
    // The domain master is up before the local masters look for it
    // (Samba looks once when it becomes local master, then every 15
    // minutes).
    assert!(
        our.wait_log(
            "now domain master browser for TESTGRP",
            Duration::from_secs(60)
        ),
        "{}",
        our.log_text()
    );
    let (nmbd, smbd) = s.samba(
        &s.b,
        &format!(" domain master = no\n wins server = {wins}\n"),
    );
    // Samba, local master of LAN B, finds us through our WINS server and
    // announces itself.
    let announced = format!(
        "local master {} ({}) of TESTGRP announced itself",
        s.smb,
        s.b.ip(1)
    );
    assert!(
        our.wait_log(&announced, Duration::from_secs(90)),
        "no MasterAnnouncement after {:?}\n{}",
        started.elapsed(),
        logs(&our, &nmbd, &smbd)
    );
    // A minute later we pull its list over SMB1 from its smbd.
    let synced = format!("sync with {} ({}) for TESTGRP completed", s.smb, s.b.ip(1));
    assert!(
        our.wait_log(&synced, Duration::from_secs(100)),
        "no sync after {:?}\n{}",
        started.elapsed(),
        logs(&our, &nmbd, &smbd)
    );
    let st = wait_for(Duration::from_secs(10), || {
        let st = s.our_status();
        st.contains(&format!("(from {})", s.smb)).then_some(st)
    })
    .unwrap_or_else(|| panic!("{}\n{}", s.our_status(), logs(&our, &nmbd, &smbd)));
    let line = st
        .lines()
        .find(|l| l.contains(&s.smb) && l.contains("from"))
        .unwrap();
    assert!(line.contains(&format!("{} here", s.smb)), "{st}");
    assert!(st.contains("domain master browser"), "{st}");
    assert!(
        st.contains(&format!(
            "local master of another subnet: {} ({})",
            s.smb,
            s.b.ip(1)
        )),
        "{st}"
    );
    eprintln!("synced after {:?}", started.elapsed());
}

#[test]
fn our_local_master_syncs_with_samba_domain_master() {
    if !require_root("our_local_master_syncs_with_samba_domain_master") {
        return;
    }
    let started = Instant::now();
    let s = Setup::new(32);
    let wins = s.a.ip(1);
    let (nmbd, smbd) = s.samba(&s.a, " domain master = yes\n wins support = yes\n");
    assert!(
        nmbd.wait_log("is now a domain master browser", Duration::from_secs(60)),
        "{}",
        nmbd.log_text()
    );
    let our = s.ours(
        &s.b,
        &format!(" domain master = no\n wins server = {wins}\n"),
    );
    let found = format!("domain master browser for TESTGRP is {} ({wins})", s.smb);
    assert!(
        our.wait_log(&found, Duration::from_secs(90)),
        "no domain master found after {:?}\n{}",
        started.elapsed(),
        logs(&our, &nmbd, &smbd)
    );
    // Samba took our MasterAnnouncement.
    let took = format!("Local master announce from {}", s.ours);
    assert!(
        nmbd.wait_log(&took, Duration::from_secs(10)),
        "{}",
        logs(&our, &nmbd, &smbd)
    );
    // Its list, pulled at once: its own server.
    let synced = format!("sync with {} ({wins}) for TESTGRP completed", s.smb);
    assert!(
        our.wait_log(&synced, Duration::from_secs(40)),
        "no sync after {:?}\n{}",
        started.elapsed(),
        logs(&our, &nmbd, &smbd)
    );
    let st = wait_for(Duration::from_secs(10), || {
        let st = s.our_status();
        st.contains(&format!("(from {})", s.smb)).then_some(st)
    })
    .unwrap_or_else(|| panic!("{}\n{}", s.our_status(), logs(&our, &nmbd, &smbd)));
    assert!(
        st.contains(&format!("domain master: {} ({wins})", s.smb)),
        "{st}"
    );
    assert!(st.contains("local master browser"), "{st}");
    eprintln!("synced after {:?}", started.elapsed());
}

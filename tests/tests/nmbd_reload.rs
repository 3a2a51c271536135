//! Our nmbd takes a changed smb.conf without a restart (root only: network
//! namespaces joined by a bridge, as in nmbd_browse.rs): browser settings
//! on SIGHUP beside Samba's nmbd, a new NetBIOS name noticed by the
//! file-change poll alone, and a broken smb.conf that keeps the old
//! configuration. The tests run in parallel, each on its own LAN (the
//! longest, waiting for Samba to become master first, is named to start
//! first when there are only two test threads).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, bin, require_root, signal, stdout, wait_for};

/// Our smb.conf (written again in place by a test): `interfaces = eth0`,
/// then `extra`, whose lines override the defaults of [`nmbd_conf`]
/// (`local master = no`, `os level = 1`).
fn conf(dir: &Path, name: &str, extra: &str) -> PathBuf {
    nmbd_conf(
        dir,
        "RELOADWG",
        name,
        &format!(" interfaces = eth0\n bind interfaces only = yes\n{extra}"),
    )
}

/// The addresses `nmblookup` (in namespace `ns`) finds for `args`' name;
/// `suffix` is the `<xx>` of the answer lines.
fn lookup(lan: &Lan, ns: usize, args: &[&str], suffix: &str) -> Vec<Ipv4Addr> {
    let o = lan.cmd(ns, "nmblookup").args(args).output().unwrap();
    stdout(&o)
        .lines()
        .filter(|l| l.contains(suffix))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Who answers a broadcast query for `name<00>`.
fn resolve(lan: &Lan, ns: usize, name: &str) -> Vec<Ipv4Addr> {
    let bcast = lan.broadcast().to_string();
    lookup(lan, ns, &["-B", &bcast, name], &format!("{name}<00>"))
}

/// Who answers for `RELOADWG<1d>` (`nmblookup -M`).
fn masters(lan: &Lan, ns: usize) -> Vec<Ipv4Addr> {
    let bcast = lan.broadcast().to_string();
    lookup(lan, ns, &["-B", &bcast, "-M", "RELOADWG"], "RELOADWG<1d>")
}

/// `nmbd --status` of the nmbd configured by `conf` (the status socket).
fn status(conf: &Path) -> String {
    let o = Command::new(bin("nmbd"))
        .arg("-s")
        .arg(conf)
        .arg("--status")
        .output()
        .unwrap();
    stdout(&o)
}

/// Replaces `dir`'s smb.conf as an editor does: [`conf`] writes the new
/// text beside it (in `dir/next`, its paths then made `dir`'s again), and
/// a rename puts it in place, so nmbd never reads half a file.
fn rewrite(dir: &Path, name: &str, extra: &str) {
    let next = dir.join("next");
    let text = std::fs::read_to_string(conf(&next, name, extra)).unwrap();
    let text = text.replace(&next.display().to_string(), &dir.display().to_string());
    let tmp = dir.join("smb.conf.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("smb.conf")).unwrap();
}

/// Ours with `local master = no` beside Samba's nmbd (os level 20), which
/// becomes master; then smb.conf says `local master = yes`, `preferred
/// master = yes`, `os level = 65`, and SIGHUP: ours starts an election at
/// once, becomes master and Samba steps down.
#[test]
fn become_master_on_sighup_beside_samba() {
    if !require_root("become_master_on_sighup_beside_samba") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(1, 3);
    let (ip1, ip2) = (lan.ip(1), lan.ip(2));
    let pid = std::process::id() % 10000;
    let (ours, smb) = (format!("OURS{pid}R1"), format!("SMB{pid}R1"));

    let sdir = scratch.path().join("samba");
    let sconf = conf(
        &sdir,
        &smb,
        " local master = yes\n preferred master = no\n domain master = no\n os level = 20\n",
    );
    let mut cmd = lan.cmd(2, "/usr/sbin/nmbd");
    cmd.args(["-F", "--debug-stdout", "-d", "2", "-s"])
        .arg(&sconf);
    let samba = Daemon::start(cmd, sdir.join("log"));
    let odir = scratch.path().join("ours");
    let oconf = conf(&odir, &ours, "");
    let our = Daemon::nmbd(&lan, 1, &oconf, odir.join("log"));

    let samba_master = wait_for(Duration::from_secs(50), || {
        (masters(&lan, 3) == [ip2]).then_some(())
    });
    assert!(
        samba_master.is_some(),
        "Samba never became master: {:?}\nours:\n{}\nsamba:\n{}",
        masters(&lan, 3),
        our.log_text(),
        samba.log_text()
    );
    let samba_elected = started.elapsed();
    let st = status(&oconf);
    assert!(st.contains("not a browser (local master = no)"), "{st}");

    rewrite(
        &odir,
        &ours,
        " local master = yes\n preferred master = yes\n os level = 65\n",
    );
    let hup = Instant::now();
    signal(our.child.id() as i32, Signal::SIGHUP);
    assert!(
        our.wait_log(
            "smb.conf reloaded (SIGHUP): os level 1 -> 65 applied; local master no -> yes applied; preferred master auto -> yes applied",
            Duration::from_secs(5)
        ),
        "{}",
        our.log_text()
    );
    assert!(
        our.wait_log("starting an election for RELOADWG", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    let ours_master = wait_for(Duration::from_secs(40), || {
        (masters(&lan, 3) == [ip1]).then_some(())
    });
    assert!(
        ours_master.is_some(),
        "masters {:?} {:?} after SIGHUP\nours:\n{}\nsamba:\n{}",
        masters(&lan, 3),
        hup.elapsed(),
        our.log_text(),
        samba.log_text()
    );
    let took = hup.elapsed();
    assert!(
        our.log_text()
            .contains(&format!("now local master browser for RELOADWG on {ip1}")),
        "{}",
        our.log_text()
    );
    assert!(
        samba.wait_log(
            "stopped being a local master browser",
            Duration::from_secs(5)
        ),
        "{}",
        samba.log_text()
    );
    // The status socket talks to the same (reconfigured) browser.
    let st = status(&oconf);
    assert!(st.contains("local master browser"), "{st}");
    // No restart of the name service for browser settings.
    assert!(!our.log_text().contains("registered again"));
    our.stop();
    eprintln!(
        "become_master_on_sighup_beside_samba: Samba master after {samba_elected:?}, ours master {took:?} after SIGHUP, total {:?}",
        started.elapsed()
    );
}

/// A new `netbios name` written to smb.conf, no signal: within the poll
/// period our names are released and the new ones registered; the new
/// name resolves, the old one does not, and the status socket shows the
/// new names.
#[test]
fn new_name_from_the_file_poll() {
    if !require_root("new_name_from_the_file_poll") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(2, 2);
    let ip1 = lan.ip(1);
    let pid = std::process::id() % 10000;
    let (old, new) = (format!("OLD{pid}R2"), format!("NEW{pid}R2"));
    let odir = scratch.path().join("ours");
    let oconf = conf(&odir, &old, "");
    let our = Daemon::nmbd(&lan, 1, &oconf, odir.join("log"));
    let up = wait_for(Duration::from_secs(15), || {
        (resolve(&lan, 2, &old) == [ip1]).then_some(())
    });
    assert!(up.is_some(), "{}", our.log_text());
    let registered = started.elapsed();

    rewrite(&odir, &new, "");
    let changed = Instant::now();
    let found = wait_for(Duration::from_secs(20), || {
        (resolve(&lan, 2, &new) == [ip1]).then_some(())
    });
    assert!(
        found.is_some(),
        "{new} does not resolve after {:?}\n{}",
        changed.elapsed(),
        our.log_text()
    );
    let took = changed.elapsed();
    assert!(resolve(&lan, 2, &old).is_empty(), "{}", our.log_text());
    let log = our.log_text();
    assert!(
        log.contains(&format!(
            "smb.conf reloaded (smb.conf changed): netbios name {old} -> {new}: names released and registered again"
        )),
        "{log}"
    );
    assert!(
        log.contains("netbios name changed: names released, registering the new ones"),
        "{log}"
    );
    assert!(!log.contains("SIGHUP"), "{log}");
    let st = status(&oconf);
    assert!(st.contains(&format!("{new}<20>")), "{st}");
    assert!(!st.contains(&old), "{st}");
    our.stop();
    eprintln!(
        "new_name_from_the_file_poll: {old} resolved after {registered:?}, {new} {took:?} after the change, total {:?}",
        started.elapsed()
    );
}

/// A broken smb.conf: the error names the problem, is logged once per
/// change (not at every poll), and SIGHUP logs it again; the old
/// configuration stays (names answer, the status socket works). Fixed,
/// it is taken.
#[test]
fn broken_conf_keeps_the_old_one() {
    if !require_root("broken_conf_keeps_the_old_one") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(3, 2);
    let ip1 = lan.ip(1);
    let pid = std::process::id() % 10000;
    let name = format!("KEEP{pid}R3");
    let odir = scratch.path().join("ours");
    let oconf = conf(&odir, &name, "");
    let our = Daemon::nmbd(&lan, 1, &oconf, odir.join("log"));
    let up = wait_for(Duration::from_secs(15), || {
        (resolve(&lan, 2, &name) == [ip1]).then_some(())
    });
    assert!(up.is_some(), "{}", our.log_text());

    // `nmbd --status` reads smb.conf for the socket's place: a copy of
    // the good one serves it while the daemon's is broken.
    let good = odir.join("good.conf");
    std::fs::copy(&oconf, &good).unwrap();
    const FAILED: &str = "reload failed, keeping the old configuration";
    rewrite(&odir, "OTHERNAME", " os level = abc\n");
    assert!(
        our.wait_log(
            &format!("smb.conf changed: {FAILED}"),
            Duration::from_secs(8)
        ),
        "{}",
        our.log_text()
    );
    let log = our.log_text();
    let line = log.lines().find(|l| l.contains(FAILED)).unwrap();
    assert!(
        line.contains("os level") && line.contains("\"abc\""),
        "{line}"
    );
    // Not again at the next polls.
    std::thread::sleep(common::daemon::CONF_CHECK + Duration::from_secs(1));
    assert_eq!(our.log_text().matches(FAILED).count(), 1);
    // SIGHUP tries again and says so again.
    signal(our.child.id() as i32, Signal::SIGHUP);
    assert!(
        our.wait_log(&format!("SIGHUP: {FAILED}"), Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    // The old configuration: our name answers, OTHERNAME does not.
    assert_eq!(resolve(&lan, 2, &name), [ip1], "{}", our.log_text());
    assert!(resolve(&lan, 2, "OTHERNAME").is_empty());
    let st = status(&good);
    assert!(st.contains(&format!("{name}<20>")), "{st}");
    // Fixed: taken at the next poll.
    rewrite(&odir, &name, " os level = 7\n");
    assert!(
        our.wait_log(
            "smb.conf reloaded (smb.conf changed): os level 1 -> 7 applied",
            Duration::from_secs(8)
        ),
        "{}",
        our.log_text()
    );
    our.stop();
    eprintln!("broken_conf_keeps_the_old_one: {:?}", started.elapsed());
}

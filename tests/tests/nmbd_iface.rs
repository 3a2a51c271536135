//! Interfaces that appear after start-up (root only): our nmbd starts with
//! `interfaces = eth1` before eth1 exists; the link is added, then its
//! address; within the rescan period our names are registered there, the
//! browser starts on the new subnet, and nmblookup from the other end of
//! the link resolves us by broadcast.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use nmbd::names::RESCAN;
use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, require_root, stdout, wait_for};

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn interface_added_later_is_served() {
    if !require_root("interface_added_later_is_served") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    // Two namespaces on the bridge (eth0); eth1 comes later, as a veth
    // pair straight from ns1 to ns2 on a subnet of its own.
    let lan = Lan::new(6, 2);
    let pid = std::process::id();
    let net = [172, 31, (pid % 250) as u8];
    let ip1 = Ipv4Addr::new(net[0], net[1], net[2], 1);
    let ip2 = Ipv4Addr::new(net[0], net[1], net[2], 2);
    let bcast = Ipv4Addr::new(net[0], net[1], net[2], 255);
    let ours = format!("LATE{}", pid % 10000);

    let dir = scratch.path().join("ours");
    let conf = nmbd_conf(
        &dir,
        "NBLATEWG",
        &ours,
        " interfaces = eth1\n bind interfaces only = yes\n",
    );
    let mut our = Daemon::nmbd(&lan, 1, &conf, dir.join("log"));
    assert!(
        our.wait_log("nmbd started", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        our.alive(),
        "nmbd exited without interfaces:\n{}",
        our.log_text()
    );
    assert!(
        !our.log_text().contains("serving subnet"),
        "{}",
        our.log_text()
    );

    // The link first, up but without an address: nothing to serve yet.
    let (ns1, ns2) = (&lan.namespaces[0], &lan.namespaces[1]);
    ip(&[
        "-n", ns1, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", ns2,
    ]);
    ip(&["-n", ns1, "link", "set", "eth1", "up"]);
    ip(&["-n", ns2, "link", "set", "eth1", "up"]);
    std::thread::sleep(RESCAN / 2);
    assert!(
        !our.log_text().contains("serving subnet"),
        "{}",
        our.log_text()
    );

    // Then the addresses.
    let added = Instant::now();
    for (ns, a) in [(ns1, ip1), (ns2, ip2)] {
        let a = format!("{a}/24");
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &a,
            "brd",
            &bcast.to_string(),
            "dev",
            "eth1",
        ]);
    }
    // Served within a rescan period, names registered about 4 s later.
    let serving = format!("subnet={ip1}");
    assert!(
        our.wait_log(&serving, RESCAN + Duration::from_secs(2)),
        "eth1 not picked up:\n{}",
        our.log_text()
    );
    let found = wait_for(RESCAN + Duration::from_secs(8), || {
        let o = lan
            .cmd(2, "nmblookup")
            .args(["-B", &bcast.to_string(), &ours])
            .output()
            .unwrap();
        stdout(&o)
            .contains(&format!("{ip1} {ours}<00>"))
            .then_some(())
    });
    assert!(
        found.is_some(),
        "{ours} not resolved on eth1:\n{}",
        our.log_text()
    );
    let resolved = added.elapsed();
    let o = lan
        .cmd(2, "nmblookup")
        .args(["-B", &bcast.to_string(), "NBLATEWG#1e"])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains(&format!("{ip1} NBLATEWG<1e>")),
        "{}",
        stdout(&o)
    );
    // The browser follows once WORKGROUP<1e> is ours there.
    assert!(
        our.wait_log("browsing on subnet", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    let log = our.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("browsing on subnet"))
        .unwrap_or_default();
    assert!(line.contains(&serving), "{line}");
    let status = lan
        .cmd(1, system_tests::bin("nmbd").to_str().unwrap())
        .arg("-s")
        .arg(&conf)
        .arg("--status")
        .output()
        .unwrap();
    let status = stdout(&status);
    assert!(status.contains(&format!("subnet {ip1}")), "{status}");
    assert!(status.contains("browser for NBLATEWG"), "{status}");
    assert!(our.alive(), "{log}");
    eprintln!(
        "resolved {resolved:?} after the address was added; test {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(40));
}

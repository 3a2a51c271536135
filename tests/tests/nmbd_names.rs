//! Our nmbd beside Samba's nmbd on a bridge between network namespaces,
//! queried with Samba's nmblookup from a third namespace (root only).
//!
//! ns1: our nmbd (netbios name OURS, alias = Samba's name SMB);
//! ns2: Samba's nmbd, first as SMB (so our alias is refused), then as
//! OURS (so we refuse it); ns3: nmblookup, and a socket on the broadcast
//! address that sees our releases at SIGTERM.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nmbd::wire::nbns::{Message, Opcode};
use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, bin, require_root, signal, stdout, wait_for};

fn conf(dir: &Path, name: &str, extra: &str) -> PathBuf {
    nmbd_conf(
        dir,
        "NBTESTWG",
        name,
        &format!(" interfaces = eth0\n bind interfaces only = yes\n{extra}"),
    )
}

fn nmblookup(lan: &Lan, args: &[&str]) -> Output {
    lan.cmd(3, "nmblookup").args(args).output().unwrap()
}

#[test]
fn names_beside_samba() {
    if !require_root("names_beside_samba") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(1, 3);
    let pid = std::process::id() % 10000;
    let ours = format!("OURS{pid}");
    let smb = format!("SMB{pid}");
    let (ip1, ip2, bcast) = (lan.ip(1), lan.ip(2), lan.broadcast());

    // Samba's nmbd owns SMB first.
    let sdir = scratch.path().join("samba1");
    let sconf = conf(&sdir, &smb, "");
    let mut cmd = lan.cmd(2, "/usr/sbin/nmbd");
    cmd.args(["-F", "--debug-stdout", "-s"]).arg(&sconf);
    let samba = Daemon::start(cmd, sdir.join("log"));
    let found = wait_for(Duration::from_secs(15), || {
        let o = nmblookup(&lan, &["-U", &ip2.to_string(), &smb]);
        stdout(&o)
            .contains(&format!("{ip2} {smb}<00>"))
            .then_some(())
    });
    assert!(
        found.is_some(),
        "Samba's nmbd never answered for {smb}:\n{}",
        samba.log_text()
    );

    // Our nmbd, with Samba's name as an alias.
    let odir = scratch.path().join("ours");
    let oconf = conf(&odir, &ours, &format!(" netbios aliases = {smb}\n"));
    let mut cmd = lan.cmd(1, bin("nmbd").to_str().unwrap());
    cmd.args(["-F", "--debug-stdout", "-d", "3", "-s"])
        .arg(&oconf);
    let mut our = Daemon::start(cmd, odir.join("log"));
    assert!(
        our.wait_log(&format!("name={ours}<20>"), Duration::from_secs(10))
            && our.wait_log("registered", Duration::from_secs(10)),
        "our nmbd did not register:\n{}",
        our.log_text()
    );
    // We do not take Samba's unique name: its answer is logged as a refusal.
    assert!(
        our.wait_log(
            &format!("could not register our name {smb}<00>: {ip2} answered ACT_ERR"),
            Duration::from_secs(10)
        ),
        "{}",
        our.log_text()
    );
    let status = lan
        .cmd(1, bin("nmbd").to_str().unwrap())
        .arg("-s")
        .arg(&oconf)
        .arg("--status")
        .output()
        .unwrap();
    let status = stdout(&status);
    assert!(status.contains(&format!("{ours}<20>")), "{status}");
    assert!(
        status.contains(&format!("NOT registered: refused by {ip2}")),
        "{status}"
    );

    // Our names resolve by broadcast; node status lists them.
    let o = nmblookup(&lan, &["-B", &bcast.to_string(), &ours]);
    assert!(
        stdout(&o).contains(&format!("{ip1} {ours}<00>")),
        "{}\n{}",
        stdout(&o),
        our.log_text()
    );
    let o = nmblookup(&lan, &["-B", &bcast.to_string(), "NBTESTWG#1e"]);
    assert!(
        stdout(&o).contains(&format!("{ip1} NBTESTWG<1e>")),
        "{}",
        stdout(&o)
    );
    let o = nmblookup(&lan, &["-A", &ip1.to_string()]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("<ACTIVE>")).collect();
    assert!(
        lines[0].contains(&ours) && lines[0].contains("<00>"),
        "{text}"
    );
    for (n, group) in [
        (format!("{ours:<15} <00> -         B"), false),
        (format!("{ours:<15} <03> -         B"), false),
        (format!("{ours:<15} <20> -         B"), false),
        ("NBTESTWG        <00> - <GROUP> B".to_string(), true),
        ("NBTESTWG        <1e> - <GROUP> B".to_string(), true),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(&n)),
            "{n} (group {group}) in {text}"
        );
    }
    assert!(
        !text.contains(&format!("{smb} ")),
        "refused alias listed: {text}"
    );
    assert!(text.contains("MAC Address = "), "{text}");
    // An unknown name, unicast: a negative answer (nmblookup says so at once).
    let o = nmblookup(&lan, &["-U", &ip1.to_string(), "NOSUCHNAME"]);
    assert!(
        stdout(&o).contains("failed to find name NOSUCHNAME"),
        "{}",
        stdout(&o)
    );
    drop(samba);

    // Samba's nmbd as OURS: we defend our names, it says it failed.
    let sdir = scratch.path().join("samba2");
    let sconf = conf(&sdir, &ours, "");
    let mut cmd = lan.cmd(2, "/usr/sbin/nmbd");
    cmd.args(["-F", "--debug-stdout", "-s"]).arg(&sconf);
    let samba = Daemon::start(cmd, sdir.join("log"));
    assert!(
        samba.wait_log(
            &format!("Failed to register my name {ours}<20>"),
            Duration::from_secs(15)
        ),
        "Samba took our name:\n{}",
        samba.log_text()
    );
    assert!(our.log_text().contains("refused"), "{}", our.log_text());
    drop(samba);

    // SIGTERM: our names are released by broadcast.
    let listener = lan.in_ns(3, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(bcast, 137)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    });
    signal(our.child.id() as i32, Signal::SIGTERM);
    let mut released = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 600];
    while Instant::now() < deadline && released.len() < 5 {
        if let Ok((n, from)) = listener.recv_from(&mut buf)
            && from.ip() == std::net::IpAddr::V4(ip1)
            && let Ok(Message::Release { header, name, .. }) = Message::parse(&buf[..n])
        {
            assert_eq!(header.opcode, Opcode::Release);
            released.push(name.to_string());
        }
    }
    for n in ["00", "03", "20"] {
        assert!(released.contains(&format!("{ours}<{n}>")), "{released:?}");
    }
    let exited = wait_for(Duration::from_secs(5), || {
        our.child.try_wait().ok().flatten()
    });
    assert!(exited.is_some_and(|s| s.success()), "{}", our.log_text());
    assert!(started.elapsed() < Duration::from_secs(60));
    let _: Ipv4Addr = ip1;
}

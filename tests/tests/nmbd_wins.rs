//! Our nmbd as a WINS server (`wins support = yes`) on a bridge between
//! network namespaces (root only; under CI=true a missing root fails):
//!
//! - Samba's smbtorture NBT tests listed in tests/smbtorture/nmbd-pass.txt,
//!   run from a second namespace against our nmbd;
//! - our own client: a name challenge the old owner answers (refused), one
//!   it does not (the name moves), a release by a non-owner (refused), and
//!   the database surviving a restart;
//! - `wins server = IP`: our nmbd registers its names with Samba's nmbd as
//!   the WINS server and releases them at shutdown.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::netbios::NbName;
use nmbd::wire::nbns::{Message, NbEntry, Opcode, Packet, RData, build, nbflags, rcode};
use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, bin, require_root, wait_for};

fn conf(dir: &Path, name: &str, wins: &str) -> PathBuf {
    nmbd_conf(
        dir,
        "WINSTESTWG",
        name,
        &format!(" interfaces = eth0\n bind interfaces only = yes\n {wins}\n"),
    )
}

/// Our nmbd at debug level 3 in namespace `ns`.
fn our_nmbd(lan: &Lan, ns: usize, conf: &Path, log: PathBuf) -> Daemon {
    Daemon::nmbd_at(lan, ns, bin("nmbd").to_str().unwrap(), 3, conf, log)
}

fn listed() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("smbtorture/nmbd-pass.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn smbtorture_nbt_against_our_wins() {
    if !require_root("smbtorture_nbt_against_our_wins") {
        return;
    }
    let scratch = Scratch::new();
    let lan = Lan::new(2, 2);
    let ours = format!("WINS{}", std::process::id() % 10000);
    let dir = scratch.path().join("ours");
    let our = our_nmbd(
        &lan,
        1,
        &conf(&dir, &ours, "wins support = yes"),
        dir.join("log"),
    );
    assert!(
        our.wait_log(
            &format!("registered subnet={} name={ours}<20>", lan.ip(1)),
            Duration::from_secs(10)
        ),
        "{}",
        our.log_text()
    );
    // smbtorture's own loadparm: the interface it speaks from.
    let client = scratch.path().join("client.conf");
    std::fs::write(&client, "[global]\n interfaces = eth0\n").unwrap();
    let mut failed = Vec::new();
    for test in listed() {
        let started = Instant::now();
        let out = lan
            .cmd(2, "timeout")
            .args(["300", "smbtorture", &format!("//{ours}/x"), "-s"])
            .arg(&client)
            .args(["--option=name resolve order=bcast", &test])
            .stdin(Stdio::null())
            .output()
            .expect("run smbtorture (samba-testsuite)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let leaf = test.rsplit('.').next().unwrap();
        let ok = text.contains(&format!("success: {leaf}")) && !text.contains("failure:");
        eprintln!(
            "{test}: {} in {:.1?}",
            if ok { "pass" } else { "FAIL" },
            started.elapsed()
        );
        if !ok {
            failed.push(format!("{test}:\n{text}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{}\n--- nmbd log ---\n{}",
        failed.join("\n"),
        our.log_text()
    );
    our.stop();
}

/// A UDP socket in namespace `ns` on `ip:port`.
fn socket(lan: &Lan, ns: usize, ip: Ipv4Addr, port: u16) -> UdpSocket {
    lan.in_ns(ns, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(ip, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    })
}

fn send(s: &UdpSocket, to: Ipv4Addr, p: &Packet) {
    s.send_to(&p.to_bytes().unwrap(), SocketAddrV4::new(to, 137))
        .unwrap();
}

/// The next name service message on `s` within `limit`.
fn recv(s: &UdpSocket, limit: Duration) -> Option<(Message, std::net::SocketAddr)> {
    let mut buf = [0u8; 600];
    wait_for(limit, || {
        let (n, from) = s.recv_from(&mut buf).ok()?;
        Some((Message::parse(&buf[..n]).ok()?, from))
    })
}

fn unicast_registration(trn: u16, name: &NbName, addr: Ipv4Addr) -> Packet {
    let e = NbEntry {
        flags: nbflags::ONT_H,
        addr,
    };
    let mut p = build::registration(trn, name, 3600, e);
    p.header.broadcast = false;
    p
}

/// Waits past any WACK for the final registration/release response.
fn final_response(s: &UdpSocket, trn: u16) -> (Opcode, u8, Duration) {
    let started = Instant::now();
    loop {
        let (m, _) = recv(s, Duration::from_secs(10)).expect("an answer from the WINS server");
        if let Message::Response { header, .. } = m
            && header.trn_id == trn
            && header.opcode != Opcode::Wack
        {
            return (header.opcode, header.rcode, started.elapsed());
        }
    }
}

fn query(s: &UdpSocket, server: Ipv4Addr, trn: u16, name: &NbName) -> (u8, Vec<Ipv4Addr>) {
    let mut p = build::registration(
        trn,
        name,
        0,
        NbEntry {
            flags: 0,
            addr: Ipv4Addr::UNSPECIFIED,
        },
    );
    p.header.opcode = Opcode::Query;
    p.header.broadcast = false;
    p.additional.clear();
    send(s, server, &p);
    let (m, _) = recv(s, Duration::from_secs(3)).expect("query answer");
    match m {
        Message::Response { header, record } => {
            let addrs = match record.rdata {
                RData::Nb(e) => e.iter().map(|e| e.addr).collect(),
                _ => vec![],
            };
            (header.rcode, addrs)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wins_challenge_release_and_restart() {
    if !require_root("wins_challenge_release_and_restart") {
        return;
    }
    let scratch = Scratch::new();
    let lan = Lan::new(3, 3);
    let (ip1, ip2, ip3) = (lan.ip(1), lan.ip(2), lan.ip(3));
    let ours = format!("WINR{}", std::process::id() % 10000);
    let dir = scratch.path().join("ours");
    let conf = conf(&dir, &ours, "wins support = yes");
    let our = our_nmbd(&lan, 1, &conf, dir.join("log"));
    assert!(
        our.wait_log("WINS server on", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );

    // ns2 owns KEEP and MOVES from port 137, where challenges arrive.
    let owner = socket(&lan, 2, ip2, 137);
    let other = socket(&lan, 3, ip3, 0);
    let keep = NbName::new("KEEP", 0).unwrap();
    let moves = NbName::new("MOVES", 0).unwrap();
    for (trn, n) in [(1, &keep), (2, &moves)] {
        send(&owner, ip1, &unicast_registration(trn, n, ip2));
        assert_eq!(
            final_response(&owner, trn).1,
            rcode::OK,
            "{}",
            our.log_text()
        );
    }

    // ns3 wants KEEP: a WACK, a challenge query to ns2, which answers for it.
    send(&other, ip1, &unicast_registration(10, &keep, ip3));
    let (wack, _) = recv(&other, Duration::from_secs(2)).expect("WACK");
    assert!(
        matches!(&wack, Message::Response { header, .. } if header.opcode == Opcode::Wack && header.trn_id == 10),
        "{wack:?}"
    );
    let (challenge, from) = recv(&owner, Duration::from_secs(3)).expect("challenge query");
    let Message::NameQuery { trn_id, name, .. } = challenge else {
        panic!("{challenge:?}");
    };
    assert_eq!(name, keep);
    let answer = build::query_positive(
        trn_id,
        false,
        &keep,
        3600,
        vec![NbEntry {
            flags: nbflags::ONT_H,
            addr: ip2,
        }],
    );
    owner.send_to(&answer.to_bytes().unwrap(), from).unwrap();
    assert_eq!(final_response(&other, 10).1, rcode::ACT_ERR);

    // ns3 wants MOVES and ns2 keeps quiet: after the queries, it moves.
    send(&other, ip1, &unicast_registration(11, &moves, ip3));
    let (_, rc, took) = final_response(&other, 11);
    assert_eq!(rc, rcode::OK);
    assert!(took >= Duration::from_secs(2), "granted after {took:?}");

    // ns3 may not release ns2's name.
    let mut rel = build::release(
        12,
        &keep,
        NbEntry {
            flags: nbflags::ONT_H,
            addr: ip2,
        },
    );
    rel.header.broadcast = false;
    send(&other, ip1, &rel);
    let (op, rc, _) = final_response(&other, 12);
    assert_eq!((op, rc), (Opcode::Release, rcode::ACT_ERR));
    assert_eq!(query(&other, ip1, 13, &keep), (rcode::OK, vec![ip2]));

    // A restart keeps the names (and their owners) from the database.
    our.stop();
    assert!(dir.join("state/wins.db").is_file());
    let our = our_nmbd(&lan, 1, &conf, dir.join("log2"));
    assert!(
        our.wait_log("WINS server on", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    assert!(our.log_text().contains("names=2"), "{}", our.log_text());
    let answered = wait_for(Duration::from_secs(5), || {
        let s = socket(&lan, 3, ip3, 0);
        let (rc, a) = query(&s, ip1, 14, &moves);
        (rc == rcode::OK).then_some(a)
    });
    assert_eq!(answered, Some(vec![ip3]), "{}", our.log_text());
    assert_eq!(query(&other, ip1, 15, &keep), (rcode::OK, vec![ip2]));
    // `nmbd --status` shows the WINS database and who owns each name.
    let status = lan
        .cmd(1, bin("nmbd").to_str().unwrap())
        .arg("-s")
        .arg(&conf)
        .arg("--status")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("WINS server: "), "{status}");
    let line = |n: &NbName| {
        status
            .lines()
            .find(|l| l.trim_start().starts_with(&n.to_string()))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line(&keep).contains(&ip2.to_string()), "{status}");
    assert!(line(&moves).contains(&ip3.to_string()), "{status}");
    // The owner releases its name.
    let mut rel = build::release(
        16,
        &keep,
        NbEntry {
            flags: nbflags::ONT_H,
            addr: ip2,
        },
    );
    rel.header.broadcast = false;
    send(&owner, ip1, &rel);
    assert_eq!(final_response(&owner, 16).1, rcode::OK);
    assert_eq!(query(&other, ip1, 17, &keep).0, rcode::NAM_ERR);
    our.stop();
}

#[test]
fn our_names_registered_with_samba_as_wins_server() {
    if !require_root("our_names_registered_with_samba_as_wins_server") {
        return;
    }
    let scratch = Scratch::new();
    let lan = Lan::new(4, 3);
    let (ip1, ip2) = (lan.ip(1), lan.ip(2));
    let pid = std::process::id() % 10000;
    let (samba, ours) = (format!("SWINS{pid}"), format!("WCLI{pid}"));
    let sdir = scratch.path().join("samba");
    let sconf = conf(&sdir, &samba, "wins support = yes");
    let server = Daemon::nmbd_at(&lan, 1, "/usr/sbin/nmbd", 3, &sconf, sdir.join("log"));
    let dir = scratch.path().join("ours");
    let oconf = conf(&dir, &ours, &format!("wins server = {ip1}"));
    let our = our_nmbd(&lan, 2, &oconf, dir.join("log"));
    // Registered by broadcast first (about 4 s), then with the server.
    assert!(
        our.wait_log(
            &format!("registered with the WINS server name={ours}<20>"),
            Duration::from_secs(20)
        ),
        "{}\n--- Samba ---\n{}",
        our.log_text(),
        server.log_text()
    );
    let sock = socket(&lan, 3, lan.ip(3), 0);
    let name = NbName::new(&ours, 0x20).unwrap();
    assert_eq!(
        query(&sock, ip1, 1, &name),
        (rcode::OK, vec![ip2]),
        "{}",
        server.log_text()
    );
    // Our workgroup, a group name, is there too.
    let wg = NbName::new("WINSTESTWG", 0x1e).unwrap();
    assert_eq!(query(&sock, ip1, 2, &wg).0, rcode::OK);
    // SIGTERM: released at the server too.
    our.stop();
    let gone = wait_for(Duration::from_secs(5), || {
        (query(&sock, ip1, 3, &name).0 == rcode::NAM_ERR).then_some(())
    });
    assert!(gone.is_some(), "{}", server.log_text());
    drop(server);
}

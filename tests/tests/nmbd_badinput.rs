//! Bad datagrams and a flood against our nmbd, in network namespaces
//! (root only).
//!
//! ns1: our nmbd (OURS, interfaces = eth0); ns2: the attacker, sending raw
//! datagrams to ns1's unicast address on ports 137 and 138; ns3: a
//! well-behaved client whose name queries must be answered all along.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::netbios::NbName;
use nmbd::wire::browse::{BrowseFrame, Election};
use nmbd::wire::dgram::{Datagram, DgramHeader, MailslotWrite, MsgType, NodeType};
use nmbd::wire::nbns::{Message, Packet, build};
use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, require_root, wait_for};

fn conf(dir: &Path, name: &str) -> PathBuf {
    nmbd_conf(
        dir,
        "NBBADWG",
        name,
        " interfaces = eth0\n bind interfaces only = yes\n",
    )
}

/// A socket bound in namespace `ns` to its address, any port.
fn socket(lan: &Lan, ns: usize) -> UdpSocket {
    let ip = lan.ip(ns);
    lan.in_ns(ns, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(ip, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        s
    })
}

/// Sends a unicast name query for `name` to `to` every 250 ms until a
/// positive answer with our transaction id comes back or `limit` passes;
/// how long that took.
fn query(
    s: &UdpSocket,
    to: Ipv4Addr,
    name: &NbName,
    trn_id: u16,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let bytes = build::query(trn_id, name, false).to_bytes().unwrap();
    let mut buf = [0u8; 1024];
    while start.elapsed() < limit {
        s.send_to(&bytes, SocketAddrV4::new(to, 137)).unwrap();
        let resend = Instant::now() + Duration::from_millis(250);
        while Instant::now() < resend {
            let Ok((n, _)) = s.recv_from(&mut buf) else {
                continue;
            };
            if let Ok(Message::Response { header, record }) = Message::parse(&buf[..n])
                && header.trn_id == trn_id
                && header.rcode == 0
                && record.name == *name
            {
                return Some(start.elapsed());
            }
        }
    }
    None
}

/// A well-formed unicast query for `name` (50 bytes: header, the name at
/// 12 in 34 bytes, qtype, qclass).
fn good_query(name: &NbName) -> Vec<u8> {
    build::query(0x1234, name, false).to_bytes().unwrap()
}

/// Name service datagrams that must all be refused by the parser, each
/// with what is wrong with it.
fn bad_nbns(name: &NbName) -> Vec<(&'static str, Vec<u8>)> {
    let q = good_query(name);
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("shorter than the header", q[..5].to_vec()),
        ("name cut short", q[..30].to_vec()),
        ("qtype cut short", q[..47].to_vec()),
    ];
    // Counts beyond the packet: 0xffff additional records.
    let mut counts = q.clone();
    counts[10..12].copy_from_slice(&[0xff, 0xff]);
    v.push(("counts beyond the packet", counts));
    // The question name is a pointer to itself.
    let mut own = q[..12].to_vec();
    own.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1]);
    v.push(("pointer to itself", own));
    // Two pointers pointing at each other (a loop; the first points
    // forward).
    let mut l = q[..12].to_vec();
    l.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 0x20, 0, 1]);
    v.push(("pointer loop", l));
    // A long pointer chain: the question, then 11 additional records whose
    // names each point at the previous record's name.
    let mut chain = q.clone();
    chain[10..12].copy_from_slice(&[0, 11]);
    let mut prev = 12u8;
    for _ in 0..11 {
        let at = chain.len() as u8;
        chain.extend_from_slice(&[0xc0, prev, 0, 0x20, 0, 1, 0, 0, 0, 60, 0, 6]);
        chain.extend_from_slice(&[0, 0, 10, 0, 0, 1]);
        prev = at;
    }
    assert!(chain.len() < 256);
    v.push(("long pointer chain", chain));
    // An over-long scope: five 63-byte labels after the name.
    let mut long = q[..12 + 33].to_vec();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(&[0, 0, 0x20, 0, 1]);
    v.push(("over-long scope", long));
    // The first label of length 33.
    let mut first = q.clone();
    first[12] = 33;
    v.push(("first label not 32", first));
    // A letter outside 'A'..'P' in the encoded name.
    let mut letter = q.clone();
    letter[13] = b'Z';
    v.push(("bad letter", letter));
    // Unknown opcode 3.
    let mut op = q.clone();
    op[2] = (op[2] & 0x87) | (3 << 3);
    v.push(("unknown opcode", op));
    for (what, b) in &v {
        assert!(Packet::parse(b).is_err(), "{what} parses");
    }
    v
}

/// A browser election datagram from `src` to `to` (port 138, SMB mailslot
/// write to \MAILSLOT\BROWSE).
fn good_dgram(src: Ipv4Addr, to: &NbName) -> Vec<u8> {
    let frame = BrowseFrame::RequestElection(Election {
        version: 1,
        criteria: 0x0101_0f02,
        uptime_ms: 5,
        server_name: "ATTACKER".into(),
    });
    Datagram::Data {
        msg_type: MsgType::DirectGroup,
        header: DgramHeader {
            more: false,
            first: true,
            node_type: NodeType::B,
            id: 7,
            source_ip: src,
            source_port: 138,
        },
        packet_offset: 0,
        source: NbName::new("ATTACKER", 0).unwrap(),
        destination: to.clone(),
        data: MailslotWrite::browse(frame.to_vec()).to_vec(),
    }
    .to_vec()
}

/// Datagram service packets that must be refused.
fn bad_dgram(src: Ipv4Addr, to: &NbName) -> Vec<(&'static str, Vec<u8>)> {
    let d = good_dgram(src, to);
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![("truncated header", d[..9].to_vec())];
    v.push(("names cut short", d[..40].to_vec()));
    // dgm length (at 10) beyond the packet.
    let mut len = d.clone();
    len[10..12].copy_from_slice(&[0xff, 0xf0]);
    v.push(("dgm length beyond the packet", len));
    // The SMB starts after the 14-byte header and two 34-byte names; its
    // data offset (SMB 57) points past the SMB.
    let smb = 14 + 34 + 34;
    let mut off = d.clone();
    off[smb + 57..smb + 59].copy_from_slice(&0xfff0u16.to_le_bytes());
    v.push(("SMB data offset beyond the SMB", off));
    // Data count (SMB 55) larger than the bytes.
    let mut count = d.clone();
    count[smb + 55..smb + 57].copy_from_slice(&0x4000u16.to_le_bytes());
    v.push(("SMB data count beyond the SMB", count));
    // A fragment that is not the first (packet offset 100, FIRST clear).
    let mut frag = d.clone();
    frag[1] &= !0x02;
    frag[12..14].copy_from_slice(&100u16.to_be_bytes());
    v.push(("not the first fragment", frag));
    v
}

fn dropped_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("dropped")).collect()
}

#[test]
fn bad_datagrams_and_flood() {
    if !require_root("bad_datagrams_and_flood") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(5, 3);
    let pid = std::process::id() % 10000;
    let ours = format!("OURS{pid}");
    let (ip1, ip2) = (lan.ip(1), lan.ip(2));
    let name = NbName::new(&ours, 0x20).unwrap();
    let wg = NbName::new("NBBADWG", 0x1e).unwrap();

    let dir = scratch.path().join("ours");
    let our = Daemon::nmbd(&lan, 1, &conf(&dir, &ours), dir.join("log"));
    assert!(
        our.wait_log("browsing on subnet", Duration::from_secs(15)),
        "our nmbd did not start browsing:\n{}",
        our.log_text()
    );
    let attacker = socket(&lan, 2);
    let client = socket(&lan, 3);
    let t = query(&client, ip1, &name, 1, Duration::from_secs(3));
    assert!(
        t.is_some(),
        "no answer before the attack:\n{}",
        our.log_text()
    );

    // Every kind of bad datagram, a few times, to 137 and 138.
    let to137 = SocketAddrV4::new(ip1, 137);
    let to138 = SocketAddrV4::new(ip1, 138);
    let nbns = bad_nbns(&name);
    let dgram = bad_dgram(ip2, &wg);
    for _ in 0..5 {
        for (_, b) in &nbns {
            attacker.send_to(b, to137).unwrap();
        }
        for (_, b) in &dgram {
            attacker.send_to(b, to138).unwrap();
        }
    }
    let t = query(&client, ip1, &name, 2, Duration::from_secs(3));
    assert!(
        t.is_some(),
        "no answer after bad input:\n{}",
        our.log_text()
    );
    // The first bad datagram of each service is logged at once, with its
    // source and reason; the rest wait for the end of the window.
    let first = wait_for(Duration::from_secs(2), || {
        let log = our.log_text();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains("dropped bad datagram:"))
            .map(str::to_string)
            .collect();
        (lines.len() >= 2).then_some(lines)
    });
    let Some(first) = first else {
        panic!("bad datagrams not logged:\n{}", our.log_text());
    };
    assert!(
        first
            .iter()
            .any(|l| l.contains("shorter than the 12-byte header")),
        "{first:?}"
    );
    assert!(
        first.iter().all(|l| l.contains(&format!("source={ip2}"))),
        "{first:?}"
    );

    // A flood from ns2: good queries, bad datagrams to both ports, as fast
    // as one sender goes; meanwhile ns3 asks.
    const FLOOD: usize = 6000;
    let flood_sock = attacker.try_clone().unwrap();
    let good = good_query(&name);
    let flood = std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent = 0usize;
        for i in 0..FLOOD {
            let r = match i % 3 {
                0 => flood_sock.send_to(&good, to137),
                1 => flood_sock.send_to(&nbns[i % nbns.len()].1, to137),
                _ => flood_sock.send_to(&dgram[i % dgram.len()].1, to138),
            };
            sent += usize::from(r.is_ok());
        }
        (sent, start.elapsed())
    });
    let mut during = Vec::new();
    let mut trn = 100;
    while !flood.is_finished() || during.is_empty() {
        trn += 1;
        during.push(query(&client, ip1, &name, trn, Duration::from_secs(3)));
    }
    let (sent, took) = flood.join().unwrap();
    eprintln!("flood: {sent} datagrams in {took:?}; answers to ns3 meanwhile: {during:?}");
    assert!(sent >= FLOOD * 9 / 10, "{sent}");
    assert!(
        during.iter().all(Option::is_some),
        "ns3 unanswered during the flood: {during:?}\n{}",
        our.log_text()
    );

    // Right after: ns3 and the flooder itself are answered.
    let t = query(&client, ip1, &name, 3, Duration::from_secs(3));
    assert!(t.is_some(), "ns3 unanswered after the flood");
    let t = query(&attacker, ip1, &name, 4, Duration::from_secs(3));
    assert!(t.is_some(), "ns2 unanswered after its flood");

    // The summaries of the window come when it ends (5 s).
    assert!(
        wait_for(Duration::from_secs(7), || {
            our.log_text().contains("more bad datagrams").then_some(())
        })
        .is_some(),
        "no summary line:\n{}",
        our.log_text()
    );
    let log = our.log_text();
    let dropped = dropped_lines(&log);
    assert!(
        dropped.len() < 20,
        "{} dropped lines for {} bad datagrams:\n{log}",
        dropped.len(),
        FLOOD * 2 / 3
    );
    let src = format!("source={ip2}");
    assert!(
        dropped.iter().all(|l| l.contains(&src)),
        "a dropped line without the source:\n{log}"
    );
    assert!(
        dropped
            .iter()
            .any(|l| l.contains("pointer") || l.contains("name at offset"))
            || dropped.iter().any(|l| l.contains("last:")),
        "{log}"
    );
    let mut our = our;
    assert!(our.child.try_wait().unwrap().is_none(), "nmbd died:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    eprintln!("{} dropped lines:\n{}", dropped.len(), dropped.join("\n"));
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

//! Packets captured with tshark on a bridge between network namespaces:
//! Samba 4.17's nmbd (netbios name REFSRV, workgroup TESTGRP, 10.98.0.2),
//! a second Samba nmbd with the same name (10.98.0.1), and Debian's
//! nmblookup (10.98.0.3). UDP payloads only.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Samba's broadcast registration of REFSRV<20> (unique, B-node).
const REG_UNIQUE: &str = "3f9d291000010000000000012046434546454746444643464743414341434143414341434143414341434143410000200001c00c0020000100000000000600000a620002";
/// Samba's broadcast registration of TESTGRP<00> (group).
const REG_GROUP: &str = "3fa0291000010000000000012046454546464446454548464346414341434143414341434143414341434141410000200001c00c0020000100000000000680000a620002";
/// `nmblookup -B 10.98.0.255 REFSRV`.
const QUERY_BCAST: &str = "407b011000010000000000002046434546454746444643464743414341434143414341434143414341434141410000200001";
/// Samba's answer to it.
const QUERY_POSITIVE: &str = "407b8580000000010000000020464345464547464446434647434143414341434143414341434143414341414100002000010003f480000600000a620002";
/// `nmblookup -U 10.98.0.2 NOSUCH`.
const QUERY_UNICAST: &str = "5cbc0000000100000000000020454f4550464446464544454943414341434143414341434143414341434141410000200001";
/// Samba's answer to it.
const QUERY_NEGATIVE: &str = "5cbc8583000000010000000020454f45504644464645444549434143414341434143414341434143414341414100000a0001000000000000";
/// `nmblookup -A 10.98.0.2`.
const STATUS_QUERY: &str = "5e3f0000000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000210001";
/// Samba's node status answer (5 names, MAC 0).
const STATUS_RESPONSE: &str = "5e3f8400000000010000000020434b4141414141414141414141414141414141414141414141414141414141410000210001000000000089055245465352562020202020202020200004005245465352562020202020202020200304005245465352562020202020202020202004005445535447525020202020202020200084005445535447525020202020202020201e840000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
/// Samba's negative registration response to the other REFSRV<20>.
const REG_NEGATIVE: &str = "3fb9ad860000000100000000204643454645474644464346474341434143414341434143414341434143414341000020000100000000000600000a620001";

/// Parses, checks the emitter gives back the same bytes in a buffer
/// pre-filled with 0xa5, and returns the packet.
fn round_trip(s: &str) -> Packet {
    let bytes = hex(s);
    let p = Packet::parse(&bytes).unwrap();
    let mut buf = [0xa5u8; 600];
    let n = p.emit(&mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..], "re-emitted {p:?}");
    assert_eq!(buf[n], 0xa5);
    p
}

fn name(s: &str, suffix: u8) -> NbName {
    NbName::new(s, suffix).unwrap()
}

const REFSRV_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);

#[test]
fn registrations() {
    let p = round_trip(REG_UNIQUE);
    assert_eq!(p.header.opcode, Opcode::Registration);
    assert!(p.header.broadcast && p.header.recursion_desired && !p.header.response);
    let m = Message::from_packet(p.clone());
    let entry = NbEntry {
        flags: 0,
        addr: REFSRV_IP,
    };
    assert_eq!(
        m,
        Message::Registration {
            header: p.header,
            name: name("REFSRV", 0x20),
            ttl: 0,
            entry,
        }
    );
    // Our builder makes the same bytes.
    let ours = build::registration(0x3f9d, &name("REFSRV", 0x20), 0, entry);
    assert_eq!(ours.to_bytes().unwrap(), hex(REG_UNIQUE));

    let p = round_trip(REG_GROUP);
    let Message::Registration { name: n, entry, .. } = Message::from_packet(p) else {
        panic!()
    };
    assert_eq!(n, name("TESTGRP", 0));
    assert!(entry.is_group());
}

#[test]
fn queries() {
    let m = Message::from_packet(round_trip(QUERY_BCAST));
    assert_eq!(
        m,
        Message::NameQuery {
            trn_id: 0x407b,
            broadcast: true,
            recursion_desired: true,
            name: name("REFSRV", 0),
        }
    );
    let p = round_trip(QUERY_POSITIVE);
    let ours = build::query_positive(
        0x407b,
        true,
        &name("REFSRV", 0),
        259200,
        vec![NbEntry {
            flags: 0,
            addr: REFSRV_IP,
        }],
    );
    assert_eq!(ours, p);

    let m = Message::from_packet(round_trip(QUERY_UNICAST));
    assert!(matches!(
        m,
        Message::NameQuery {
            broadcast: false,
            recursion_desired: false,
            ..
        }
    ));
    let p = round_trip(QUERY_NEGATIVE);
    assert_eq!(p.header.rcode, rcode::NAM_ERR);
    assert_eq!(build::query_negative(0x5cbc, true, &name("NOSUCH", 0)), p);
}

#[test]
fn node_status() {
    // Our query is nmblookup -A's, byte for byte.
    assert_eq!(
        build::status_query(0x5e3f, &NbName::any()),
        round_trip(STATUS_QUERY)
    );
    let m = Message::from_packet(round_trip(STATUS_QUERY));
    assert_eq!(
        m,
        Message::NodeStatusQuery {
            trn_id: 0x5e3f,
            name: NbName::any(),
        }
    );
    let p = round_trip(STATUS_RESPONSE);
    let RData::NodeStatus(ns) = &p.answers[0].rdata else {
        panic!()
    };
    let got: Vec<(String, u16)> = ns
        .names
        .iter()
        .map(|n| (n.name.to_string(), n.flags))
        .collect();
    assert_eq!(
        got,
        [
            ("REFSRV<00>".to_string(), 0x0400),
            ("REFSRV<03>".into(), 0x0400),
            ("REFSRV<20>".into(), 0x0400),
            ("TESTGRP<00>".into(), 0x8400),
            ("TESTGRP<1e>".into(), 0x8400),
        ]
    );
    assert_eq!(build::node_status(0x5e3f, &NbName::any(), ns.clone()), p);
}

#[test]
fn negative_registration_response() {
    let p = round_trip(REG_NEGATIVE);
    assert_eq!(p.header.rcode, rcode::ACT_ERR);
    let ours = build::negative(
        0x3fb9,
        Opcode::Registration,
        true,
        rcode::ACT_ERR,
        &name("REFSRV", 0x20),
        NbEntry {
            flags: 0,
            addr: Ipv4Addr::new(10, 98, 0, 1),
        },
    );
    assert_eq!(ours, p);
    assert!(matches!(
        Message::from_packet(p),
        Message::Response { header, .. } if header.rcode == rcode::ACT_ERR
    ));
}

#[test]
fn bad_input() {
    let reg = hex(REG_UNIQUE);
    // Every truncation of a good packet is an error, never a panic.
    for n in 0..reg.len() {
        assert!(Packet::parse(&reg[..n]).is_err(), "truncated at {n}");
    }
    assert_eq!(Packet::parse(&reg[..5]), Err(NbnsError::ShortHeader(5)));
    // Counts beyond the packet.
    let mut counts = reg.clone();
    counts[10..12].copy_from_slice(&[0xff, 0xff]);
    assert!(matches!(
        Packet::parse(&counts),
        Err(NbnsError::CountsBeyondPacket { ar: 0xffff, .. })
    ));
    // rdlength beyond the packet.
    let mut rdlen = reg.clone();
    let at = rdlen.len() - 8;
    rdlen[at..at + 2].copy_from_slice(&[0, 60]);
    assert!(matches!(
        Packet::parse(&rdlen),
        Err(NbnsError::RdataBeyondPacket { rdlength: 60, .. })
    ));
    // NB rdata not a multiple of 6.
    let mut nb5 = reg.clone();
    nb5[at..at + 2].copy_from_slice(&[0, 5]);
    assert_eq!(Packet::parse(&nb5), Err(NbnsError::NbRdataLength(5)));
    // A pointer to itself and a pointer forward.
    let mut ptr = reg.clone();
    ptr[50..52].copy_from_slice(&[0xc0, 50]);
    assert!(matches!(
        Packet::parse(&ptr),
        Err(NbnsError::Name {
            at: 50,
            err: NameError::PointerForward(50, 50)
        })
    ));
    // A bad first label length.
    let mut label = reg.clone();
    label[12] = 0x21;
    assert!(matches!(
        Packet::parse(&label),
        Err(NbnsError::Name {
            err: NameError::FirstLabel(0x21, 12),
            ..
        })
    ));
    // A label length with the reserved bits 01.
    let mut ext = reg.clone();
    ext[45] = 0x41;
    assert!(matches!(
        Packet::parse(&ext),
        Err(NbnsError::Name {
            err: NameError::LabelLength(0x41, 45),
            ..
        })
    ));
    // Unknown opcode 3.
    let mut op = reg.clone();
    op[2] = 0x19;
    assert_eq!(Packet::parse(&op), Err(NbnsError::UnknownOpcode(3)));
    // Node status with a count beyond its rdata.
    let mut ns = hex(STATUS_RESPONSE);
    ns[56] = 8;
    assert!(matches!(
        Packet::parse(&ns),
        Err(NbnsError::NodeStatusLength { count: 8, .. })
    ));
    // Short statistics (some devices): the names are taken, as by Samba.
    let mut short = hex(STATUS_RESPONSE);
    short.truncate(short.len() - 40);
    let rdlength = u16::from_be_bytes([short[54], short[55]]) - 40;
    short[54..56].copy_from_slice(&rdlength.to_be_bytes());
    let p = Packet::parse(&short).unwrap();
    let RData::NodeStatus(st) = &p.answers[0].rdata else {
        panic!()
    };
    assert_eq!(st.names.len(), 5);
    // An over-long scope: labels past 255 bytes.
    let mut long = hex(STATUS_QUERY)[..45].to_vec();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(&[0, 0, 0x21, 0, 1]);
    assert!(matches!(
        Packet::parse(&long),
        Err(NbnsError::Name {
            err: NameError::NameTooLong,
            ..
        })
    ));
}

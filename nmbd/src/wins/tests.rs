use super::*;
use crate::wire::nbns::build;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const T0: u64 = 1_000_000;

fn src(ip: Ipv4Addr) -> SocketAddrV4 {
    SocketAddrV4::new(ip, 40000)
}

fn server() -> WinsServer {
    WinsServer::new(Database::new(), 137, 100)
}

fn name(s: &str, suffix: u8) -> NbName {
    NbName::new(s, suffix).unwrap()
}

/// A unicast registration (B=0) through the wire codec, as a client sends it.
fn reg_msg(trn: u16, opcode: Opcode, n: &NbName, ttl: u32, group: bool, addr: Ipv4Addr) -> Message {
    let flags = nbflags::ONT_H | if group { nbflags::GROUP } else { 0 };
    let mut p = build::registration(trn, n, ttl, NbEntry { flags, addr });
    p.header.broadcast = false;
    p.header.opcode = opcode;
    Message::parse(&p.to_bytes().unwrap()).unwrap()
}

fn release_msg(trn: u16, n: &NbName, addr: Ipv4Addr) -> Message {
    let mut p = build::release(
        trn,
        n,
        NbEntry {
            flags: nbflags::ONT_H,
            addr,
        },
    );
    p.header.broadcast = false;
    Message::parse(&p.to_bytes().unwrap()).unwrap()
}

fn query_msg(trn: u16, n: &NbName) -> Message {
    Message::NameQuery {
        trn_id: trn,
        broadcast: false,
        recursion_desired: true,
        name: n.clone(),
    }
}

fn only(out: Option<Vec<Out>>) -> Out {
    let mut v = out.expect("a WINS matter");
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

fn rc(o: &Out) -> u8 {
    o.packet.header.rcode
}

fn addrs(o: &Out) -> Vec<Ipv4Addr> {
    match &o.packet.answers[0].rdata {
        RData::Nb(e) => e.iter().map(|e| e.addr).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn new_name_is_granted_with_bounded_ttl_and_queried() {
    let mut w = server();
    let n = name("HOST", 0x20);
    let o = only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 300_000, false, A),
    ));
    assert_eq!(rc(&o), rcode::OK);
    assert_eq!(o.to, src(A));
    assert!(o.packet.header.response && o.packet.header.authoritative);
    assert_eq!(o.packet.answers[0].ttl, 300_000);
    let o = only(w.handle(
        T0,
        src(B),
        &reg_msg(2, Opcode::Registration, &name("X", 0), 5, false, B),
    ));
    assert_eq!(o.packet.answers[0].ttl, MIN_TTL);
    let o = only(w.handle(
        T0,
        src(B),
        &reg_msg(3, Opcode::Registration, &name("Y", 0), u32::MAX, false, B),
    ));
    assert_eq!(o.packet.answers[0].ttl, MAX_TTL);

    let o = only(w.handle(T0 + 10, src(B), &query_msg(4, &n)));
    assert_eq!((rc(&o), addrs(&o)), (rcode::OK, vec![A]));
    assert_eq!(o.packet.answers[0].ttl, 300_000 - 10);
    let o = only(w.handle(T0, src(B), &query_msg(5, &name("NOBODY", 0))));
    assert_eq!(rc(&o), rcode::NAM_ERR);
    // Broadcasts are not for the WINS server.
    let bq = Message::NameQuery {
        trn_id: 6,
        broadcast: true,
        recursion_desired: true,
        name: n,
    };
    assert!(w.handle(T0, src(B), &bq).is_none());
}

#[test]
fn owner_refresh_extends_without_new_version() {
    let mut w = server();
    let n = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 100, false, A),
    ));
    let v = w.record(&n).unwrap().version;
    for op in [Opcode::Refresh(8), Opcode::Refresh(9), Opcode::Registration] {
        let o = only(w.handle(T0 + 50, src(A), &reg_msg(2, op, &n, 100, false, A)));
        assert_eq!(rc(&o), rcode::OK);
        // Answered as a registration, as Samba's WINS server does.
        assert_eq!(o.packet.header.opcode, Opcode::Registration);
    }
    let r = w.record(&n).unwrap();
    assert_eq!((r.version, r.expires), (v, Some(T0 + 150)));
    // A refresh of a name we do not have registers it.
    let m = name("LATE", 0);
    let o = only(w.handle(
        T0,
        src(B),
        &reg_msg(3, Opcode::Refresh(8), &m, 100, false, B),
    ));
    assert_eq!(rc(&o), rcode::OK);
    assert!(w.record(&m).is_some());
}

#[test]
fn challenge_owner_answers_registrant_refused() {
    let mut w = server();
    let n = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 1000, false, A),
    ));
    let out = w
        .handle(
            T0,
            src(B),
            &reg_msg(7, Opcode::Registration, &n, 1000, false, B),
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    let (wack, q) = (&out[0], &out[1]);
    assert_eq!(wack.to, src(B));
    assert_eq!(wack.packet.header.opcode, Opcode::Wack);
    assert_eq!(wack.packet.header.trn_id, 7);
    assert_eq!(wack.packet.answers[0].ttl, 9);
    assert_eq!(q.to, SocketAddrV4::new(A, 137));
    assert_eq!(q.packet.questions[0].name, n);
    assert!(!q.packet.header.broadcast);
    // The same request resent is ignored: no WACK, no second challenge.
    let again = w
        .handle(
            T0,
            src(B),
            &reg_msg(7, Opcode::Registration, &n, 1000, false, B),
        )
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    // A new request for it gets a WACK, still no second challenge.
    let again = only(w.handle(
        T0,
        src(B),
        &reg_msg(8, Opcode::Registration, &n, 1000, false, B),
    ));
    assert_eq!(again.packet.header.opcode, Opcode::Wack);
    // The owner answers for the name: B is refused.
    let answer = build::query_positive(
        q.packet.header.trn_id,
        false,
        &n,
        100,
        vec![NbEntry { flags: 0, addr: A }],
    );
    let answer = Message::parse(&answer.to_bytes().unwrap()).unwrap();
    // From the wrong address: ignored.
    assert!(w.handle(T0 + 1, src(B), &answer).is_none());
    let o = only(w.handle(T0 + 1, SocketAddrV4::new(A, 137), &answer));
    assert_eq!((o.to, rc(&o)), (src(B), rcode::ACT_ERR));
    // The answer goes to the latest request.
    assert_eq!(o.packet.header.trn_id, 8);
    assert_eq!(
        addrs(&only(w.handle(T0, src(B), &query_msg(9, &n)))),
        vec![A]
    );
}

#[test]
fn challenge_unanswered_or_denied_moves_the_name() {
    let mut w = server();
    let n = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 1000, false, A),
    ));
    let v = w.record(&n).unwrap().version;
    w.handle(
        T0,
        src(B),
        &reg_msg(7, Opcode::Registration, &n, 1000, false, B),
    )
    .unwrap();
    let mut queries = 1;
    let granted = loop {
        let out = w.tick(T0 + queries);
        if let Some(o) = out.iter().find(|o| o.to == src(B)) {
            break o.clone();
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to, SocketAddrV4::new(A, 137));
        queries += 1;
        assert!(queries < 10);
    };
    assert_eq!(queries, u64::from(CHALLENGE_TRIES));
    assert_eq!((rc(&granted), granted.packet.header.trn_id), (rcode::OK, 7));
    let r = w.record(&n).unwrap();
    assert_eq!(r.addrs, vec![(nbflags::ONT_H, B)]);
    assert!(r.version > v);

    // A negative answer from the owner moves it at once.
    only(w.handle(
        T0,
        src(A),
        &reg_msg(9, Opcode::Registration, &name("OTHER", 0), 1000, false, A),
    ));
    let out = w
        .handle(
            T0,
            src(B),
            &reg_msg(10, Opcode::Registration, &name("OTHER", 0), 1000, false, B),
        )
        .unwrap();
    let neg = build::query_negative(out[1].packet.header.trn_id, false, &name("OTHER", 0));
    let neg = Message::parse(&neg.to_bytes().unwrap()).unwrap();
    let o = only(w.handle(T0, SocketAddrV4::new(A, 137), &neg));
    assert_eq!((o.to, rc(&o)), (src(B), rcode::OK));
}

#[test]
fn groups_and_uniques_do_not_mix() {
    let mut w = server();
    let g = name("WG", 0);
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(A),
            &reg_msg(1, Opcode::Registration, &g, 100, true, A)
        ))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(B),
            &reg_msg(2, Opcode::Registration, &g, 100, true, B)
        ))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(A),
            &reg_msg(3, Opcode::Registration, &g, 100, false, A)
        ))),
        rcode::ACT_ERR
    );
    // A normal group answers 255.255.255.255 and survives a release.
    assert_eq!(
        addrs(&only(w.handle(T0, src(A), &query_msg(4, &g)))),
        vec![GROUP_ADDR]
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &release_msg(5, &g, A)))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(6, &g)))),
        rcode::OK
    );
    // A <1c> group lists its members; releasing the last one removes it.
    let dc = name("WG", 0x1c);
    for (i, ip) in [A, B].into_iter().enumerate() {
        only(w.handle(
            T0,
            src(ip),
            &reg_msg(10 + i as u16, Opcode::Registration, &dc, 100, true, ip),
        ));
    }
    assert_eq!(
        addrs(&only(w.handle(T0, src(A), &query_msg(12, &dc)))),
        vec![A, B]
    );
    only(w.handle(T0, src(A), &release_msg(13, &dc, A)));
    only(w.handle(T0, src(B), &release_msg(14, &dc, B)));
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(15, &dc)))),
        rcode::NAM_ERR
    );
    // A group cannot take a unique name.
    let u = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(16, Opcode::Registration, &u, 100, false, A),
    ));
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(B),
            &reg_msg(17, Opcode::Registration, &u, 100, true, B)
        ))),
        rcode::RFS_ERR
    );
}

#[test]
fn master_browser_names_are_never_stored() {
    let mut w = server();
    let n = name("WG", 0x1d);
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(A),
            &reg_msg(1, Opcode::Registration, &n, 100, false, A)
        ))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(2, &n)))),
        rcode::NAM_ERR
    );
    assert!(w.is_empty());
}

#[test]
fn release_only_by_the_owner() {
    let mut w = server();
    let n = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 100, false, A),
    ));
    // Another address, or the owner's address claimed from elsewhere.
    assert_eq!(
        rc(&only(w.handle(T0, src(B), &release_msg(2, &n, B)))),
        rcode::ACT_ERR
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(B), &release_msg(3, &n, A)))),
        rcode::ACT_ERR
    );
    assert!(w.record(&n).is_some());
    let o = only(w.handle(T0, src(A), &release_msg(4, &n, A)));
    assert_eq!(
        (rc(&o), o.packet.header.opcode),
        (rcode::OK, Opcode::Release)
    );
    assert!(w.record(&n).is_none());
    // Releasing again (a name we do not hold) is not an error.
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &release_msg(5, &n, A)))),
        rcode::OK
    );
}

#[test]
fn own_names_are_permanent_and_defended() {
    let mut w = server();
    let n = name("OURS", 0x20);
    w.add_own(&n, false, nbflags::ONT_B, A);
    w.add_own(&name("WG", 0), true, nbflags::ONT_B, A);
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(B),
            &reg_msg(1, Opcode::Registration, &n, 100, false, B)
        ))),
        rcode::ACT_ERR
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &release_msg(2, &n, A)))),
        rcode::ACT_ERR
    );
    assert!(w.tick(u64::MAX / 2).is_empty());
    assert_eq!(
        addrs(&only(w.handle(T0, src(B), &query_msg(3, &n)))),
        vec![A]
    );
    // They are not written to disk: they are added again at start-up.
    assert!(w.snapshot().records.is_empty());
    w.remove_own(&n, A);
    assert!(w.record(&n).is_none());
}

#[test]
fn entries_expire_at_their_ttl() {
    let mut w = server();
    let n = name("HOST", 0);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &n, 100, false, A),
    ));
    w.take_dirty();
    w.tick(T0 + 99);
    assert!(w.record(&n).is_some());
    assert!(!w.take_dirty());
    // Gone from queries at once, from the table at the next tick.
    assert_eq!(
        rc(&only(w.handle(T0 + 100, src(B), &query_msg(2, &n)))),
        rcode::NAM_ERR
    );
    w.tick(T0 + 100);
    assert!(w.record(&n).is_none());
    assert!(w.take_dirty());
    // An expired unique name is free for anyone, without a challenge.
    only(w.handle(
        T0,
        src(A),
        &reg_msg(3, Opcode::Registration, &n, 100, false, A),
    ));
    let o = only(w.handle(
        T0 + 200,
        src(B),
        &reg_msg(4, Opcode::Registration, &n, 100, false, B),
    ));
    assert_eq!(rc(&o), rcode::OK);
}

#[test]
fn database_survives_a_restart_with_versions() {
    let dir = std::env::temp_dir().join(format!("nmbd-wins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = server();
    w.add_own(&name("OURS", 0x20), false, 0, A);
    for (i, s) in ["ONE", "TWO", "THREE"].iter().enumerate() {
        only(w.handle(
            T0,
            src(B),
            &reg_msg(i as u16, Opcode::Registration, &name(s, 0), 1000, false, B),
        ));
    }
    assert!(w.take_dirty());
    db::save(&dir, &w.snapshot()).unwrap();
    let loaded = db::load(&dir).unwrap();
    assert_eq!(loaded, w.snapshot());
    assert_eq!(loaded.version, 4);
    assert_eq!(loaded.records.len(), 3);
    let mut w2 = WinsServer::new(loaded, 137, 1);
    let o = only(w2.handle(T0 + 1, src(A), &query_msg(9, &name("TWO", 0))));
    assert_eq!(addrs(&o), vec![B]);
    only(w2.handle(
        T0,
        src(B),
        &reg_msg(10, Opcode::Registration, &name("FOUR", 0), 1000, false, B),
    ));
    assert_eq!(w2.record(&name("FOUR", 0)).unwrap().version, 5);
    // A damaged file is an error, not an empty database.
    std::fs::write(dir.join(db::DB_FILE), b"\xff\xff\xff").unwrap();
    assert!(db::load(&dir).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(db::load(&dir).unwrap(), Database::new());
}

#[test]
fn names_compare_byte_for_byte_and_long_scopes_are_refused() {
    // "_T\x01-1.foo" registered in lower case through the wire codec.
    let raw: [u8; 16] = *b"_T\x01-1.foo      \x20";
    let lower = NbName::from_raw_exact(&raw, "example");
    let upper = NbName::from_raw(&raw, "example");
    let scope_upper = NbName::from_raw_exact(&raw, "EXAMPLE");
    let mut w = server();
    let o = only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::Registration, &lower, 100, false, A),
    ));
    assert_eq!(rc(&o), rcode::OK);
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(2, &lower)))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(3, &upper)))),
        rcode::NAM_ERR
    );
    assert_eq!(
        rc(&only(w.handle(T0, src(A), &query_msg(4, &scope_upper)))),
        rcode::NAM_ERR
    );

    let scope = |len: usize| -> String {
        (0..len)
            .map(|i| {
                if [63, 127, 191].contains(&i) {
                    '.'
                } else {
                    char::from(b'0' + (i % 10) as u8)
                }
            })
            .collect()
    };
    let ok = NbName::from_raw_exact(&raw, &scope(237));
    let long = NbName::from_raw_exact(&raw, &scope(238));
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(A),
            &reg_msg(5, Opcode::Registration, &ok, 100, false, A)
        ))),
        rcode::OK
    );
    assert_eq!(
        rc(&only(w.handle(
            T0,
            src(A),
            &reg_msg(6, Opcode::Registration, &long, 100, false, A)
        ))),
        rcode::SRV_ERR
    );
}

#[test]
fn multi_homed_owner_adds_an_address() {
    let mut w = server();
    let n = name("MULTI", 0x20);
    only(w.handle(
        T0,
        src(A),
        &reg_msg(1, Opcode::MultiHomedRegistration, &n, 1000, false, A),
    ));
    let out = w
        .handle(
            T0,
            src(B),
            &reg_msg(2, Opcode::MultiHomedRegistration, &n, 1000, false, B),
        )
        .unwrap();
    assert_eq!(out[0].packet.header.opcode, Opcode::Wack);
    // The owner answers with both of its addresses.
    let both = vec![
        NbEntry {
            flags: nbflags::ONT_H,
            addr: A,
        },
        NbEntry {
            flags: nbflags::ONT_H,
            addr: B,
        },
    ];
    let answer = build::query_positive(out[1].packet.header.trn_id, false, &n, 100, both);
    let o = only(w.handle(
        T0,
        SocketAddrV4::new(A, 137),
        &Message::parse(&answer.to_bytes().unwrap()).unwrap(),
    ));
    assert_eq!(
        (o.to, rc(&o), o.packet.header.opcode),
        (src(B), rcode::OK, Opcode::Registration)
    );
    assert_eq!(
        addrs(&only(w.handle(T0, src(B), &query_msg(3, &n)))),
        vec![A, B]
    );
    // Each address refreshes without dropping the other.
    only(w.handle(
        T0 + 5,
        src(A),
        &reg_msg(4, Opcode::MultiHomedRegistration, &n, 1000, false, A),
    ));
    assert_eq!(w.record(&n).unwrap().addrs.len(), 2);
    // A plain registration from one of them makes it single-homed again.
    only(w.handle(
        T0 + 6,
        src(B),
        &reg_msg(5, Opcode::Registration, &n, 1000, false, B),
    ));
    assert_eq!(
        addrs(&only(w.handle(T0, src(B), &query_msg(6, &n)))),
        vec![B]
    );
}

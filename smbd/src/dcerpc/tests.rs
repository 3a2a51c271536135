//! Tests on PDUs captured from Samba 4.17 and its clients (testdata.rs).
//!
//! How the captures were made: Debian's smbd 4.17.12 on 127.0.0.1:4457
//! (workgroup TESTGRP, netbios name REFSRV, shares `share` "A test share",
//! `hidden$` "hidden one", `nobrowse` with browseable = no, all on
//! /tmp/dcerpc-ref/share; capture 3 adds s01..s40), user root added with
//! smbpasswd; `tshark -i lo -f 'tcp port 4457'`, PDUs extracted with
//! `tshark -d tcp.port==4457,nbss -Y dcerpc -T json -x` (the dcerpc_raw
//! field). Clients: smbclient -L (SMB3.1.1 and -m SMB2_02) and Samba's
//! Python bindings, whose source4 client sends bind time feature
//! negotiation, alter contexts, raw opnums and fragmented requests.
//!
//! Our answers are compared with Samba's to the same bytes: decoded with
//! our codecs and compared as structures, and byte for byte except for
//! referent ids (Samba numbers them differently; any nonzero id is as good).

use super::ndr::{NdrReader, NdrWriter};
use super::pdu::*;
use super::srvsvc::*;
use super::testdata::*;
use super::wkssvc::*;
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        })
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

fn share(name: &str, kind: ShareKind, comment: &str, path: &str) -> ShareInfo {
    ShareInfo {
        name: name.into(),
        kind,
        comment: comment.into(),
        path: path.into(),
        hidden: false,
        max_users: None,
        current_users: 0,
    }
}

const SHARE_PATH: &str = "C:\\tmp\\dcerpc-ref\\share";

fn server() -> ServerInfo {
    ServerInfo {
        netbios_name: "REFSRV".into(),
        workgroup: "TESTGRP".into(),
        comment: "Samba 4.17.12-Debian".into(),
        version_major: 6,
        version_minor: 1,
        server_type: SAMBA_SERVER_TYPE,
    }
}

fn ipc() -> ShareInfo {
    ShareInfo {
        current_users: 1,
        ..share(
            "IPC$",
            ShareKind::Ipc,
            "IPC Service (Samba 4.17.12-Debian)",
            "C:\\tmp",
        )
    }
}

/// The configuration of captures 1 and 2, in Samba's order.
fn samba_snapshot() -> RpcSnapshot {
    RpcSnapshot {
        server: server(),
        shares: vec![
            share("share", ShareKind::Disk, "A test share", SHARE_PATH),
            share("hidden$", ShareKind::Disk, "hidden one", SHARE_PATH),
            ShareInfo {
                hidden: true,
                ..share("nobrowse", ShareKind::Disk, "", SHARE_PATH)
            },
            ipc(),
        ],
        user: "root".into(),
    }
}

/// Capture 3: the same plus s01..s40.
fn many_snapshot() -> RpcSnapshot {
    let mut s = samba_snapshot();
    let ipc = s.shares.pop();
    for i in 1..=40 {
        s.shares.push(share(
            &format!("s{i:02}"),
            ShareKind::Disk,
            &format!("Share number {i:02} with a rather long comment to fill fragments"),
            SHARE_PATH,
        ));
    }
    s.shares.extend(ipc);
    s
}

/// Every PDU waiting to be read, each read whole.
fn drain(p: &mut Pipe) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let r = p.read(usize::MAX);
        if r.data.is_empty() {
            break;
        }
        assert!(!r.more);
        out.push(r.data);
    }
    out
}

fn exchange(p: &mut Pipe, input: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(p.write(input), Ok(input.len()));
    drain(p)
}

fn bound(name: &str, snapshot: RpcSnapshot, bind: &str) -> Pipe {
    let mut p = Pipe::open(name, snapshot).unwrap();
    let out = exchange(&mut p, &hex(bind));
    assert_eq!(out.len(), 1);
    assert_eq!(
        Frame::parse(&out[0]).unwrap().header.ptype,
        PacketType::BIND_ACK
    );
    p
}

/// The stub of a chain of RESPONSE fragments, checking the chain.
fn response_stub(pdus: &[Vec<u8>]) -> Vec<u8> {
    let mut stub = Vec::new();
    for (i, pdu) in pdus.iter().enumerate() {
        let f = Frame::parse(pdu).unwrap();
        assert_eq!(f.header.ptype, PacketType::RESPONSE);
        assert_eq!(f.header.pfc_flags & pfc::FIRST_FRAG != 0, i == 0);
        assert_eq!(
            f.header.pfc_flags & pfc::LAST_FRAG != 0,
            i + 1 == pdus.len()
        );
        let r = Response::parse(f.body).unwrap();
        assert_eq!(r.alloc_hint as usize, {
            let left: usize = pdus[i..].iter().map(|p| p.len() - REQUEST_HEADER_LEN).sum();
            left
        });
        stub.extend_from_slice(r.stub);
    }
    stub
}

fn is_referent(w: u32) -> bool {
    (0x0002_0000..0x0003_0000).contains(&w)
}

/// Byte for byte, except 4-byte words that are referent ids on both sides.
fn same_but_referents(ours: &[u8], samba: &[u8], what: &str) {
    assert_eq!(ours.len(), samba.len(), "{what}: lengths differ");
    for (i, (a, b)) in ours.chunks(4).zip(samba.chunks(4)).enumerate() {
        if a != b {
            let wa = u32::from_le_bytes(a.try_into().unwrap());
            let wb = u32::from_le_bytes(b.try_into().unwrap());
            assert!(
                is_referent(wa) && is_referent(wb),
                "{what}: byte {} differs: ours {a:02x?}, Samba {b:02x?}",
                i * 4
            );
        }
    }
}

// ---------------------------------------------------------------------------
// PDU codecs on captured bytes

#[test]
fn header_emit_writes_every_byte() {
    let h = Header::parse(&hex(SMBCLIENT_BIND)).unwrap();
    let mut out = [0xa5; HEADER_LEN];
    h.emit_into(&mut out);
    assert_eq!(&out[..], &hex(SMBCLIENT_BIND)[..HEADER_LEN]);
}

#[test]
fn bind_round_trip() {
    for (name, b) in [
        ("smbclient", SMBCLIENT_BIND),
        ("python", PY_BIND),
        ("wkssvc", PY_WKS_BIND),
        ("lsarpc", PY_BIND_LSA),
        ("ndr64", PY_BIND_NDR64),
        ("alter", PY_ALTER_SRVSVC),
    ] {
        let bytes = hex(b);
        let f = Frame::parse(&bytes).unwrap();
        let bind = Bind::parse(f.body).unwrap();
        assert_eq!(bind.emit(), f.body, "{name}");
        assert_eq!(emit_pdu(f.header, &bind.emit()), bytes, "{name}");
    }
    let f = hex(PY_BIND);
    let bind = Bind::parse(Frame::parse(&f).unwrap().body).unwrap();
    assert_eq!(bind.max_xmit_frag, 4280);
    assert_eq!(bind.contexts.len(), 2);
    assert_eq!(bind.contexts[0].abstract_syntax, srvsvc::SYNTAX);
    assert_eq!(bind.contexts[0].transfer_syntaxes, [NDR20]);
    assert_eq!(bind.contexts[1].context_id, 1);
    assert_eq!(
        bind.contexts[1].transfer_syntaxes[0].bind_time_features(),
        Some(3)
    );
    let f = hex(PY_BIND_NDR64);
    let bind = Bind::parse(Frame::parse(&f).unwrap().body).unwrap();
    assert_eq!(bind.contexts[0].transfer_syntaxes, [NDR64]);
}

#[test]
fn samba_answers_round_trip() {
    for (name, b) in [
        ("bind ack", SMBCLIENT_BIND_ACK),
        ("btfn ack", PY_BIND_ACK),
        ("lsa ack", PY_BIND_LSA_ACK),
        ("alter resp", PY_ALTER_SRVSVC_RESP),
        ("alter reject", PY_ALTER_WKSSVC_RESP),
    ] {
        let bytes = hex(b);
        let f = Frame::parse(&bytes).unwrap();
        let ack = BindAck::parse(f.body).unwrap();
        assert_eq!(emit_pdu(f.header, &ack.emit()), bytes, "{name}");
    }
    for b in [PY_OPNUM200_FAULT, PY_EMPTY_STUB_FAULT] {
        let bytes = hex(b);
        let f = Frame::parse(&bytes).unwrap();
        assert_eq!(
            emit_pdu(f.header, &Fault::parse(f.body).unwrap().emit()),
            bytes
        );
    }
    let bytes = hex(SMBCLIENT_ENUM_REQ);
    let f = Frame::parse(&bytes).unwrap();
    let req = Request::parse(f.header.pfc_flags, f.body).unwrap();
    assert_eq!((req.context_id, req.opnum, req.object), (0, 15, None));
    assert_eq!(emit_pdu(f.header, &req.emit()), bytes);
}

#[test]
fn truncated_pdus_do_not_parse() {
    let bytes = hex(PY_BIND);
    for len in 0..bytes.len() {
        // Shorter than frag_length: refused by the framer.
        assert!(Frame::parse(&bytes[..len]).is_err(), "{len}");
    }
    let f = Frame::parse(&bytes).unwrap();
    for len in 0..f.body.len() {
        let _ = Bind::parse(&f.body[..len]);
    }
    assert!(Bind::parse(&f.body[..60]).is_err());
    let ack = hex(PY_BIND_ACK);
    let f = Frame::parse(&ack).unwrap();
    for len in 0..f.body.len() {
        assert!(BindAck::parse(&f.body[..len]).is_err(), "{len}");
    }
}

// ---------------------------------------------------------------------------
// Interface structures from captured stubs

fn stub_of(pdu: &str) -> Vec<u8> {
    let bytes = hex(pdu);
    let f = Frame::parse(&bytes).unwrap();
    match f.header.ptype {
        PacketType::REQUEST => Request::parse(f.header.pfc_flags, f.body)
            .unwrap()
            .stub
            .to_vec(),
        _ => Response::parse(f.body).unwrap().stub.to_vec(),
    }
}

#[test]
fn client_requests_decode() {
    let req = NetShareEnumAllIn::parse(&stub_of(SMBCLIENT_ENUM_REQ)).unwrap();
    assert_eq!(
        req,
        NetShareEnumAllIn {
            server_unc: Some("127.0.0.1".into()),
            ctr: NetShareCtr::Ctr1(Some(vec![])),
            max_buffer: u32::MAX,
            resume_handle: Some(0),
        }
    );
    // smbclient numbers its referents as we do: the stub comes back whole.
    assert_eq!(req.emit(), stub_of(SMBCLIENT_ENUM_REQ));

    let req = NetShareGetInfoIn::parse(&stub_of(PY_GETINFO_SHARE1005_REQ)).unwrap();
    assert_eq!(
        req,
        NetShareGetInfoIn {
            server_unc: Some("\\\\127.0.0.1".into()),
            share_name: "share".into(),
            level: 1005,
        }
    );
    assert_eq!(req.emit(), stub_of(PY_GETINFO_SHARE1005_REQ));

    let req = NetSrvGetInfoIn::parse(&stub_of(PY_SRVINFO102_REQ)).unwrap();
    assert_eq!(req.level, 102);
    assert_eq!(req.emit(), stub_of(PY_SRVINFO102_REQ));

    let req = NetWkstaGetInfoIn::parse(&stub_of(PY_WKS101_REQ)).unwrap();
    assert_eq!(req.server_name.as_deref(), Some("\\\\127.0.0.1"));
    assert_eq!(req.level, 101);
    assert_eq!(req.emit(), stub_of(PY_WKS101_REQ));

    for r in [
        PY_ENUM0_REQ,
        PY_ENUM1_REQ,
        PY_ENUM2_REQ,
        PY_ENUM501_REQ,
        PY_ENUM502_REQ,
        PY_RESUME5_REQ,
    ] {
        let stub = stub_of(r);
        let req = NetShareEnumAllIn::parse(&stub).unwrap();
        same_but_referents(&req.emit(), &stub, "enum request");
    }
}

#[test]
fn samba_responses_decode() {
    let out = NetShareEnumAllOut::parse(&stub_of(SMBCLIENT_ENUM_RESP)).unwrap();
    let NetShareCtr::Ctr1(Some(entries)) = &out.ctr else {
        panic!("{out:?}")
    };
    let names: Vec<_> = entries.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["share", "hidden$", "IPC$"]);
    assert_eq!(entries[2].share_type, 0x8000_0003);
    assert_eq!(
        (out.total_entries, out.resume_handle, out.result),
        (3, Some(0), WError::OK)
    );

    let out = NetShareGetInfoOut::parse(&stub_of(PY_GETINFO_SHARE502_RESP)).unwrap();
    let NetShareInfo::Info502(Some(info)) = &out.info else {
        panic!("{out:?}")
    };
    assert_eq!(
        info.security_descriptor.as_deref(),
        Some(&EVERYONE_FULL_ACCESS_SD[..])
    );
    assert_eq!(info.password.as_deref(), Some(""));

    let out = NetSrvGetInfoOut::parse(&stub_of(PY_SRVINFO102_RESP)).unwrap();
    assert_eq!(
        out.info,
        NetSrvInfo::Info102(Some(NetSrvInfo102 {
            platform_id: 500,
            server_name: Some("REFSRV".into()),
            version_major: 6,
            version_minor: 1,
            server_type: 0x0080_9a03,
            comment: Some("Samba 4.17.12-Debian".into()),
            users: u32::MAX,
            disc: 15,
            hidden: 0,
            announce: 240,
            anndelta: 3000,
            licenses: 100_000,
            userpath: Some("C:\\".into()),
        }))
    );
    let out = NetSrvGetInfoOut::parse(&stub_of(PY_SRVINFO103_RESP)).unwrap();
    assert_eq!(out.info, NetSrvInfo::Other(103));
    assert_eq!(out.result, WError::INVALID_LEVEL);

    let out = NetWkstaGetInfoOut::parse(&stub_of(PY_WKS100_RESP)).unwrap();
    assert_eq!(
        out.info,
        NetWkstaInfo::Info100(Some(NetWkstaInfo100 {
            platform_id: 500,
            server_name: Some("REFSRV".into()),
            domain_name: Some("TESTGRP".into()),
            version_major: 6,
            version_minor: 1,
        }))
    );
}

#[test]
fn emitted_structures_parse_back() {
    let snap = many_snapshot();
    for level in [0, 1, 2, 501, 502, 7] {
        let req = NetShareEnumAllIn {
            server_unc: None,
            ctr: NetShareCtr::Other(level),
            max_buffer: 0,
            resume_handle: None,
        };
        let out = net_share_enum_all(&snap, &req);
        assert_eq!(NetShareEnumAllOut::parse(&out.emit()), Ok(out));
    }
    // A request carrying entries, and NULL pointers everywhere.
    let req = NetShareEnumAllIn {
        server_unc: None,
        ctr: NetShareCtr::Ctr502(Some(vec![
            NetShareInfo502::default(),
            NetShareInfo502 {
                name: Some("x".into()),
                security_descriptor: Some(vec![1, 2, 3]),
                ..Default::default()
            },
        ])),
        max_buffer: 1,
        resume_handle: Some(7),
    };
    assert_eq!(NetShareEnumAllIn::parse(&req.emit()), Ok(req));
    for level in [0, 1, 2, 501, 502, 1005, 3] {
        for name in ["share", "nope"] {
            let out = net_share_get_info(
                &snap,
                &NetShareGetInfoIn {
                    server_unc: None,
                    share_name: name.into(),
                    level,
                },
            );
            assert_eq!(NetShareGetInfoOut::parse(&out.emit()), Ok(out));
        }
    }
    for level in [100, 101, 102, 0] {
        let req = NetSrvGetInfoIn {
            server_unc: None,
            level,
        };
        let out = net_srv_get_info(&snap, &req);
        assert_eq!(NetSrvGetInfoOut::parse(&out.emit()), Ok(out));
        let req = NetWkstaGetInfoIn {
            server_name: None,
            level,
        };
        let out = net_wksta_get_info(&snap, &req);
        assert_eq!(NetWkstaGetInfoOut::parse(&out.emit()), Ok(out));
    }
}

// ---------------------------------------------------------------------------
// Whole exchanges compared with Samba's

fn ack_of(pdu: &[u8]) -> (Header, BindAck) {
    let f = Frame::parse(pdu).unwrap();
    (f.header, BindAck::parse(f.body).unwrap())
}

#[test]
fn bind_acks_match_samba() {
    for (pipe, bind, samba) in [
        ("srvsvc", SMBCLIENT_BIND, SMBCLIENT_BIND_ACK),
        ("srvsvc", PY_BIND, PY_BIND_ACK),
        ("srvsvc", MANY_BIND, MANY_BIND_ACK),
        ("wkssvc", PY_WKS_BIND, PY_WKS_BIND_ACK),
        ("srvsvc", PY_BIND_LSA, PY_BIND_LSA_ACK),
        ("srvsvc", PY_BIND_NDR64, PY_BIND_NDR64_ACK),
    ] {
        let mut p = Pipe::open(pipe, samba_snapshot()).unwrap();
        let out = exchange(&mut p, &hex(bind));
        assert_eq!(out.len(), 1);
        let (h, ours) = ack_of(&out[0]);
        let (sh, theirs) = ack_of(&hex(samba));
        assert_eq!(h, sh, "{bind}");
        assert_eq!(ours.max_xmit_frag, theirs.max_xmit_frag);
        assert_eq!(ours.max_recv_frag, theirs.max_recv_frag);
        assert_eq!(ours.results, theirs.results);
        assert!(
            ours.secondary_address
                .eq_ignore_ascii_case(&theirs.secondary_address)
        );
        assert_eq!(ours.assoc_group_id, ASSOC_GROUP_ID);
        // Only the association group differs.
        let ours = BindAck {
            assoc_group_id: theirs.assoc_group_id,
            secondary_address: theirs.secondary_address.clone(),
            ..ours
        };
        assert_eq!(emit_pdu(h, &ours.emit()), hex(samba));
    }
}

/// Bind as the Python client did, send `req`, compare with Samba's answer.
fn compare_call(pipe: &str, bind: &str, req: &str, samba: &[&str]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let snapshot = if samba.len() > 1 {
        many_snapshot()
    } else {
        samba_snapshot()
    };
    let mut p = bound(pipe, snapshot, bind);
    let ours = exchange(&mut p, &hex(req));
    assert_eq!(ours.len(), samba.len());
    let theirs: Vec<Vec<u8>> = samba.iter().map(|s| hex(s)).collect();
    let stub = response_stub(&ours);
    assert_eq!(stub.len(), response_stub(&theirs).len());
    (ours, stub)
}

#[test]
fn srvsvc_answers_match_samba() {
    macro_rules! case {
        ($bind:ident, $req:ident, $resp:ident) => {
            ($bind, $req, $resp, stringify!($req))
        };
    }
    let same = [
        case!(SMBCLIENT_BIND, SMBCLIENT_ENUM_REQ, SMBCLIENT_ENUM_RESP),
        case!(PY_BIND, PY_ENUM0_REQ, PY_ENUM0_RESP),
        case!(PY_BIND, PY_ENUM1_REQ, PY_ENUM1_RESP),
        case!(PY_BIND, PY_ENUM2_REQ, PY_ENUM2_RESP),
        case!(PY_BIND, PY_ENUM501_REQ, PY_ENUM501_RESP),
        case!(PY_BIND, PY_GETINFO_SHARE0_REQ, PY_GETINFO_SHARE0_RESP),
        case!(PY_BIND, PY_GETINFO_SHARE1_REQ, PY_GETINFO_SHARE1_RESP),
        case!(PY_BIND, PY_GETINFO_SHARE2_REQ, PY_GETINFO_SHARE2_RESP),
        case!(PY_BIND, PY_GETINFO_SHARE501_REQ, PY_GETINFO_SHARE501_RESP),
        case!(PY_BIND, PY_GETINFO_SHARE1005_REQ, PY_GETINFO_SHARE1005_RESP),
        case!(PY_BIND, PY_GETINFO_IPC1_REQ, PY_GETINFO_IPC1_RESP),
        case!(PY_BIND, PY_GETINFO_IPC2_REQ, PY_GETINFO_IPC2_RESP),
        case!(PY_BIND, PY_GETINFO_HIDDEN1_REQ, PY_GETINFO_HIDDEN1_RESP),
        case!(PY_BIND, PY_GETINFO_NOBROWSE1_REQ, PY_GETINFO_NOBROWSE1_RESP),
        case!(PY_BIND, PY_GETINFO_UPPER1_REQ, PY_GETINFO_UPPER1_RESP),
        case!(PY_BIND, PY_SRVINFO100_REQ, PY_SRVINFO100_RESP),
        case!(PY_BIND, PY_SRVINFO101_REQ, PY_SRVINFO101_RESP),
        case!(PY_BIND, PY_SRVINFO102_REQ, PY_SRVINFO102_RESP),
        case!(PY_BIND, PY_SRVINFO103_REQ, PY_SRVINFO103_RESP),
    ];
    for (bind, req, samba, name) in same {
        let (ours, _) = compare_call("srvsvc", bind, req, &[samba]);
        same_but_referents(&ours[0], &hex(samba), name);
    }
}

#[test]
fn srvsvc_level_502_matches_samba_but_for_current_users() {
    // Samba counts connections differently at level 502 than at level 2
    // (1 and 0 for `share` in the same session); we report the snapshot's.
    let fix = |info: &mut NetShareInfo502| info.current_users = 0;
    let (ours, stub) = compare_call("srvsvc", PY_BIND, PY_ENUM502_REQ, &[PY_ENUM502_RESP]);
    let mut theirs = NetShareEnumAllOut::parse(&stub_of(PY_ENUM502_RESP)).unwrap();
    let mut ours_out = NetShareEnumAllOut::parse(&stub).unwrap();
    for out in [&mut theirs, &mut ours_out] {
        if let NetShareCtr::Ctr502(Some(v)) = &mut out.ctr {
            v.iter_mut().for_each(fix);
        }
    }
    assert_eq!(ours_out, theirs);
    assert_eq!(ours[0].len(), hex(PY_ENUM502_RESP).len());

    let (_, stub) = compare_call(
        "srvsvc",
        PY_BIND,
        PY_GETINFO_SHARE502_REQ,
        &[PY_GETINFO_SHARE502_RESP],
    );
    let mut theirs = NetShareGetInfoOut::parse(&stub_of(PY_GETINFO_SHARE502_RESP)).unwrap();
    let mut ours_out = NetShareGetInfoOut::parse(&stub).unwrap();
    for out in [&mut theirs, &mut ours_out] {
        if let NetShareInfo::Info502(Some(i)) = &mut out.info {
            fix(i);
        }
    }
    assert_eq!(ours_out, theirs);
}

#[test]
fn unknown_share_is_net_name_not_found() {
    // Samba says WERR_INVALID_NAME; Windows and MS-SRVS say
    // NERR_NetNameNotFound. Everything else is the same.
    let (_, stub) = compare_call(
        "srvsvc",
        PY_BIND,
        PY_GETINFO_NOSUCH1_REQ,
        &[PY_GETINFO_NOSUCH1_RESP],
    );
    let ours = NetShareGetInfoOut::parse(&stub).unwrap();
    let theirs = NetShareGetInfoOut::parse(&stub_of(PY_GETINFO_NOSUCH1_RESP)).unwrap();
    assert_eq!(theirs.result, WError::INVALID_NAME);
    assert_eq!(
        ours,
        NetShareGetInfoOut {
            result: WError::NET_NAME_NOT_FOUND,
            ..theirs
        }
    );
    assert_eq!(ours.info, NetShareInfo::Info1(None));
}

#[test]
fn wkssvc_answers_match_samba() {
    for (req, samba, name) in [
        (PY_WKS100_REQ, PY_WKS100_RESP, "level 100"),
        (PY_WKS101_REQ, PY_WKS101_RESP, "level 101"),
        (PY_WKS99_REQ, PY_WKS99_RESP, "level 99"),
    ] {
        let (ours, _) = compare_call("wkssvc", PY_WKS_BIND, req, &[samba]);
        same_but_referents(&ours[0], &hex(samba), name);
    }
    // Level 102: Samba keeps it to domain admins; we answer it.
    let samba = NetWkstaGetInfoOut::parse(&stub_of(PY_WKS102_RESP)).unwrap();
    assert_eq!(samba.result, WError::ACCESS_DENIED);
    let mut p = bound("wkssvc", samba_snapshot(), PY_WKS_BIND);
    let out = exchange(&mut p, &hex(PY_WKS102_REQ));
    let out = NetWkstaGetInfoOut::parse(&response_stub(&out)).unwrap();
    assert_eq!(out.result, WError::OK);
    let NetWkstaInfo::Info102(Some(info)) = out.info else {
        panic!("{out:?}")
    };
    assert_eq!(info.domain_name.as_deref(), Some("TESTGRP"));
    assert_eq!(info.lan_root.as_deref(), Some(""));
}

#[test]
fn two_fragment_response_through_transceive_and_read() {
    // smbclient -m SMB2_02: IOCTL with 4280 bytes out gets the first
    // fragment, an SMB2 READ of 4280 the second.
    let mut p = Pipe::open("srvsvc", many_snapshot()).unwrap();
    let ack = p.transceive(&hex(MANY_BIND), 4280).unwrap();
    assert!(!ack.more);
    assert_eq!(
        ack_of(&ack.data).1.results,
        ack_of(&hex(MANY_BIND_ACK)).1.results
    );
    let first = p.transceive(&hex(MANY_ENUM_REQ), 4280).unwrap();
    assert!(!first.more);
    assert_eq!(first.data.len(), 4280);
    same_but_referents(&first.data, &hex(MANY_ENUM_RESP1), "fragment 1");
    let second = p.read(4280);
    assert!(!second.more);
    same_but_referents(&second.data, &hex(MANY_ENUM_RESP2), "fragment 2");
    assert_eq!(p.pending(), 0);
    assert_eq!(p.read(4280), ReadOut::default());
    let out = NetShareEnumAllOut::parse(&response_stub(&[first.data, second.data])).unwrap();
    assert_eq!(out.ctr.len(), 43);
    assert_eq!(out.total_entries, 43);
}

#[test]
fn resume_handle_skips_entries_like_samba() {
    let (ours, _) = compare_call(
        "srvsvc",
        PY_BIND,
        PY_RESUME5_REQ,
        &[PY_RESUME5_RESP1, PY_RESUME5_RESP2],
    );
    same_but_referents(&ours[0], &hex(PY_RESUME5_RESP1), "fragment 1");
    same_but_referents(&ours[1], &hex(PY_RESUME5_RESP2), "fragment 2");
}

#[test]
fn fragmented_request_is_reassembled() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    // First fragment by WRITE: nothing to read yet.
    assert_eq!(exchange(&mut p, &hex(PY_BIG_REQ1)), Vec::<Vec<u8>>::new());
    let out = p.transceive(&hex(PY_BIG_REQ2), 4280).unwrap();
    let ours = NetShareGetInfoOut::parse(&response_stub(std::slice::from_ref(&out.data))).unwrap();
    assert_eq!(ours.result, WError::NET_NAME_NOT_FOUND);
    // The same answer as Samba's but for the error code.
    let mut samba = hex(PY_BIG_RESP);
    samba[REQUEST_HEADER_LEN + 8..REQUEST_HEADER_LEN + 12].copy_from_slice(&0x906u32.to_le_bytes());
    assert_eq!(out.data, samba);
}

#[test]
fn split_and_joined_writes() {
    let bind = hex(PY_BIND);
    let req = hex(PY_ENUM2_REQ);
    let mut whole = bound("srvsvc", samba_snapshot(), PY_BIND);
    let expected = exchange(&mut whole, &req);

    // One byte at a time.
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    for b in bind.iter().chain(&req) {
        assert_eq!(p.write(std::slice::from_ref(b)), Ok(1));
    }
    let out = drain(&mut p);
    assert_eq!(out.len(), 2);
    assert_eq!(&out[1..], &expected[..]);

    // Bind, two requests and half a third in one write.
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    let mut joined = [bind.clone(), req.clone(), req.clone()].concat();
    joined.extend_from_slice(&req[..30]);
    assert_eq!(p.write(&joined), Ok(joined.len()));
    let out = drain(&mut p);
    assert_eq!(out.len(), 3);
    assert_eq!(out[1], expected[0]);
    assert_eq!(out[2], expected[0]);
    assert_eq!(p.write(&req[30..]), Ok(req.len() - 30));
    assert_eq!(drain(&mut p), expected);
}

#[test]
fn reads_smaller_than_a_pdu_say_more() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    p.write(&hex(PY_ENUM2_REQ)).unwrap();
    p.write(&hex(PY_ENUM0_REQ)).unwrap();
    let total = p.pending();
    let mut first = Vec::new();
    loop {
        let r = p.read(100);
        first.extend_from_slice(&r.data);
        if !r.more {
            break;
        }
        assert_eq!(r.data.len(), 100);
    }
    assert_eq!(first.len(), hex(PY_ENUM2_RESP).len());
    // The next read starts the next PDU, never mixing two.
    let second = p.read(usize::MAX);
    assert_eq!(first.len() + second.data.len(), total);
    assert!(!second.more);
    // A zero-length read of a pending PDU.
    p.write(&hex(PY_ENUM0_REQ)).unwrap();
    assert_eq!(
        p.read(0),
        ReadOut {
            data: vec![],
            more: true
        }
    );
}

fn bind_pdu(max_xmit: u16, max_recv: u16, contexts: Vec<ContextElement>) -> Vec<u8> {
    let bind = Bind {
        max_xmit_frag: max_xmit,
        max_recv_frag: max_recv,
        assoc_group_id: 0,
        contexts,
    };
    emit_pdu(
        Header::new(PacketType::BIND, pfc::FIRST_FRAG | pfc::LAST_FRAG, 1),
        &bind.emit(),
    )
}

fn srvsvc_context(id: u16) -> ContextElement {
    ContextElement {
        context_id: id,
        abstract_syntax: srvsvc::SYNTAX,
        transfer_syntaxes: vec![NDR20],
    }
}

fn request_pdu(call_id: u32, context_id: u16, opnum: u16, flags: u8, stub: &[u8]) -> Vec<u8> {
    let req = Request {
        alloc_hint: stub.len() as u32,
        context_id,
        opnum,
        object: None,
        stub,
    };
    emit_pdu(
        Header::new(PacketType::REQUEST, flags, call_id),
        &req.emit(),
    )
}

const SINGLE: u8 = pfc::FIRST_FRAG | pfc::LAST_FRAG;

#[test]
fn our_bind_is_smbclients() {
    assert_eq!(
        bind_pdu(4280, 4280, vec![srvsvc_context(0)]),
        hex(SMBCLIENT_BIND)
    );
}

#[test]
fn fragment_size_negotiation() {
    for (xmit, recv, expect) in [
        (4280, 4280, 4280),
        (5840, 5840, 4280),
        (2048, 4280, 2048),
        (100, 100, 2048),
        (3001, 3001, 3000),
        (u16::MAX, 0, 2048),
    ] {
        let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
        let out = exchange(&mut p, &bind_pdu(xmit, recv, vec![srvsvc_context(0)]));
        let (_, ack) = ack_of(&out[0]);
        assert_eq!(
            (ack.max_xmit_frag, ack.max_recv_frag),
            (expect, expect),
            "{xmit} {recv}"
        );
        assert_eq!(p.max_xmit_frag(), expect);
    }
}

#[test]
fn small_fragments_split_responses() {
    let mut big = Pipe::open("srvsvc", many_snapshot()).unwrap();
    exchange(&mut big, &bind_pdu(4280, 4280, vec![srvsvc_context(0)]));
    let req = hex(MANY_ENUM_REQ);
    let whole = response_stub(&exchange(&mut big, &req));

    let mut small = Pipe::open("srvsvc", many_snapshot()).unwrap();
    exchange(&mut small, &bind_pdu(2048, 2048, vec![srvsvc_context(0)]));
    let frags = exchange(&mut small, &req);
    assert_eq!(frags.len(), whole.len().div_ceil(2048 - 24));
    for f in &frags {
        assert!(f.len() <= 2048);
        assert_eq!(Frame::parse(f).unwrap().header.call_id, 2);
    }
    assert_eq!(response_stub(&frags), whole);
}

#[test]
fn alter_context_like_samba() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let out = exchange(&mut p, &hex(PY_ALTER_SRVSVC));
    let (h, ours) = ack_of(&out[0]);
    let (sh, theirs) = ack_of(&hex(PY_ALTER_SRVSVC_RESP));
    assert_eq!(h, sh);
    assert_eq!(
        BindAck {
            assoc_group_id: theirs.assoc_group_id,
            ..ours
        },
        theirs
    );
    // The new context (id 1) carries calls.
    let stub = stub_of(PY_SRVINFO101_REQ);
    let out = exchange(&mut p, &request_pdu(9, 1, 21, SINGLE, &stub));
    assert_eq!(
        Response::parse(Frame::parse(&out[0]).unwrap().body)
            .unwrap()
            .context_id,
        1
    );
    // wkssvc is not served on the srvsvc pipe.
    let out = exchange(&mut p, &hex(PY_ALTER_WKSSVC));
    assert_eq!(
        ack_of(&out[0]).1.results,
        ack_of(&hex(PY_ALTER_WKSSVC_RESP)).1.results
    );
    let out = exchange(&mut p, &request_pdu(10, 1, 21, SINGLE, &stub));
    assert_eq!(
        Frame::parse(&out[0]).unwrap().header.ptype,
        PacketType::RESPONSE
    );
}

// ---------------------------------------------------------------------------
// Faults

fn fault_of(pdu: &[u8]) -> (Header, Fault) {
    let f = Frame::parse(pdu).unwrap();
    assert_eq!(f.header.ptype, PacketType::FAULT);
    (f.header, Fault::parse(f.body).unwrap())
}

#[test]
fn faults_match_samba_and_keep_the_pipe() {
    for (req, samba) in [
        (PY_OPNUM200_REQ, PY_OPNUM200_FAULT),
        (PY_EMPTY_STUB_REQ, PY_EMPTY_STUB_FAULT),
        (PY_HUGE_COUNT_REQ, PY_HUGE_COUNT_FAULT),
    ] {
        let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
        let out = exchange(&mut p, &hex(req));
        assert_eq!(out, [hex(samba)]);
        // The pipe goes on.
        let out = exchange(&mut p, &hex(PY_ENUM1_REQ));
        same_but_referents(&out[0], &hex(PY_ENUM1_RESP), "after a fault");
    }
    let f = fault_of(&hex(PY_OPNUM200_FAULT));
    assert_eq!(f.1.status, FaultStatus::OP_RNG_ERROR.0);
    assert_ne!(f.0.pfc_flags & pfc::DID_NOT_EXECUTE, 0);
    assert_eq!(
        fault_of(&hex(PY_HUGE_COUNT_FAULT)).1.status,
        FaultStatus::NDR.0
    );
}

#[test]
fn wkssvc_unknown_opnum() {
    let mut p = bound("wkssvc", samba_snapshot(), PY_WKS_BIND);
    let out = exchange(&mut p, &request_pdu(2, 0, 1, SINGLE, &[]));
    let (h, f) = fault_of(&out[0]);
    assert_eq!(f.status, 0x1c01_0002);
    assert_eq!(h.pfc_flags, SINGLE | pfc::DID_NOT_EXECUTE);
}

#[test]
fn huge_counts_in_stubs_fault_without_allocating() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    // NetShareEnumAll level 1 whose container claims 2^31-1 entries.
    let stub = [
        0u8, 0, 0, 0, // server_unc NULL
        1, 0, 0, 0, 1, 0, 0, 0, // level, switch
        0, 0, 2, 0, // ctr pointer
        0xff, 0xff, 0xff, 0x7f, // count
        4, 0, 2, 0, // array pointer
        0xff, 0xff, 0xff, 0x7f, // conformance
        0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let out = exchange(&mut p, &request_pdu(3, 0, 15, SINGLE, &stub));
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::NDR.0);
    // Level 502 with a descriptor size over the limit.
    let mut w = NdrWriter::new();
    w.pointer(false);
    w.u32(502);
    w.u32(502);
    w.pointer(true);
    w.u32(1);
    w.pointer(true);
    w.u32(1);
    for v in [0, 0, 0, 0, 0, 0, 0, 0, 0x7fff_ffff, 0x20000] {
        w.u32(v);
    }
    let out = exchange(&mut p, &request_pdu(4, 0, 15, SINGLE, &w.into_bytes()));
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::NDR.0);
    // A share name claiming 0x10000 characters.
    let stub = [
        0u8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, b'a', 0, 0, 0,
    ];
    let out = exchange(&mut p, &request_pdu(5, 0, 16, SINGLE, &stub));
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::NDR.0);
    assert!(!p.is_closed());
}

#[test]
fn every_truncation_of_captured_stubs_is_handled() {
    for req in [
        PY_ENUM502_REQ,
        PY_GETINFO_SHARE1_REQ,
        PY_SRVINFO102_REQ,
        SMBCLIENT_ENUM_REQ,
    ] {
        let stub = stub_of(req);
        for len in 0..stub.len() {
            let snap = samba_snapshot();
            let r = srvsvc::call(
                &snap,
                Request::parse(0, &hex(req)[16..]).unwrap().opnum,
                &stub[..len],
            );
            // Either a fault or an answer from a prefix that happens to
            // decode (the last bytes can be optional trailing data).
            if let Err(status) = r {
                assert_eq!(status, FaultStatus::NDR);
            }
        }
        // The answers of Samba decode with our parser truncated anywhere
        // without panicking.
    }
    for resp in [
        PY_ENUM502_RESP,
        PY_SRVINFO102_RESP,
        PY_GETINFO_SHARE502_RESP,
    ] {
        let stub = stub_of(resp);
        for len in 0..stub.len() {
            let _ = NetShareEnumAllOut::parse(&stub[..len]);
            let _ = NetShareGetInfoOut::parse(&stub[..len]);
            let _ = NetSrvGetInfoOut::parse(&stub[..len]);
        }
    }
}

#[test]
fn wrong_context_and_request_before_bind() {
    let stub = stub_of(PY_SRVINFO101_REQ);
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    let out = exchange(&mut p, &request_pdu(1, 0, 21, SINGLE, &stub));
    let (h, f) = fault_of(&out[0]);
    assert_eq!((f.status, h.call_id), (FaultStatus::UNK_IF.0, 1));
    assert!(!p.is_closed());
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let out = exchange(&mut p, &request_pdu(2, 7, 21, SINGLE, &stub));
    let (h, f) = fault_of(&out[0]);
    assert_eq!((f.status, f.context_id), (FaultStatus::UNK_IF.0, 7));
    assert_ne!(h.pfc_flags & pfc::DID_NOT_EXECUTE, 0);
    // Context 1 was the feature negotiation, not a presentation context.
    let out = exchange(&mut p, &request_pdu(3, 1, 21, SINGLE, &stub));
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::UNK_IF.0);
    let out = exchange(&mut p, &request_pdu(4, 0, 21, SINGLE, &stub));
    assert_eq!(
        Frame::parse(&out[0]).unwrap().header.ptype,
        PacketType::RESPONSE
    );
}

// ---------------------------------------------------------------------------
// Malformed input

#[test]
fn incomplete_header_and_fragment_wait_for_more() {
    let bind = hex(PY_BIND);
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    assert_eq!(p.write(&bind[..10]), Ok(10));
    assert_eq!(p.pending(), 0);
    assert_eq!(p.write(&bind[10..40]), Ok(30));
    assert_eq!(p.pending(), 0);
    assert_eq!(p.write(&bind[40..]), Ok(bind.len() - 40));
    assert_eq!(drain(&mut p).len(), 1);

    // frag_length claims 8 bytes more than the BIND has: nothing happens
    // until they come (and are ignored as trailing bytes).
    let mut longer = bind.clone();
    longer[8] += 8;
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    assert_eq!(p.write(&longer), Ok(longer.len()));
    assert_eq!(p.pending(), 0);
    assert_eq!(p.write(&[0; 8]), Ok(8));
    let out = drain(&mut p);
    assert_eq!(
        ack_of(&out[0]).1.results,
        ack_of(&hex(PY_BIND_ACK)).1.results
    );
}

#[test]
fn headers_that_cannot_be_framed_close_the_pipe() {
    let bind = hex(PY_BIND);
    for (what, patch) in [
        ("frag_length 15", (8usize, [15u8, 0])),
        ("frag_length 0", (8, [0, 0])),
        ("auth_length past the end", (10, [0x80, 0])),
        (
            "auth_length just past the end",
            (10, [0x74 - 16 - 8 + 1, 0]),
        ),
    ] {
        let mut bytes = bind.clone();
        bytes[patch.0..patch.0 + 2].copy_from_slice(&patch.1);
        let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
        let err = p.write(&bytes).unwrap_err();
        assert!(matches!(err, PipeError::Invalid { .. }), "{what}: {err:?}");
        assert_eq!(err.nt_status(), 0xc000_000d);
        assert!(p.is_closed());
        assert_eq!(p.pending(), 0);
        let again = p.write(&bind).unwrap_err();
        assert!(matches!(again, PipeError::Closed(_)));
        assert_eq!(again.nt_status(), 0xc000_00b0);
    }
    // RPC version 4 outside a BIND.
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let mut req = hex(PY_ENUM1_REQ);
    req[0] = 4;
    assert!(p.write(&req).is_err());
}

fn nak_of(pdu: &[u8]) -> BindNak {
    let f = Frame::parse(pdu).unwrap();
    assert_eq!(f.header.ptype, PacketType::BIND_NAK);
    assert_eq!(f.header.frag_length, 24);
    BindNak::parse(f.body).unwrap()
}

#[test]
fn binds_that_are_refused() {
    let bind = hex(PY_BIND);
    let refused = |bytes: &[u8], reason: RejectReason| {
        let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
        let out = exchange(&mut p, bytes);
        assert_eq!(out.len(), 1);
        assert_eq!(
            nak_of(&out[0]),
            BindNak {
                reason,
                versions: vec![(5, 0)]
            }
        );
        assert!(p.is_closed());
        assert!(matches!(p.write(&bind), Err(PipeError::Closed(_))));
    };
    // Big-endian: framed with big-endian lengths, then refused.
    let mut be = bind.clone();
    be[4] = 0x00;
    be[8..10].copy_from_slice(&(bind.len() as u16).to_be_bytes());
    refused(&be, RejectReason::NOT_SPECIFIED);
    // EBCDIC characters, VAX floats.
    let mut ebcdic = bind.clone();
    ebcdic[4] = 0x11;
    refused(&ebcdic, RejectReason::NOT_SPECIFIED);
    let mut vax = bind.clone();
    vax[5] = 1;
    refused(&vax, RejectReason::NOT_SPECIFIED);
    // RPC version 4.
    let mut v4 = bind.clone();
    v4[0] = 4;
    refused(&v4, RejectReason::PROTOCOL_VERSION_NOT_SUPPORTED);
    // An auth verifier: NTLMSSP at packet integrity.
    let mut auth = bind.clone();
    auth.extend_from_slice(&[10, 5, 0, 0, 1, 0, 0, 0]);
    auth.extend_from_slice(b"NTLMSSP\0\x01\0\0\0\0\0\0\0");
    let len = auth.len() as u16;
    auth[8..10].copy_from_slice(&len.to_le_bytes());
    auth[10..12].copy_from_slice(&16u16.to_le_bytes());
    refused(&auth, RejectReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED);
    // No contexts; a context without transfer syntaxes; two feature
    // negotiations; a body cut short.
    refused(&bind_pdu(4280, 4280, vec![]), RejectReason::NOT_SPECIFIED);
    let empty = ContextElement {
        transfer_syntaxes: vec![],
        ..srvsvc_context(0)
    };
    refused(
        &bind_pdu(4280, 4280, vec![empty]),
        RejectReason::NOT_SPECIFIED,
    );
    let btfn = |id| ContextElement {
        transfer_syntaxes: vec![SyntaxId::bind_time_feature_negotiation(3)],
        ..srvsvc_context(id)
    };
    refused(
        &bind_pdu(4280, 4280, vec![srvsvc_context(0), btfn(1), btfn(2)]),
        RejectReason::NOT_SPECIFIED,
    );
    let mut short = bind[..60].to_vec();
    short[8..10].copy_from_slice(&60u16.to_le_bytes());
    refused(&short, RejectReason::NOT_SPECIFIED);

    // A second BIND on a bound pipe.
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let out = exchange(&mut p, &bind);
    assert_eq!(nak_of(&out[0]).reason, RejectReason::NOT_SPECIFIED);
    assert!(p.is_closed());
}

#[test]
fn windows_style_bind_with_ndr_ndr64_and_features() {
    let contexts = vec![
        srvsvc_context(0),
        ContextElement {
            transfer_syntaxes: vec![NDR64],
            ..srvsvc_context(1)
        },
        ContextElement {
            transfer_syntaxes: vec![SyntaxId::bind_time_feature_negotiation(0x3)],
            ..srvsvc_context(2)
        },
    ];
    let mut p = Pipe::open("\\PIPE\\srvsvc", samba_snapshot()).unwrap();
    let out = exchange(&mut p, &bind_pdu(5840, 5840, contexts));
    let (_, ack) = ack_of(&out[0]);
    assert_eq!(ack.secondary_address, "\\PIPE\\srvsvc");
    assert_eq!(
        ack.results,
        [
            ContextResult::Acceptance(NDR20),
            ContextResult::ProviderRejection(
                ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED
            ),
            ContextResult::NegotiateAck(3),
        ]
    );
    // Unknown feature bits are not granted.
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    let btfn = ContextElement {
        transfer_syntaxes: vec![SyntaxId::bind_time_feature_negotiation(0xff)],
        ..srvsvc_context(1)
    };
    let out = exchange(&mut p, &bind_pdu(4280, 4280, vec![srvsvc_context(0), btfn]));
    assert_eq!(ack_of(&out[0]).1.results[1], ContextResult::NegotiateAck(3));
}

#[test]
fn pdu_types_a_client_does_not_send() {
    for ptype in [
        PacketType::RESPONSE,
        PacketType::FAULT,
        PacketType::BIND_ACK,
        PacketType::SHUTDOWN,
        PacketType::AUTH3,
        PacketType(0x42),
    ] {
        let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
        let pdu = emit_pdu(Header::new(ptype, SINGLE, 5), &[0; 16]);
        let out = exchange(&mut p, &pdu);
        let (h, f) = fault_of(&out[0]);
        assert_eq!((f.status, h.call_id), (FaultStatus::PROTO_ERROR.0, 5));
        assert!(p.is_closed());
        assert!(matches!(
            p.write(&hex(PY_ENUM1_REQ)),
            Err(PipeError::Closed(_))
        ));
    }
    // Cancel is ignored.
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let cancel = emit_pdu(Header::new(PacketType::CO_CANCEL, SINGLE, 5), &[0; 4]);
    assert_eq!(exchange(&mut p, &cancel), Vec::<Vec<u8>>::new());
    assert!(!p.is_closed());
}

#[test]
fn alter_context_refusals() {
    let alter = hex(PY_ALTER_SRVSVC);
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    let out = exchange(&mut p, &alter);
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::PROTO_ERROR.0);
    assert!(p.is_closed());
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let mut auth = alter.clone();
    auth.extend_from_slice(&[10, 2, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4]);
    let len = auth.len() as u16;
    auth[8..10].copy_from_slice(&len.to_le_bytes());
    auth[10..12].copy_from_slice(&4u16.to_le_bytes());
    let out = exchange(&mut p, &auth);
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::SEC_PKG_ERROR.0);
    assert!(p.is_closed());
}

#[test]
fn authenticated_request_is_refused() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let mut req = hex(PY_ENUM1_REQ);
    req.extend_from_slice(&[10, 6, 0, 0, 1, 0, 0, 0]);
    req.extend_from_slice(&[0; 16]);
    let len = req.len() as u16;
    req[8..10].copy_from_slice(&len.to_le_bytes());
    req[10..12].copy_from_slice(&16u16.to_le_bytes());
    let out = exchange(&mut p, &req);
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::SEC_PKG_ERROR.0);
    assert!(p.is_closed());
}

#[test]
fn fragment_sequence_errors() {
    let stub = stub_of(PY_SRVINFO101_REQ);
    let check = |pdus: &[Vec<u8>], status: FaultStatus, call_id: u32| {
        let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
        let mut out = Vec::new();
        for pdu in pdus {
            out.extend(exchange(&mut p, pdu));
        }
        assert_eq!(out.len(), 1);
        let (h, f) = fault_of(&out[0]);
        assert_eq!((f.status, h.call_id), (status.0, call_id));
        assert!(p.is_closed());
    };
    let first = request_pdu(2, 0, 21, pfc::FIRST_FRAG, &stub[..8]);
    // A middle or last fragment with no first one.
    check(
        &[request_pdu(2, 0, 21, pfc::LAST_FRAG, &stub)],
        FaultStatus::PROTO_ERROR,
        2,
    );
    check(
        &[request_pdu(2, 0, 21, 0, &stub)],
        FaultStatus::PROTO_ERROR,
        2,
    );
    // A new call before the fragmented one is complete: the fault names
    // the incomplete call.
    check(
        &[first.clone(), request_pdu(3, 0, 21, SINGLE, &stub)],
        FaultStatus::PROTO_ERROR,
        2,
    );
    // A fragment of another call.
    check(
        &[
            first.clone(),
            request_pdu(3, 0, 21, pfc::LAST_FRAG, &stub[8..]),
        ],
        FaultStatus::PROTO_ERROR,
        2,
    );
    // A first fragment announcing more than 4 MiB.
    let mut huge = first.clone();
    huge[16..20].copy_from_slice(&(5u32 << 20).to_le_bytes());
    check(&[huge], FaultStatus::ACCESS_DENIED, 2);
    // A fragment larger than negotiated is taken (as Samba does), one
    // over 4280 bytes is not.
    let mut p = Pipe::open("srvsvc", samba_snapshot()).unwrap();
    exchange(&mut p, &bind_pdu(2048, 2048, vec![srvsvc_context(0)]));
    let mut padded = stub.clone();
    padded.resize(2100, 0);
    let out = exchange(&mut p, &request_pdu(2, 0, 21, SINGLE, &padded));
    assert_eq!(
        Frame::parse(&out[0]).unwrap().header.ptype,
        PacketType::RESPONSE
    );
    let out = exchange(&mut p, &request_pdu(3, 0, 21, SINGLE, &[0; 4257]));
    assert_eq!(fault_of(&out[0]).1.status, FaultStatus::PROTO_ERROR.0);
    assert!(p.is_closed());

    // And a good one in three pieces, with an orphaned call before it.
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    exchange(&mut p, &request_pdu(7, 0, 21, pfc::FIRST_FRAG, &stub[..4]));
    let orphaned = emit_pdu(Header::new(PacketType::ORPHANED, SINGLE, 7), &[]);
    assert_eq!(exchange(&mut p, &orphaned), Vec::<Vec<u8>>::new());
    exchange(&mut p, &request_pdu(8, 0, 21, pfc::FIRST_FRAG, &stub[..8]));
    exchange(&mut p, &request_pdu(8, 0, 21, 0, &stub[8..20]));
    let out = exchange(&mut p, &request_pdu(8, 0, 21, pfc::LAST_FRAG, &stub[20..]));
    let ours = NetSrvGetInfoOut::parse(&response_stub(&out)).unwrap();
    assert_eq!(
        ours,
        NetSrvGetInfoOut::parse(&stub_of(PY_SRVINFO101_RESP)).unwrap()
    );
}

#[test]
fn reassembly_stops_at_4_mib() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let chunk = vec![0u8; 4280 - 24];
    assert!(exchange(&mut p, &request_pdu(2, 0, 16, pfc::FIRST_FRAG, &chunk)).is_empty());
    let mut sent = chunk.len();
    loop {
        let out = exchange(&mut p, &request_pdu(2, 0, 16, 0, &chunk));
        sent += chunk.len();
        if !out.is_empty() {
            assert_eq!(fault_of(&out[0]).1.status, FaultStatus::ACCESS_DENIED.0);
            break;
        }
        assert!(sent <= 4 << 20);
    }
    assert!(sent > 4 << 20);
    assert!(p.is_closed());
}

#[test]
fn one_write_cannot_queue_unbounded_replies() {
    // About 100 bytes of request answered with about 7 KiB, 2000 times in
    // one write: refused once 8 MiB of replies wait.
    let mut p = bound("srvsvc", many_snapshot(), PY_BIND);
    let req = hex(MANY_ENUM_REQ);
    let many = req.repeat(2000);
    let err = p.write(&many).unwrap_err();
    assert!(matches!(err, PipeError::Backlog(_)));
    assert!(p.pending() < MAX_PENDING_OUTPUT + 8 * 1024);
}

#[test]
fn replies_not_read_stop_the_pipe() {
    let mut p = bound("srvsvc", many_snapshot(), PY_BIND);
    let req = hex(MANY_ENUM_REQ);
    let err = loop {
        match p.write(&req) {
            Ok(_) => assert!(p.pending() < 9 << 20),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, PipeError::Backlog(_)));
    assert_eq!(err.nt_status(), 0xc000_009a);
    assert!(p.is_closed());
    // What was answered can still be read.
    assert!(p.read(usize::MAX).data.len() > 16);
}

#[test]
fn only_our_pipes_open() {
    assert!(Pipe::open("lsarpc", samba_snapshot()).is_none());
    assert!(Pipe::open("samr", samba_snapshot()).is_none());
    assert_eq!(
        Pipe::open("\\PIPE\\SRVSVC", samba_snapshot())
            .unwrap()
            .name(),
        "srvsvc"
    );
    assert_eq!(
        Pipe::open("wkssvc", samba_snapshot()).unwrap().name(),
        "wkssvc"
    );
    // srvsvc is not served on the wkssvc pipe.
    let mut p = Pipe::open("wkssvc", samba_snapshot()).unwrap();
    let out = exchange(&mut p, &hex(PY_BIND));
    assert_eq!(
        ack_of(&out[0]).1.results[0],
        ContextResult::ProviderRejection(ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED)
    );
}

#[test]
fn object_uuid_requests_are_served() {
    let mut p = bound("srvsvc", samba_snapshot(), PY_BIND);
    let stub = stub_of(PY_SRVINFO100_REQ);
    let req = Request {
        alloc_hint: 0,
        context_id: 0,
        opnum: 21,
        object: Some(NDR20.uuid),
        stub: &stub,
    };
    let pdu = emit_pdu(
        Header::new(PacketType::REQUEST, SINGLE | pfc::OBJECT_UUID, 4),
        &req.emit(),
    );
    let f = Frame::parse(&pdu).unwrap();
    assert_eq!(Request::parse(f.header.pfc_flags, f.body).unwrap(), req);
    let out = exchange(&mut p, &pdu);
    let ours = NetSrvGetInfoOut::parse(&response_stub(&out)).unwrap();
    assert_eq!(
        ours,
        NetSrvGetInfoOut::parse(&stub_of(PY_SRVINFO100_RESP)).unwrap()
    );
}

#[test]
fn hidden_shares_are_not_listed_but_answer() {
    let mut snap = samba_snapshot();
    snap.shares[0].hidden = true;
    let req = NetShareEnumAllIn::parse(&stub_of(SMBCLIENT_ENUM_REQ)).unwrap();
    let out = net_share_enum_all(&snap, &req);
    let NetShareCtr::Ctr1(Some(v)) = &out.ctr else {
        panic!()
    };
    assert_eq!(v.len(), 2);
    assert_eq!(out.total_entries, 2);
    let out = net_share_get_info(
        &snap,
        &NetShareGetInfoIn {
            server_unc: None,
            share_name: "SHARE".into(),
            level: 1,
        },
    );
    assert_eq!(out.result, WError::OK);
    // A resume handle beyond the end: nothing, no error.
    let out = net_share_enum_all(
        &snap,
        &NetShareEnumAllIn {
            resume_handle: Some(u32::MAX),
            ..req
        },
    );
    assert_eq!(
        (out.ctr.len(), out.total_entries, out.result),
        (0, 0, WError::OK)
    );
    assert_eq!(NetShareEnumAllOut::parse(&out.emit()), Ok(out));
}

#[test]
fn reader_offsets_follow_the_pdu() {
    // BIND_ACK bodies align the secondary address padding to the PDU.
    let ack = hex(SMBCLIENT_BIND_ACK);
    let f = Frame::parse(&ack).unwrap();
    let mut r = NdrReader::at(f.body, HEADER_LEN);
    r.take(10, "fixed").unwrap();
    assert_eq!(r.take(13, "addr").unwrap(), b"\\pipe\\srvsvc\0");
    r.align(4, "pad").unwrap();
    assert_eq!(r.u8("n_results"), Ok(1));
}

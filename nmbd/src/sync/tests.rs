//! The sync codecs on frames captured from Samba 4.17 (captured.rs), their
//! malformed variants, and the client against scripted peers on the
//! loopback.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use common::netbios::NbName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::captured::*;
use super::rap::{self, NetServerEnumRequest, NetServerEnumResponse, RapError, RapServer};
use super::smb1::*;
use super::*;

/// The SMB message of a captured frame (after the NBSS header).
fn smb(frame: &[u8]) -> &[u8] {
    &frame[nbss::HEADER_LEN..]
}

fn msg(frame: &[u8]) -> Message<'_> {
    Message::parse(smb(frame)).expect("captured frame parses")
}

fn server(name: &str, server_type: u32, comment: &str) -> RapServer {
    RapServer {
        name: name.into(),
        version_major: 0,
        version_minor: 0,
        server_type,
        comment: comment.into(),
    }
}

/// The parameters of a TRANSACTION request (words 18 ParameterCount,
/// 20 ParameterOffset).
fn request_params(frame: &[u8]) -> &[u8] {
    let m = smb(frame);
    let w = &m[33..];
    let count = usize::from(u16::from_le_bytes([w[18], w[19]]));
    let offset = usize::from(u16::from_le_bytes([w[20], w[21]]));
    &m[offset..offset + count]
}

// ---------------------------------------------------------------------
// NetBIOS session service

#[test]
fn session_request_matches_smbclient() {
    let called = NbName::new("RAPPEER", 0x20).unwrap();
    let calling = NbName::new("OURNMBD", 0x00).unwrap();
    assert_eq!(
        session_request(&called, &calling),
        SMBCLIENT_SESSION_REQUEST
    );
    assert_eq!(SMBCLIENT_SESSION_REQUEST, OURS_SESSION_REQUEST);
}

#[test]
fn session_responses() {
    assert_eq!(
        SessionResponse::parse(SESSION_RESPONSE[0], &SESSION_RESPONSE[4..]),
        Ok(SessionResponse::Positive)
    );
    assert_eq!(
        SessionResponse::parse(nbss::NEGATIVE_RESPONSE, &[0x82]),
        Ok(SessionResponse::Negative(0x82))
    );
    assert_eq!(
        SessionResponse::parse(nbss::RETARGET_RESPONSE, &[10, 1, 2, 3, 0, 139]),
        Ok(SessionResponse::Retarget(Ipv4Addr::new(10, 1, 2, 3), 139))
    );
    assert_eq!(
        SessionResponse::parse(nbss::SESSION_MESSAGE, &[]),
        Ok(SessionResponse::Other(0))
    );
    // Truncated: a negative response without its code, a short retarget.
    assert_eq!(
        SessionResponse::parse(nbss::NEGATIVE_RESPONSE, &[]),
        Err(Smb1Error::Truncated("session error code"))
    );
    assert!(SessionResponse::parse(nbss::RETARGET_RESPONSE, &[10, 1, 2, 3, 0]).is_err());
}

#[test]
fn nbss_framing() {
    let f = nbss_message(smb(&OURS_LOGOFF));
    assert_eq!(f, OURS_LOGOFF);
    // A length with bit 16 set goes into the flags byte.
    let big = vec![0u8; 0x1_0002];
    let f = nbss_message(&big);
    assert_eq!(&f[..4], &[0x00, 0x01, 0x00, 0x02]);
}

// ---------------------------------------------------------------------
// NEGOTIATE

#[test]
fn negotiate_request_as_samba_accepted_it() {
    let h = msg(&OURS_NEGOTIATE).header;
    assert_eq!(h.flags2 & flags2::EXTENDED_SECURITY, 0);
    assert_eq!(h.flags2 & flags2::UNICODE, flags2::UNICODE);
    let m = negotiate_request(&h, &[NT_LM_012]).unwrap();
    assert_eq!(nbss_message(&m), OURS_NEGOTIATE);
    // Word count 0, byte count 12, then 0x02 "NT LM 0.12" NUL.
    assert_eq!(&m[32..], b"\x00\x0c\x00\x02NT LM 0.12\x00");
}

#[test]
fn negotiate_response_from_samba() {
    let m = msg(&NEGOTIATE_RESPONSE);
    assert_eq!(m.header.status, Status::SUCCESS);
    assert_eq!(m.header.mid, 1);
    let n = NegotiateResponse::parse(&m).unwrap();
    assert_eq!(n.dialect_index, 0);
    let nt = n.nt.unwrap();
    // User-level security with challenge/response, signing not required.
    assert_eq!(nt.security_mode, 0x03);
    assert_eq!(nt.max_mpx_count, 50);
    assert_eq!(nt.max_number_vcs, 1);
    assert_eq!(nt.max_buffer_size, 16644);
    assert_eq!(nt.max_raw_size, 0x10000);
    assert_eq!(nt.capabilities, 0x0080_f3fd);
    assert_ne!(nt.capabilities & cap::UNICODE, 0);
    assert_eq!(nt.capabilities & cap::EXTENDED_SECURITY, 0);
    match nt.security {
        NegotiateSecurity::Challenge {
            challenge,
            domain,
            server,
        } => {
            assert_eq!(challenge.len(), 8);
            assert_eq!(domain, "TESTGRP");
            assert_eq!(server, "RAPPEER");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn negotiate_response_without_unicode() {
    let n = NegotiateResponse::parse(&msg(&OEM_NEGOTIATE_RESPONSE)).unwrap();
    let nt = n.nt.unwrap();
    assert_eq!(nt.capabilities & cap::UNICODE, 0);
    // Samba still writes the names in UTF-16 (our request set
    // FLAGS2_UNICODE, its reply does too).
    assert!(
        matches!(nt.security, NegotiateSecurity::Challenge { ref domain, .. } if domain == "TESTGRP")
    );
}

#[test]
fn negotiate_response_no_dialect() {
    let n = NegotiateResponse::parse(&msg(&SMB2ONLY_NEGOTIATE_RESPONSE)).unwrap();
    assert_eq!(
        n,
        NegotiateResponse {
            dialect_index: NO_DIALECT,
            nt: None
        }
    );
}

#[test]
fn negotiate_response_extended_security() {
    // The capture with CAP_EXTENDED_SECURITY set: the bytes are then a
    // 16-byte GUID and a blob.
    let mut f = NEGOTIATE_RESPONSE.to_vec();
    let caps = 4 + 33 + 19;
    f[caps + 3] |= 0x80;
    let nt = NegotiateResponse::parse(&msg(&f)).unwrap().nt.unwrap();
    match nt.security {
        NegotiateSecurity::Extended {
            server_guid,
            security_blob,
        } => {
            assert_eq!(&server_guid[..8], &NEGOTIATE_RESPONSE[4 + 69..4 + 77]);
            assert_eq!(security_blob.len(), 40 - 16);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn negotiate_response_wrong_word_count() {
    let mut f = SMB2ONLY_NEGOTIATE_RESPONSE.to_vec();
    // Word count 2 with its two words and an empty byte block.
    f[4 + 32] = 2;
    f.splice(4 + 35..4 + 35, [0, 0]);
    assert_eq!(
        NegotiateResponse::parse(&msg(&f)),
        Err(Smb1Error::WordCount {
            what: "NEGOTIATE reply",
            got: 2,
            want: "1 or 17"
        })
    );
}

// ---------------------------------------------------------------------
// SESSION_SETUP_ANDX

fn anonymous_setup(session_key: u32, unicode: bool) -> SessionSetupRequest {
    SessionSetupRequest {
        max_buffer_size: client::MAX_BUFFER_SIZE,
        max_mpx_count: 2,
        vc_number: 1,
        session_key,
        oem_password: Vec::new(),
        unicode_password: Vec::new(),
        capabilities: cap::NT_SMBS | cap::STATUS32 | if unicode { cap::UNICODE } else { 0 },
        account: String::new(),
        primary_domain: String::new(),
        native_os: "Unix".into(),
        native_lanman: "nmbd".into(),
    }
}

#[test]
fn session_setup_requests_as_samba_accepted_them() {
    let key = |f: &[u8]| u32::from_le_bytes(f[4 + 33 + 10..4 + 33 + 14].try_into().unwrap());
    let h = msg(&OURS_SESSION_SETUP).header;
    let m = anonymous_setup(key(&OURS_SESSION_SETUP), true)
        .emit(&h)
        .unwrap();
    assert_eq!(nbss_message(&m), OURS_SESSION_SETUP);
    let h = msg(&OEM_SESSION_SETUP).header;
    assert!(!h.unicode());
    let m = anonymous_setup(key(&OEM_SESSION_SETUP), false)
        .emit(&h)
        .unwrap();
    assert_eq!(nbss_message(&m), OEM_SESSION_SETUP);
    // The OEM form: no passwords, "" "" "Unix" "nmbd".
    assert_eq!(&m[61..], b"\x00\x00Unix\x00nmbd\x00");
}

#[test]
fn session_setup_counts() {
    // 13 words; the byte count covers exactly the bytes that follow.
    let h = Header::request(command::SESSION_SETUP_ANDX, flags2::UNICODE, 0, 7, 0, 2);
    let a = anonymous_setup(0x1234_5678, true).emit(&h).unwrap();
    assert_eq!(a[32], 13);
    assert_eq!(
        usize::from(u16::from_le_bytes([a[59], a[60]])),
        a.len() - 61
    );
    // Bytes start at 61 (odd): the first UTF-16 string is padded to 62.
    assert_eq!(&a[61..66], &[0, 0, 0, 0, 0]);
}

#[test]
fn session_setup_responses_from_samba() {
    let m = msg(&SESSION_SETUP_RESPONSE);
    let r = SessionSetupResponse::parse(&m).unwrap();
    assert_eq!(
        r,
        SessionSetupResponse {
            action: 0,
            native_os: "Windows 6.1".into(),
            native_lanman: "Samba 4.17.12-Debian".into(),
            primary_domain: "TESTGRP".into(),
        }
    );
    assert_ne!(m.header.uid, 0);
    let r = SessionSetupResponse::parse(&msg(&OEM_SESSION_SETUP_RESPONSE)).unwrap();
    assert_eq!(r.native_lanman, "Samba 4.17.12-Debian");
    assert_eq!(r.primary_domain, "TESTGRP");
}

#[test]
fn session_setup_response_short_strings() {
    // A server that stops after NativeOS, one that cuts a UTF-16 string
    // in the middle: the rest is empty, never read past the bytes.
    let mut f = SESSION_SETUP_RESPONSE.to_vec();
    let bc_at = 4 + 33 + 6;
    let keep = 1 + 24; // pad + "Windows 6.1" NUL
    f[bc_at..bc_at + 2].copy_from_slice(&(keep as u16).to_le_bytes());
    f.truncate(bc_at + 2 + keep);
    let r = SessionSetupResponse::parse(&msg(&f)).unwrap();
    assert_eq!(r.native_os, "Windows 6.1");
    assert_eq!(r.native_lanman, "");
    let keep = 1 + 5; // pad + "Wi" and half a unit
    f[bc_at..bc_at + 2].copy_from_slice(&(keep as u16).to_le_bytes());
    f.truncate(bc_at + 2 + keep);
    let r = SessionSetupResponse::parse(&msg(&f)).unwrap();
    assert_eq!(r.native_os, "Wi");
}

#[test]
fn session_setup_extended_reply_refused() {
    let mut f = SESSION_SETUP_RESPONSE.to_vec();
    f[4 + 32] = 4;
    f.splice(4 + 39..4 + 39, [0, 0]);
    assert!(matches!(
        SessionSetupResponse::parse(&msg(&f)),
        Err(Smb1Error::WordCount { got: 4, .. })
    ));
}

// ---------------------------------------------------------------------
// TREE_CONNECT_ANDX

fn ipc(unicode_path: &str) -> TreeConnectRequest {
    TreeConnectRequest {
        flags: TCONX_EXTENDED_RESPONSE,
        password: vec![0],
        path: unicode_path.into(),
        service: "?????".into(),
    }
}

#[test]
fn tree_connect_requests_as_samba_accepted_them() {
    for frame in [&OURS_TREE_CONNECT[..], &OEM_TREE_CONNECT[..]] {
        let h = msg(frame).header;
        let m = ipc("\\\\RAPPEER\\IPC$").emit(&h).unwrap();
        assert_eq!(nbss_message(&m), frame);
    }
    assert!(OEM_TREE_CONNECT.ends_with(b"\x00\\\\RAPPEER\\IPC$\x00?????\x00"));
}

#[test]
fn tree_connect_responses_from_samba() {
    for frame in [&TREE_CONNECT_RESPONSE[..], &OEM_TREE_CONNECT_RESPONSE[..]] {
        let m = msg(frame);
        let r = TreeConnectResponse::parse(&m).unwrap();
        assert_eq!(
            r,
            TreeConnectResponse {
                optional_support: 0x0001,
                maximal_access: Some(0x1ff),
                guest_maximal_access: Some(0x1ff),
                service: "IPC".into(),
                native_file_system: String::new(),
            }
        );
        assert_ne!(m.header.tid, 0);
    }
}

#[test]
fn tree_connect_refused() {
    let m = msg(&RESTRICTED_TREE_CONNECT_RESPONSE);
    assert_eq!(m.header.status, Status::Nt(0xc000_0022));
    assert_eq!(
        m.header.status.to_string(),
        "NT_STATUS_ACCESS_DENIED (0xc0000022)"
    );
    assert_eq!(m.word_count(), 0);
    // A reply with a DOS error (no FLAGS2_NT_STATUS).
    let mut f = RESTRICTED_TREE_CONNECT_RESPONSE.to_vec();
    f[4 + 5..4 + 9].copy_from_slice(&[0x02, 0, 0x04, 0]);
    f[4 + 11] &= !0x40;
    let m = msg(&f);
    assert_eq!(m.header.status, Status::Dos { class: 2, code: 4 });
    assert_eq!(m.header.status.to_string(), "DOS error class 2 code 4");
}

#[test]
fn error_reply_without_byte_count() {
    // Header, word count 0 and nothing else: an empty byte block.
    let m = Message::parse(&smb(&RESTRICTED_TREE_CONNECT_RESPONSE)[..33]).unwrap();
    assert_eq!(m.header.status, Status::Nt(0xc000_0022));
}

// ---------------------------------------------------------------------
// LOGOFF_ANDX

#[test]
fn logoff() {
    let h = msg(&OURS_LOGOFF).header;
    assert_eq!(nbss_message(&logoff_request(&h).unwrap()), OURS_LOGOFF);
    let m = msg(&LOGOFF_RESPONSE);
    m.expect(command::LOGOFF_ANDX).unwrap();
    assert!(m.header.status.is_success());
}

// ---------------------------------------------------------------------
// TRANSACTION and RAP

fn enum2(domain: &str, server_type: u32) -> NetServerEnumRequest {
    NetServerEnumRequest {
        level: rap::INFO_LEVEL_1,
        receive_size: 0xffff,
        server_type,
        domain: domain.into(),
        first_name: None,
    }
}

#[test]
fn rap_parameters_match_smbclient() {
    // smbclient asked for its server's domain, which it had as "".
    assert_eq!(
        enum2("", 0x8000_0000).emit().unwrap(),
        request_params(&SMBCLIENT_ENUM2_DOMAINS)
    );
    assert_eq!(
        enum2("", 0xffff_ffff).emit().unwrap(),
        request_params(&SMBCLIENT_ENUM2_ALL)
    );
    // Ours, as sent: the workgroup upper-cased.
    assert_eq!(
        enum2("testgrp", 0x8000_0000).emit().unwrap(),
        request_params(&OURS_ENUM2_DOMAINS)
    );
    assert_eq!(
        request_params(&OURS_ENUM2_SERVERS),
        b"\x68\x00WrLehDz\x00B16BBDz\x00\x01\x00\xff\xff\xff\xff\xff\xffTESTGRP\x00"
    );
}

#[test]
fn rap_enum3_parameters() {
    let mut r = enum2("TESTGRP", 0xffff_ffff);
    r.first_name = Some("S01488".into());
    let p = r.emit().unwrap();
    assert_eq!(
        p,
        b"\xd7\x00WrLehDzz\x00B16BBDz\x00\x01\x00\xff\xff\xff\xff\xff\xffTESTGRP\x00S01488\x00"
    );
    assert_eq!(NetServerEnumRequest::parse(&p).unwrap(), r);
    // Too long, or with a NUL inside: refused, not truncated.
    let mut r = enum2(&"X".repeat(300), 0);
    assert!(matches!(r.emit(), Err(RapError::TooLong { .. })));
    r.domain = "A\0B".into();
    assert!(matches!(r.emit(), Err(RapError::TooLong { .. })));
}

#[test]
fn transaction_requests_as_samba_accepted_them() {
    for (frame, server_type) in [
        (&OURS_ENUM2_DOMAINS[..], 0x8000_0000),
        (&OURS_ENUM2_SERVERS[..], 0xffff_ffff),
    ] {
        let h = msg(frame).header;
        let req = TransactionRequest {
            name: "\\PIPE\\LANMAN".into(),
            params: enum2("TESTGRP", server_type).emit().unwrap(),
            data: Vec::new(),
            setup: Vec::new(),
            max_param_count: 8,
            max_data_count: 0xffff,
            max_setup_count: 0,
            flags: 0,
            timeout_ms: 0,
        };
        assert_eq!(nbss_message(&req.emit(&h).unwrap()), frame);
    }
}

#[test]
fn transaction_request_with_data_is_aligned() {
    let h = Header::request(command::TRANSACTION, 0, 1, 2, 3, 4);
    let req = TransactionRequest {
        name: "\\PIPE\\X".into(),
        params: vec![1, 2, 3],
        data: vec![9, 9],
        setup: vec![0x26, 0x4000],
        max_param_count: 0,
        max_data_count: 0,
        max_setup_count: 0,
        flags: 0,
        timeout_ms: 0,
    };
    let m = req.emit(&h).unwrap();
    let w = &m[33..];
    assert_eq!(m[32], 16);
    let param_off = usize::from(u16::from_le_bytes([w[20], w[21]]));
    let data_off = usize::from(u16::from_le_bytes([w[24], w[25]]));
    assert_eq!(param_off % 4, 0);
    assert_eq!(data_off % 4, 0);
    assert_eq!(&m[param_off..param_off + 3], &[1, 2, 3]);
    assert_eq!(&m[data_off..], &[9, 9]);
    assert_eq!(&w[28..32], &[0x26, 0, 0, 0x40]);
}

fn one_part(frame: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let m = msg(frame);
    let part = TransactionPart::parse(&m).unwrap();
    let mut a = TransactionAssembly::new(8, 0xffff);
    assert!(a.add(&part).unwrap());
    (a.params, a.data)
}

#[test]
fn enum2_domains_from_samba() {
    let (params, data) = one_part(&ENUM2_DOMAINS_RESPONSE);
    let r = NetServerEnumResponse::parse(&params, &data).unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(r.entries_available, 3);
    assert_eq!(
        r.servers,
        vec![
            server("LOCALGRP", 0x8000_1000, "LOCALMB"),
            server("OTHERGRP", 0x8000_1000, "OTHERMB"),
            server("TESTGRP", 0x8000_1000, "RAPPEER"),
        ]
    );
}

#[test]
fn enum2_servers_from_samba() {
    let (params, data) = one_part(&ENUM2_SERVERS_RESPONSE);
    let r = NetServerEnumResponse::parse(&params, &data).unwrap();
    assert_eq!(r.entries_available, 5);
    assert_eq!(
        r.servers,
        vec![
            server("ALPHA", 0x1003, "first server"),
            server(
                "BETA",
                0x9003,
                "a comment well beyond forty-eight characters, to"
            ),
            server("GAMMA", 0x3, ""),
            server("LOCALONE", 0x3, "seen here"),
            server("RAPPEER", 0x51003, "Samba peer"),
        ]
    );
}

/// A TRANSACTION reply message (NBSS header included) carrying the given
/// slices, as a server splits a long reply.
fn trans_reply(mid: u16, totals: (u16, u16), params: (u16, &[u8]), data: (u16, &[u8])) -> Vec<u8> {
    let mut m = msg(&ENUM2_SERVERS_RESPONSE).header.clone().emit_for_test();
    m[hdr::MID].copy_from_slice(&mid.to_le_bytes());
    // word count 10, then the words; parameters at 56 (after the byte
    // count at 53 and a 3-byte pad), data aligned after them.
    m.push(10);
    let param_off = 56usize;
    let data_off = (param_off + params.1.len()).next_multiple_of(4);
    for v in [
        totals.0,
        totals.1,
        0,
        params.1.len() as u16,
        param_off as u16,
        params.0,
        data.1.len() as u16,
        data_off as u16,
        data.0,
    ] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&((data_off + data.1.len() - 55) as u16).to_le_bytes());
    m.resize(param_off, 0);
    m.extend_from_slice(params.1);
    m.resize(data_off, 0);
    m.extend_from_slice(data.1);
    nbss_message(&m)
}

impl Header {
    fn emit_for_test(&self) -> Vec<u8> {
        let mut m = logoff_request(self).unwrap();
        m.truncate(hdr::LEN);
        m
    }
}

#[test]
fn transaction_reassembled_from_parts() {
    let (params, data) = one_part(&ENUM2_SERVERS_RESPONSE);
    let total = (params.len() as u16, data.len() as u16);
    let frames = [
        trans_reply(5, total, (0, &params), (0, &data[..50])),
        trans_reply(5, total, (8, &[]), (50, &data[50..120])),
        trans_reply(5, total, (8, &[]), (120, &data[120..])),
    ];
    let mut a = TransactionAssembly::new(8, 0xffff);
    let done: Vec<bool> = frames
        .iter()
        .map(|f| a.add(&TransactionPart::parse(&msg(f)).unwrap()).unwrap())
        .collect();
    assert_eq!(done, [false, false, true]);
    assert_eq!((a.params, a.data), (params, data));
}

#[test]
fn transaction_malformed_parts() {
    let (params, data) = one_part(&ENUM2_SERVERS_RESPONSE);
    let total = (8u16, data.len() as u16);
    let part = |f: &[u8]| TransactionPart::parse(&msg(f)).map(|p| p.data.to_vec());
    // Data count beyond the message.
    let mut f = ENUM2_SERVERS_RESPONSE.to_vec();
    f[4 + 33 + 12] = 0xff;
    assert!(matches!(
        part(&f),
        Err(Smb1Error::OutsideMessage { what: "data", .. })
    ));
    // Parameter offset into the header.
    let mut f = ENUM2_SERVERS_RESPONSE.to_vec();
    f[4 + 33 + 8..4 + 33 + 10].copy_from_slice(&4u16.to_le_bytes());
    assert!(matches!(
        part(&f),
        Err(Smb1Error::OutsideMessage {
            what: "parameters",
            ..
        })
    ));
    // Setup count that disagrees with the word count.
    let mut f = ENUM2_SERVERS_RESPONSE.to_vec();
    f[4 + 33 + 18] = 1;
    assert!(matches!(part(&f), Err(Smb1Error::WordCount { .. })));
    // Not a TRANSACTION reply at all.
    assert!(matches!(
        TransactionPart::parse(&msg(&LOGOFF_RESPONSE)),
        Err(Smb1Error::WrongCommand { got: 0x74, .. })
    ));

    let add = |frames: &[Vec<u8>], max_data: u16| {
        let mut a = TransactionAssembly::new(8, max_data);
        let mut last = Ok(false);
        for f in frames {
            last = a.add(&TransactionPart::parse(&msg(f)).unwrap());
            if last.is_err() {
                break;
            }
        }
        last
    };
    // Displacement beyond the total.
    let f = trans_reply(5, total, (0, &params), (250, &data[..50]));
    assert!(matches!(
        add(&[f], 0xffff),
        Err(Smb1Error::BeyondTotal { what: "data", .. })
    ));
    // A total beyond what we asked for.
    let f = trans_reply(5, total, (0, &params), (0, &data[..50]));
    assert!(matches!(
        add(&[f], 100),
        Err(Smb1Error::TotalTooLarge { what: "data", .. })
    ));
    // Parts out of order (a gap).
    let a = trans_reply(5, total, (0, &params), (0, &data[..50]));
    let b = trans_reply(5, total, (8, &[]), (60, &data[60..]));
    assert!(matches!(
        add(&[a.clone(), b], 0xffff),
        Err(Smb1Error::OutOfOrder {
            disp: 60,
            expected: 50,
            ..
        })
    ));
    // A total that grows.
    let b = trans_reply(5, (8, total.1 + 1), (8, &[]), (50, &data[50..]));
    assert!(matches!(
        add(&[a.clone(), b], 0xffff),
        Err(Smb1Error::TotalGrew { .. })
    ));
    // A part with nothing in it.
    let b = trans_reply(5, total, (8, &[]), (50, &[]));
    assert!(matches!(
        add(&[a.clone(), b], 0xffff),
        Err(Smb1Error::EmptyPart)
    ));
    // A total that shrinks to what has arrived ends the reply there.
    let b = trans_reply(5, (8, 60), (8, &[]), (50, &data[50..60]));
    assert_eq!(add(&[a, b], 0xffff), Ok(true));
}

#[test]
fn every_truncation_is_an_error() {
    for frame in [
        &NEGOTIATE_RESPONSE[..],
        &SESSION_SETUP_RESPONSE[..],
        &TREE_CONNECT_RESPONSE[..],
        &ENUM2_DOMAINS_RESPONSE[..],
        &ENUM2_SERVERS_RESPONSE[..],
    ] {
        let m = smb(frame);
        for cut in 0..m.len() {
            assert!(Message::parse(&m[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn not_smb1_or_not_a_reply() {
    let mut f = NEGOTIATE_RESPONSE.to_vec();
    f[4] = 0xfe;
    assert!(matches!(
        Message::parse(smb(&f)),
        Err(Smb1Error::NotSmb1([0xfe, b'S', b'M', b'B']))
    ));
    assert_eq!(
        msg(&OURS_NEGOTIATE).expect(command::NEGOTIATE),
        Err(Smb1Error::NotReply)
    );
}

#[test]
fn no_byte_of_a_reply_panics() {
    // Every byte of every captured reply set to a few values, then every
    // parser run on it: errors are fine, panics are not.
    let replies: [&[u8]; 6] = [
        &NEGOTIATE_RESPONSE,
        &SESSION_SETUP_RESPONSE,
        &TREE_CONNECT_RESPONSE,
        &ENUM2_DOMAINS_RESPONSE,
        &ENUM2_SERVERS_RESPONSE,
        &OEM_SESSION_SETUP_RESPONSE,
    ];
    for frame in replies {
        for i in 4..frame.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut f = frame.to_vec();
                f[i] = v;
                let Ok(m) = Message::parse(smb(&f)) else {
                    continue;
                };
                let _ = NegotiateResponse::parse(&m);
                let _ = SessionSetupResponse::parse(&m);
                let _ = TreeConnectResponse::parse(&m);
                if let Ok(p) = TransactionPart::parse(&m) {
                    let mut a = TransactionAssembly::new(8, 0xffff);
                    if let Ok(true) = a.add(&p) {
                        let _ = NetServerEnumResponse::parse(&a.params, &a.data);
                    }
                }
            }
        }
    }
}

#[test]
fn rap_entries_beyond_the_data() {
    let (mut params, data) = one_part(&ENUM2_SERVERS_RESPONSE);
    params[4..6].copy_from_slice(&6u16.to_le_bytes());
    assert_eq!(
        NetServerEnumResponse::parse(&params, &data[..5 * 26]),
        Err(RapError::EntriesBeyondData {
            returned: 6,
            data_len: 130
        })
    );
    params[4..6].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(NetServerEnumResponse::parse(&params, &data).is_err());
    // Short parameters.
    assert_eq!(
        NetServerEnumResponse::parse(&params[..6], &data),
        Err(RapError::Truncated("entries available"))
    );
    assert_eq!(
        NetServerEnumResponse::parse(&[], &data),
        Err(RapError::Truncated("status"))
    );
}

#[test]
fn rap_error_status_needs_only_the_status() {
    let r = NetServerEnumResponse::parse(&[5, 0], &[]).unwrap();
    assert_eq!(r.status, rap::status::ACCESS_DENIED);
    assert!(r.servers.is_empty());
    assert_eq!(rap::status_name(r.status), "access denied");
}

#[test]
fn rap_comment_pointers() {
    // One entry, the comment at offset 26; the pointer's high half is
    // ignored and the converter subtracted.
    let mut data = b"NAME\0\0\0\0\0\0\0\0\0\0\0\0\x04\x09\x03\x00\x00\x00".to_vec();
    let with = |pointer: u32, converter: u16, data: &[u8]| {
        let mut d = data.to_vec();
        d.extend_from_slice(&pointer.to_le_bytes());
        d.extend_from_slice(b"hello\0");
        let mut p = vec![0, 0];
        p.extend_from_slice(&converter.to_le_bytes());
        p.extend_from_slice(&[1, 0, 1, 0]);
        NetServerEnumResponse::parse(&p, &d).unwrap().servers[0].clone()
    };
    let s = with(26, 0, &data);
    assert_eq!(
        s,
        RapServer {
            name: "NAME".into(),
            version_major: 4,
            version_minor: 9,
            server_type: 3,
            comment: "hello".into()
        }
    );
    assert_eq!(
        with(0xabcd_0000 + 0x1000 + 26, 0x1000, &data).comment,
        "hello"
    );
    // Beyond the data, before the converter, zero: no comment.
    assert_eq!(with(0x0400, 0, &data).comment, "");
    assert_eq!(with(26, 27, &data).comment, "");
    assert_eq!(with(0, 0, &data).comment, "");
    // Into the middle of the comment; into the entry itself.
    assert_eq!(with(28, 0, &data).comment, "llo");
    assert_eq!(with(1, 0, &data).comment, "AME");
    // An unterminated name fills all 16 bytes.
    data[..16].copy_from_slice(b"ABCDEFGHIJKLMNOP");
    assert_eq!(with(26, 0, &data).name, "ABCDEFGHIJKLMNOP");
}

#[test]
fn rap_unterminated_comment_stops_at_the_data() {
    let mut d = b"N\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0".to_vec();
    d.extend_from_slice(&26u32.to_le_bytes());
    d.extend_from_slice(b"abc");
    let r = NetServerEnumResponse::parse(&[0, 0, 0, 0, 1, 0, 1, 0], &d).unwrap();
    assert_eq!(r.servers[0].comment, "abc");
}

#[test]
fn rap_many_entries_on_one_long_comment_stay_small() {
    // 1000 entries all pointing at one unterminated 32 KiB string: each
    // takes at most MAX_COMMENT bytes of it.
    let n = 1000u16;
    let mut d = Vec::new();
    let text = 26 * usize::from(n);
    for _ in 0..n {
        d.extend_from_slice(b"N\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0");
        d.extend_from_slice(&(text as u32).to_le_bytes());
    }
    d.extend(std::iter::repeat_n(b'x', 32 * 1024));
    let mut p = vec![0, 0, 0, 0];
    p.extend_from_slice(&n.to_le_bytes());
    p.extend_from_slice(&n.to_le_bytes());
    let r = NetServerEnumResponse::parse(&p, &d).unwrap();
    assert_eq!(r.servers.len(), usize::from(n));
    assert!(
        r.servers
            .iter()
            .all(|s| s.comment.len() == rap::MAX_COMMENT)
    );
}

// ---------------------------------------------------------------------
// The client against scripted peers

type Handler = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

/// A peer on the loopback that answers each frame it reads with what
/// `handler` returns (None: close the connection).
async fn peer(mut handler: Handler) -> SocketAddrV4 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let std::net::SocketAddr::V4(addr) = l.local_addr().unwrap() else {
        unreachable!()
    };
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        loop {
            let mut h = [0u8; 4];
            if s.read_exact(&mut h).await.is_err() {
                return;
            }
            let len = (usize::from(h[1] & 1) << 16) | usize::from(u16::from_be_bytes([h[2], h[3]]));
            let mut frame = h.to_vec();
            frame.resize(4 + len, 0);
            if s.read_exact(&mut frame[4..]).await.is_err() {
                return;
            }
            match handler(&frame) {
                Some(out) => {
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
                None => return,
            }
        }
    });
    addr
}

fn with_mid(frame: &[u8], mid: u16) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[nbss::HEADER_LEN..][hdr::MID].copy_from_slice(&mid.to_le_bytes());
    f
}

/// Samba as captured: each request answered with the captured reply
/// (its message id set to the request's); NetServerEnum answered by
/// `rap(params, mid)`.
fn samba_like(mut rap: impl FnMut(&[u8], u16) -> Vec<u8> + Send + 'static) -> Handler {
    Box::new(move |f: &[u8]| {
        if f[0] == nbss::SESSION_REQUEST {
            return Some(SESSION_RESPONSE.to_vec());
        }
        let mid = msg(f).header.mid;
        Some(match f[nbss::HEADER_LEN + hdr::COMMAND] {
            command::NEGOTIATE => with_mid(&NEGOTIATE_RESPONSE, mid),
            command::SESSION_SETUP_ANDX => with_mid(&SESSION_SETUP_RESPONSE, mid),
            command::TREE_CONNECT_ANDX => with_mid(&TREE_CONNECT_RESPONSE, mid),
            command::TRANSACTION => rap(request_params(f), mid),
            command::LOGOFF_ANDX => with_mid(&LOGOFF_RESPONSE, mid),
            _ => return None,
        })
    })
}

fn sync_req(peer: SocketAddrV4) -> SyncRequest<'static> {
    SyncRequest {
        peer,
        called: "RAPPEER",
        called_suffix: 0x20,
        calling: "OURNMBD",
        workgroup: "TESTGRP",
        local_only: false,
        servers: true,
    }
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sync_replayed_from_the_capture() {
    // The servers reply comes in three parts.
    let addr = peer(samba_like(|params, mid| {
        let r = NetServerEnumRequest::parse(params).unwrap();
        if r.server_type == sv_type::DOMAIN_ENUM {
            with_mid(&ENUM2_DOMAINS_RESPONSE, mid)
        } else {
            let (p, d) = one_part(&ENUM2_SERVERS_RESPONSE);
            let t = (8, d.len() as u16);
            [
                trans_reply(mid, t, (0, &p), (0, &d[..26])),
                trans_reply(mid, t, (8, &[]), (26, &d[26..100])),
                trans_reply(mid, t, (8, &[]), (100, &d[100..])),
            ]
            .concat()
        }
    }))
    .await;
    let s = sync_lists(&sync_req(addr), LIMIT).await.unwrap();
    assert_eq!(s.server_domain, "TESTGRP");
    let names = |l: &[RapServer]| l.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&s.workgroups), ["LOCALGRP", "OTHERGRP", "TESTGRP"]);
    assert_eq!(
        names(&s.servers),
        ["ALPHA", "BETA", "GAMMA", "LOCALONE", "RAPPEER"]
    );
}

/// A RAP reply with `names` (comment "c<name>"), the given status and
/// available count.
fn rap_reply(mid: u16, status: u16, available: u16, names: &[String]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut strings = Vec::new();
    let fixed = names.len() * 26;
    for n in names {
        let mut name = [0u8; 16];
        name[..n.len()].copy_from_slice(n.as_bytes());
        data.extend_from_slice(&name);
        data.extend_from_slice(&[0, 0]);
        data.extend_from_slice(&(0x4000_0003u32).to_le_bytes());
        data.extend_from_slice(&((fixed + strings.len()) as u32).to_le_bytes());
        strings.extend_from_slice(format!("c{n}\0").as_bytes());
    }
    data.extend_from_slice(&strings);
    let mut params = Vec::new();
    for v in [status, 0, names.len() as u16, available] {
        params.extend_from_slice(&v.to_le_bytes());
    }
    trans_reply(mid, (8, data.len() as u16), (0, &params), (0, &data))
}

#[tokio::test]
async fn continuation_skips_the_repeated_entry() {
    // 10 servers, 4 per reply; each NetServerEnum3 starts again at the
    // name it was given (as Samba and Windows do).
    let all: Vec<String> = (0..10).map(|i| format!("S{i:02}")).collect();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = peer(samba_like(move |params, mid| {
        let r = NetServerEnumRequest::parse(params).unwrap();
        log.lock().unwrap().push(r.clone());
        if r.server_type == sv_type::DOMAIN_ENUM {
            return rap_reply(mid, 0, 0, &[]);
        }
        let from = match &r.first_name {
            None => 0,
            Some(n) => all.iter().position(|s| s == n).unwrap(),
        };
        let to = (from + 4).min(all.len());
        let status = if to < all.len() { 234 } else { 0 };
        rap_reply(mid, status, (all.len() - from) as u16, &all[from..to])
    }))
    .await;
    let s = sync_lists(&sync_req(addr), LIMIT).await.unwrap();
    let names: Vec<_> = s.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "S00", "S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08", "S09"
        ]
    );
    // LOCAL_LIST_ONLY cleared; comments found.
    assert!(s.servers.iter().all(|v| v.server_type == 3));
    assert_eq!(s.servers[9].comment, "cS09");
    let firsts: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.first_name.clone())
        .collect();
    assert_eq!(firsts, [None, None, Some("S03".into()), Some("S06".into())]);
}

#[tokio::test]
async fn continuation_stops_when_nothing_new_comes() {
    // A peer that says "more data" forever but repeats the same entry.
    let addr = peer(samba_like(|_params, mid| {
        rap_reply(mid, 234, 100, &["ONLY".to_string()])
    }))
    .await;
    let s = sync_lists(&sync_req(addr), LIMIT).await.unwrap();
    assert_eq!(s.servers.len(), 1);
    assert_eq!(s.workgroups.len(), 1);
}

#[tokio::test]
async fn rap_error_status_names_the_call() {
    let addr = peer(samba_like(|_params, mid| {
        trans_reply(mid, (4, 0), (0, &[5, 0, 0, 0]), (0, &[]))
    }))
    .await;
    let e = sync_lists(&sync_req(addr), LIMIT).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("NetServerEnum2 to {addr}: status 5 (access denied)")
    );
}

#[tokio::test]
async fn refused_session_request() {
    let addr = peer(Box::new(|_f: &[u8]| Some(vec![0x83, 0, 0, 1, 0x82]))).await;
    let e = sync_lists(&sync_req(addr), LIMIT).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("session request to {addr} refused: called name not present (0x82)")
    );
}

#[tokio::test]
async fn silent_peer_times_out() {
    let addr = peer(Box::new(|_f: &[u8]| Some(Vec::new()))).await;
    let limit = Duration::from_millis(300);
    let t = std::time::Instant::now();
    let e = sync_lists(&sync_req(addr), limit).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            e,
            SyncError::Timeout {
                step: Step::SessionRequest,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("session request to {addr}: timed out (300ms allowed for the whole exchange)")
    );
}

#[tokio::test]
async fn peer_that_hangs_up() {
    let addr = peer(Box::new(|_f: &[u8]| None)).await;
    let e = sync_lists(&sync_req(addr), LIMIT).await.unwrap_err();
    assert!(
        matches!(
            e,
            SyncError::Closed {
                step: Step::SessionRequest,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn oversized_frame() {
    let addr = peer(Box::new(|_f: &[u8]| Some(vec![0x82, 0xff, 0xff, 0xff]))).await;
    let e = sync_lists(&sync_req(addr), LIMIT).await.unwrap_err();
    assert!(
        matches!(e, SyncError::FrameTooLarge { len: 0xff_ffff, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_message_id() {
    let addr = peer(Box::new(|f: &[u8]| {
        Some(if f[0] == nbss::SESSION_REQUEST {
            SESSION_RESPONSE.to_vec()
        } else {
            with_mid(&NEGOTIATE_RESPONSE, 77)
        })
    }))
    .await;
    let e = sync_lists(&sync_req(addr), LIMIT).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("NEGOTIATE to {addr}: malformed reply: reply to message id 77, expected 1")
    );
}

#[tokio::test]
async fn bad_names_are_refused_before_connecting() {
    let mut r = sync_req(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9));
    r.called = "A.NAME.WITH.DOTS";
    let e = sync_lists(&r, LIMIT).await.unwrap_err();
    assert!(matches!(e, SyncError::Name { .. }), "{e}");
}

//! The datagram and browser codecs against frames captured from Samba's
//! nmbd (see `captured.rs`): parse, check every field, emit into a buffer
//! pre-filled with 0xa5 and compare byte for byte; then broken variants.

use std::net::Ipv4Addr;

use common::netbios::NbName;

use super::browse::{Announcement, BrowseError, BrowseFrame, Election, sv_type};
use super::captured::*;
use super::dgram::{Datagram, DgramError, MailslotWrite, MsgType, NodeType};

/// Datagram -> mailslot write -> browser frame.
fn layers(packet: &[u8]) -> (Datagram, MailslotWrite, BrowseFrame) {
    let dg = Datagram::parse(packet).expect("datagram");
    let Datagram::Data { data, .. } = &dg else {
        panic!("not a data datagram")
    };
    let ms = MailslotWrite::parse(data).expect("mailslot write");
    let frame = BrowseFrame::parse(&ms.data).expect("browser frame");
    (dg, ms, frame)
}

/// Emits all three layers into 0xa5-filled buffers; returns the datagram.
fn emit_all(dg: &Datagram, ms: &MailslotWrite, frame: &BrowseFrame) -> Vec<u8> {
    let mut fbuf = [0xa5u8; 600];
    let n = frame.emit(&mut fbuf).unwrap();
    assert_eq!(&fbuf[..n], &ms.data[..], "browser frame");
    let mut mbuf = [0xa5u8; 700];
    let m = ms.emit(&mut mbuf).unwrap();
    assert_eq!(m, ms.buffer_len());
    let mut dbuf = [0xa5u8; 800];
    let d = dg.emit(&mut dbuf).unwrap();
    assert_eq!(d, dg.buffer_len());
    let Datagram::Data { data, .. } = dg else {
        unreachable!()
    };
    assert_eq!(&mbuf[..m], &data[..], "SMB transaction");
    dbuf[..d].to_vec()
}

fn tg(suffix: u8) -> NbName {
    NbName::new("TESTGRP", suffix).unwrap()
}

#[test]
fn host_announcement_from_samba() {
    let (dg, ms, frame) = layers(&HOST_ANNOUNCEMENT);
    let Datagram::Data {
        msg_type,
        header,
        packet_offset,
        source,
        destination,
        data,
    } = &dg
    else {
        panic!()
    };
    assert_eq!(*msg_type, MsgType::DirectGroup);
    assert!(header.first && !header.more);
    assert_eq!(header.node_type, NodeType::M);
    assert_eq!(header.id, 0x3fa0);
    assert_eq!(header.source_ip, Ipv4Addr::new(10, 99, 0, 1));
    assert_eq!(header.source_port, 138);
    assert_eq!(*packet_offset, 0);
    assert_eq!(*source, NbName::new("BWHOST1", 0).unwrap());
    assert_eq!(*destination, tg(0x1d));
    assert_eq!(data.len(), 200 - 68);
    assert_eq!(ms.mailslot, "\\MAILSLOT\\BROWSE");
    assert_eq!((ms.priority, ms.class, ms.timeout), (1, 2, 0));
    assert_eq!(
        frame,
        BrowseFrame::HostAnnouncement(Announcement {
            update_count: 0,
            periodicity_ms: 60_000,
            server_name: "BWHOST1".into(),
            os_major: 6,
            os_minor: 1,
            server_type: 0x0081_9a03,
            browser_major: 15,
            browser_minor: 1,
            signature: 0xaa55,
            comment: "Browse test 1".into(),
        })
    );
    assert_eq!(emit_all(&dg, &ms, &frame), HOST_ANNOUNCEMENT);
}

#[test]
fn elections_from_samba() {
    for (bytes, criteria, uptime, name) in [
        (&ELECTION_21[..], 0x1501_0f02, 6000, "BWHOST1"),
        (&ELECTION_22[..], 0x1601_0f0a, 6000, "BWHOST2"),
    ] {
        let (dg, ms, frame) = layers(bytes);
        let BrowseFrame::RequestElection(e) = &frame else {
            panic!("{frame:?}")
        };
        assert_eq!(
            *e,
            Election {
                version: 1,
                criteria,
                uptime_ms: e.uptime_ms,
                server_name: name.into(),
            }
        );
        // Samba's uptime is milliseconds since start (about 6 s here).
        assert!(e.uptime_ms / 1000 == uptime / 1000, "{}", e.uptime_ms);
        let Datagram::Data { destination, .. } = &dg else {
            panic!()
        };
        assert_eq!(*destination, tg(0x1e));
        assert_eq!(emit_all(&dg, &ms, &frame), bytes);
    }
}

#[test]
fn local_master_and_domain_announcement_from_samba() {
    let (dg, ms, frame) = layers(&LOCAL_MASTER_ANNOUNCEMENT);
    let BrowseFrame::LocalMasterAnnouncement(a) = &frame else {
        panic!("{frame:?}")
    };
    assert_eq!(a.server_name, "BWHOST2");
    assert_eq!(a.periodicity_ms, 120_000);
    assert_ne!(a.server_type & sv_type::MASTER_BROWSER, 0);
    // Samba drops "potential browser" while it is the master.
    assert_eq!(a.server_type & sv_type::POTENTIAL_BROWSER, 0);
    assert_eq!(emit_all(&dg, &ms, &frame), LOCAL_MASTER_ANNOUNCEMENT);

    let (dg, ms, frame) = layers(&DOMAIN_ANNOUNCEMENT);
    let Datagram::Data { destination, .. } = &dg else {
        panic!()
    };
    assert_eq!(*destination, NbName::msbrowse());
    let BrowseFrame::DomainAnnouncement(a) = &frame else {
        panic!("{frame:?}")
    };
    assert_eq!(a.server_name, "TESTGRP");
    assert_eq!(a.server_type, sv_type::DOMAIN_ENUM | sv_type::NT);
    assert_eq!(a.comment, "BWHOST2");
    assert_eq!(emit_all(&dg, &ms, &frame), DOMAIN_ANNOUNCEMENT);

    let (dg, ms, frame) = layers(&SHUTDOWN_ANNOUNCEMENT);
    let BrowseFrame::LocalMasterAnnouncement(a) = &frame else {
        panic!("{frame:?}")
    };
    assert_eq!((a.server_type, a.periodicity_ms, a.update_count), (0, 0, 3));
    assert_eq!(emit_all(&dg, &ms, &frame), SHUTDOWN_ANNOUNCEMENT);
}

#[test]
fn announcement_request_off_by_one() {
    let dg = Datagram::parse(&ANNOUNCEMENT_REQUEST).unwrap();
    let Datagram::Data { data, .. } = &dg else {
        panic!()
    };
    let ms = MailslotWrite::parse(data).unwrap();
    // Samba: 02, token 01, a stray NUL, then the name, unterminated.
    assert_eq!(ms.data, b"\x02\x01\x00BWHOST2");
    let frame = BrowseFrame::parse(&ms.data).unwrap();
    assert_eq!(
        frame,
        BrowseFrame::AnnouncementRequest {
            reserved: 1,
            response_name: "BWHOST2".into()
        }
    );
    // We emit the MS-BRWS layout: the name at 2, NUL-terminated.
    let mut buf = [0xa5u8; 32];
    let n = frame.emit(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\x02\x01BWHOST2\x00");
    assert_eq!(BrowseFrame::parse(&buf[..n]).unwrap(), frame);
}

#[test]
fn other_frames_round_trip() {
    let frames = [
        BrowseFrame::GetBackupListRequest {
            count: 4,
            token: 0x1234_5678,
        },
        BrowseFrame::GetBackupListResponse {
            token: 7,
            servers: vec!["BWHOST2".into(), "OTHER".into()],
        },
        BrowseFrame::BecomeBackup {
            browser: "BWHOST1".into(),
        },
        BrowseFrame::MasterAnnouncement {
            master: "BWHOST2".into(),
        },
        BrowseFrame::ResetStateRequest { options: 1 },
    ];
    let expected: [&[u8]; 5] = [
        b"\x09\x04\x78\x56\x34\x12",
        b"\x0a\x02\x07\x00\x00\x00BWHOST2\x00OTHER\x00",
        b"\x0bBWHOST1\x00",
        b"\x0dBWHOST2\x00",
        b"\x0e\x01",
    ];
    for (f, e) in frames.iter().zip(expected) {
        let mut buf = [0xa5u8; 64];
        let n = f.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], e, "{f:?}");
        assert_eq!(BrowseFrame::parse(e).unwrap(), *f);
    }
}

#[test]
fn broken_browser_frames() {
    assert_eq!(BrowseFrame::parse(&[]), Err(BrowseError::Empty));
    assert_eq!(
        BrowseFrame::parse(&[0x42, 0]),
        Err(BrowseError::UnknownOpcode(0x42))
    );
    // Every truncation of an announcement before its comment fails.
    let (_, ms, _) = layers(&HOST_ANNOUNCEMENT);
    for cut in 0..32 {
        assert!(BrowseFrame::parse(&ms.data[..cut]).is_err(), "cut {cut}");
    }
    // An unterminated comment ends with the frame.
    let mut f = ms.data.clone();
    f.pop();
    f.extend_from_slice(&[b'x'; 100]);
    let BrowseFrame::HostAnnouncement(a) = BrowseFrame::parse(&f).unwrap() else {
        panic!()
    };
    assert_eq!(a.comment.len(), "Browse test 1".len() + 100);
    // ... and is cut to 43 bytes when we emit it.
    let mut buf = [0xa5u8; 200];
    let n = BrowseFrame::HostAnnouncement(a).emit(&mut buf).unwrap();
    assert_eq!(n, 32 + 43 + 1);
    // A 16-byte name without NUL is read as 16 bytes, emitted as 15.
    let mut f = ms.data.clone();
    f[6..22].copy_from_slice(b"ABCDEFGHIJKLMNOP");
    let BrowseFrame::HostAnnouncement(a) = BrowseFrame::parse(&f).unwrap() else {
        panic!()
    };
    assert_eq!(a.server_name, "ABCDEFGHIJKLMNOP");
    let n = BrowseFrame::HostAnnouncement(a).emit(&mut buf).unwrap();
    assert_eq!(&buf[6..22], b"ABCDEFGHIJKLMNO\x00");
    assert!(n > 32);
    // Election cut inside its fixed part.
    assert_eq!(
        BrowseFrame::parse(&[8, 1, 2, 3]),
        Err(BrowseError::Truncated("election criteria"))
    );
    // A backup list that claims more names than it has.
    assert_eq!(
        BrowseFrame::parse(b"\x0a\x03\x00\x00\x00\x00A\x00B\x00"),
        Err(BrowseError::Truncated("backup server name"))
    );
    // Too small a buffer to emit into.
    let mut small = [0u8; 10];
    assert!(matches!(
        BrowseFrame::HostAnnouncement(Announcement {
            update_count: 0,
            periodicity_ms: 0,
            server_name: "X".into(),
            os_major: 0,
            os_minor: 0,
            server_type: 0,
            browser_major: 0,
            browser_minor: 0,
            signature: 0,
            comment: String::new(),
        })
        .emit(&mut small),
        Err(BrowseError::NoRoom(_))
    ));
}

#[test]
fn broken_datagrams() {
    let good = HOST_ANNOUNCEMENT;
    // Every truncation fails, none panics.
    for cut in 0..good.len() {
        assert!(
            Datagram::parse(&good[..cut]).is_err() || cut >= 14 + 68,
            "cut {cut}"
        );
    }
    // Truncated after the header: dgm length claims more than is there.
    assert_eq!(
        Datagram::parse(&good[..100]),
        Err(DgramError::DgmLength {
            claimed: 200,
            available: 86
        })
    );
    // Unknown message type.
    let mut bad = good;
    bad[0] = 0x17;
    assert_eq!(Datagram::parse(&bad), Err(DgramError::MsgType(0x17)));
    // A dgm length that ends inside the destination name.
    let mut bad = good;
    bad[10..12].copy_from_slice(&40u16.to_be_bytes());
    assert!(matches!(
        Datagram::parse(&bad),
        Err(DgramError::Name("destination name", _))
    ));
    // Trailing bytes beyond dgm length are not user data.
    let mut long = good.to_vec();
    long.extend_from_slice(&[0; 6]);
    assert_eq!(
        Datagram::parse(&long).unwrap(),
        Datagram::parse(&good).unwrap()
    );
    // Error and query datagrams round trip.
    let header = super::dgram::DgramHeader {
        more: false,
        first: true,
        node_type: NodeType::B,
        id: 9,
        source_ip: Ipv4Addr::new(10, 99, 0, 3),
        source_port: 138,
    };
    for dg in [
        Datagram::Error {
            header: header.clone(),
            code: super::dgram::error_code::DESTINATION_NAME_NOT_PRESENT,
        },
        Datagram::Query {
            msg_type: MsgType::QueryRequest,
            header,
            destination: tg(0x1d),
        },
    ] {
        let mut buf = [0xa5u8; 64];
        let n = dg.emit(&mut buf).unwrap();
        assert_eq!(n, dg.buffer_len());
        assert_eq!(Datagram::parse(&buf[..n]).unwrap(), dg);
    }
    let err = Datagram::parse(b"\x13\x02\x00\x09\x0a\x63\x00\x03\x00\x8a").unwrap_err();
    assert_eq!(err, DgramError::Truncated("error code"));
}

#[test]
fn broken_smb_transactions() {
    let Datagram::Data { data, .. } = Datagram::parse(&HOST_ANNOUNCEMENT).unwrap() else {
        panic!()
    };
    for cut in 0..data.len() {
        assert!(MailslotWrite::parse(&data[..cut]).is_err(), "cut {cut}");
    }
    let mut bad = data.clone();
    bad[4] = 0x32;
    assert_eq!(MailslotWrite::parse(&bad), Err(DgramError::Command(0x32)));
    let mut bad = data.clone();
    bad[32] = 16;
    assert!(matches!(
        MailslotWrite::parse(&bad),
        Err(DgramError::Field {
            what: "word count",
            ..
        })
    ));
    // Data offset pointing past the bytes.
    let mut bad = data.clone();
    bad[57..59].copy_from_slice(&100u16.to_le_bytes());
    assert!(matches!(
        MailslotWrite::parse(&bad),
        Err(DgramError::OutOfBounds { what: "data", .. })
    ));
    // Data offset into the SMB header.
    let mut bad = data.clone();
    bad[57..59].copy_from_slice(&10u16.to_le_bytes());
    assert!(matches!(
        MailslotWrite::parse(&bad),
        Err(DgramError::OutOfBounds { what: "data", .. })
    ));
    // Data count larger than the bytes.
    let mut bad = data.clone();
    bad[55..57].copy_from_slice(&200u16.to_le_bytes());
    bad[35..37].copy_from_slice(&200u16.to_le_bytes());
    assert!(MailslotWrite::parse(&bad).is_err());
    // Byte count larger than the SMB.
    let mut bad = data.clone();
    bad[67..69].copy_from_slice(&500u16.to_le_bytes());
    assert_eq!(
        MailslotWrite::parse(&bad),
        Err(DgramError::Truncated("SMB bytes"))
    );
    // Not a mailslot write (opcode 2).
    let mut bad = data.clone();
    bad[61] = 2;
    assert!(MailslotWrite::parse(&bad).is_err());
    // Our own write to \MAILSLOT\BROWSE equals Samba's for the same data.
    let ms = MailslotWrite::parse(&data).unwrap();
    assert_eq!(MailslotWrite::browse(ms.data.clone()).to_vec(), data);
}

/// Found by fuzzing: a backup list response with many names, parsed from a
/// long frame, made `to_vec` panic (its buffer was one datagram).
#[test]
fn long_backup_list_emits() {
    let mut f = vec![10u8, 255, 1, 2, 3, 4];
    for i in 0..255u8 {
        f.extend_from_slice(format!("SERVER{i:03}ABCDEF").as_bytes());
        f.push(0);
    }
    let frame = BrowseFrame::parse(&f).unwrap();
    let bytes = frame.to_vec();
    assert_eq!(bytes.len(), 6 + 255 * 16);
    assert_eq!(BrowseFrame::parse(&bytes).unwrap(), frame);
}

//! nmbd's browse-list sync client (nmbd::sync) against Samba's real smbd:
//! NetBIOS session request, SMB1 NEGOTIATE (NT LM 0.12), anonymous session
//! setup, IPC$, and RAP NetServerEnum2/3 answered from the browse.dat we
//! give it (smbd answers NetServerEnum from that file, which nmbd writes).
//!
//! Samba's smbd runs on 127.0.0.1 at a free high port with `server min
//! protocol = NT1`; it takes a session request on any port.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use nmbd::sync::{EnumRequest, RapServer, SyncError, SyncRequest, net_server_enum, sync_lists};
use system_tests::Scratch;
use system_tests::samba_smbd::SambaSmbd;

const PEER: &str = "RAPPEER";
const WORKGROUP: &str = "TESTGRP";
const TIMEOUT: Duration = Duration::from_secs(20);

/// 80 characters; smbd cuts comments to 48 (MAX_SERVER_STRING_LENGTH).
const LONG_COMMENT: &str =
    "a comment well beyond forty-eight characters, to see what the peer does with it";

/// Servers of TESTGRP (one seen only on the peer's own subnet), one of
/// OTHERGRP, and three workgroups (one local-only).
fn browse_dat() -> String {
    [
        "\"RAPPEER\"         00051003 \"Samba peer\" \"TESTGRP\"",
        "\"ALPHA\"           00001003 \"first server\" \"TESTGRP\"",
        &format!("\"BETA\"            00009003 \"{LONG_COMMENT}\" \"TESTGRP\""),
        "\"GAMMA\"           00000003 \"\" \"TESTGRP\"",
        "\"LOCALONE\"        40000003 \"seen here\" \"TESTGRP\"",
        "\"OTHER\"           00000003 \"in another workgroup\" \"OTHERGRP\"",
        "\"TESTGRP\"         80001000 \"RAPPEER\" \"TESTGRP\"",
        "\"OTHERGRP\"        80001000 \"OTHERMB\" \"OTHERGRP\"",
        "\"LOCALGRP\"        c0001000 \"LOCALMB\" \"LOCALGRP\"",
        "",
    ]
    .join("\n")
}

fn start(scratch: &Scratch, extra: &str, dat: &str) -> SambaSmbd {
    SambaSmbd::start(
        &scratch.path().join("samba"),
        PEER,
        WORKGROUP,
        &format!("  server min protocol = NT1\n{extra}"),
        dat,
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn peer(smbd: &SambaSmbd) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, smbd.port)
}

fn request(smbd: &SambaSmbd, local_only: bool) -> SyncRequest<'static> {
    SyncRequest {
        peer: peer(smbd),
        called: PEER,
        called_suffix: 0x20,
        calling: "OURNMBD",
        workgroup: WORKGROUP,
        local_only,
        servers: true,
    }
}

fn entry(name: &str, server_type: u32, comment: &str) -> (String, u32, String) {
    (name.into(), server_type, comment.into())
}

fn entries(list: &[RapServer]) -> Vec<(String, u32, String)> {
    list.iter()
        .map(|s| (s.name.clone(), s.server_type, s.comment.clone()))
        .collect()
}

fn sync_all(extra: &str) {
    let scratch = Scratch::new();
    let smbd = start(&scratch, extra, &browse_dat());
    let synced = rt()
        .block_on(sync_lists(&request(&smbd, false), TIMEOUT))
        .unwrap_or_else(|e| panic!("{e}\n{}", smbd.log_text()));
    // Samba names its workgroup as the primary domain of the session.
    assert_eq!(synced.server_domain, WORKGROUP);
    // Workgroups: every one, sorted by name, the local-only bit cleared.
    assert_eq!(
        entries(&synced.workgroups),
        vec![
            entry("LOCALGRP", 0x8000_1000, "LOCALMB"),
            entry("OTHERGRP", 0x8000_1000, "OTHERMB"),
            entry("TESTGRP", 0x8000_1000, "RAPPEER"),
        ]
    );
    // Servers of TESTGRP only; smbd cuts the long comment to 48.
    assert_eq!(
        entries(&synced.servers),
        vec![
            entry("ALPHA", 0x1003, "first server"),
            entry("BETA", 0x9003, &LONG_COMMENT[..48]),
            entry("GAMMA", 0x3, ""),
            entry("LOCALONE", 0x3, "seen here"),
            entry("RAPPEER", 0x51003, "Samba peer"),
        ]
    );
    // smbd leaves the version bytes zero.
    assert!(
        synced
            .servers
            .iter()
            .chain(&synced.workgroups)
            .all(|s| s.version_major == 0 && s.version_minor == 0)
    );
}

/// Unicode strings (Samba offers CAP_UNICODE, so we use it).
#[test]
fn sync_lists_from_samba() {
    sync_all("");
}

/// With `unicode = no` Samba does not offer CAP_UNICODE; the session then
/// runs with OEM strings.
#[test]
fn sync_lists_from_samba_without_unicode() {
    sync_all("  unicode = no\n");
}

/// local_only asks only for what the peer saw on its own subnet.
#[test]
fn sync_local_lists_from_samba() {
    let scratch = Scratch::new();
    let smbd = start(&scratch, "", &browse_dat());
    let synced = rt()
        .block_on(sync_lists(&request(&smbd, true), TIMEOUT))
        .unwrap_or_else(|e| panic!("{e}\n{}", smbd.log_text()));
    assert_eq!(
        entries(&synced.workgroups),
        vec![entry("LOCALGRP", 0x8000_1000, "LOCALMB")]
    );
    assert_eq!(
        entries(&synced.servers),
        vec![entry("LOCALONE", 0x3, "seen here")]
    );
}

/// A single NetServerEnum for another workgroup, given in lower case (it
/// is sent upper-cased).
#[test]
fn net_server_enum_other_workgroup() {
    let scratch = Scratch::new();
    let smbd = start(&scratch, "", &browse_dat());
    let p = peer(&smbd);
    let list = rt()
        .block_on(net_server_enum(
            &EnumRequest {
                peer: p,
                called: PEER,
                called_suffix: 0x20,
                calling: "OURNMBD",
                workgroup: "othergrp",
                server_type: 0xffff_ffff,
            },
            TIMEOUT,
        ))
        .unwrap_or_else(|e| panic!("{e}\n{}", smbd.log_text()));
    assert_eq!(
        entries(&list),
        vec![entry("OTHER", 0x3, "in another workgroup")]
    );
}

/// 3000 servers do not fit one 64 KiB RAP reply: smbd answers "more data"
/// (234) with as many as fit, and we continue with NetServerEnum3 from the
/// last name; every server arrives once, in order.
#[test]
fn sync_long_list_continues() {
    const N: usize = 3000;
    let mut dat = String::new();
    for i in 0..N {
        dat.push_str(&format!(
            "\"S{i:05}\" 00001003 \"server number {i}\" \"TESTGRP\"\n"
        ));
    }
    dat.push_str("\"TESTGRP\" 80001000 \"RAPPEER\" \"TESTGRP\"\n");
    let scratch = Scratch::new();
    let smbd = start(&scratch, "", &dat);
    let synced = rt()
        .block_on(sync_lists(&request(&smbd, false), TIMEOUT))
        .unwrap_or_else(|e| panic!("{e}\n{}", smbd.log_text()));
    let want: Vec<_> = (0..N)
        .map(|i| entry(&format!("S{i:05}"), 0x1003, &format!("server number {i}")))
        .collect();
    assert_eq!(synced.servers.len(), N);
    assert_eq!(entries(&synced.servers), want);
    // smbd's log (level 3) shows the calls: the workgroups, then the
    // first reply with 1480 of the 3000 (64 KiB), then two NetServerEnum3
    // calls, each starting again at the last name it was given.
    let log = smbd.log_text();
    let calls: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("NetServerEnum") && l.contains("counted="))
        .collect();
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert!(calls[1].starts_with("NetServerEnum2") && calls[1].contains("total=3000"));
    assert!(calls[2].starts_with("NetServerEnum3") && calls[3].starts_with("NetServerEnum3"));
}

/// A peer that refuses anonymous access to IPC$: the error names the step
/// and the status.
#[test]
fn anonymous_refused_names_the_step() {
    let scratch = Scratch::new();
    let smbd = start(&scratch, "  restrict anonymous = 2\n", &browse_dat());
    let p = peer(&smbd);
    let err = rt()
        .block_on(sync_lists(&request(&smbd, false), TIMEOUT))
        .expect_err("anonymous is refused");
    let text = err.to_string();
    assert!(
        matches!(err, SyncError::Status { .. }),
        "{text}\n{}",
        smbd.log_text()
    );
    assert!(text.contains(&p.to_string()), "{text}");
    assert!(text.contains("NT_STATUS_ACCESS_DENIED"), "{text}");
}

/// A peer that no longer speaks SMB1 (Samba's default minimum is SMB2).
#[test]
fn smb2_only_peer_chooses_no_dialect() {
    let scratch = Scratch::new();
    let smbd = SambaSmbd::start(
        &scratch.path().join("samba"),
        PEER,
        WORKGROUP,
        "",
        &browse_dat(),
    );
    let err = rt()
        .block_on(sync_lists(&request(&smbd, false), TIMEOUT))
        .expect_err("no SMB1");
    assert!(matches!(err, SyncError::NoDialect { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("NEGOTIATE to {}: server chose no dialect", peer(&smbd))
    );
}

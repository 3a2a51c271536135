//! Bad input from the network, a config file or a local user: each gets a
//! clear error, the daemons keep serving everyone else, nothing
//! acknowledged is lost.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::cnid::Cnid;
use common::cnid::proto::{Hello, MAX_REPLY, PROTOCOL_VERSION, Reply, Request};
use common::frame::{BlockingFramed, encode_frame_into};
use system_tests::*;

fn raw_reply(s: &mut UnixStream) -> Option<Reply> {
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut f = BlockingFramed::new(s.try_clone().unwrap(), MAX_REPLY, 1 << 16);
    f.recv::<Reply>().ok().flatten()
}

fn frame(req: &Request) -> Vec<u8> {
    let mut v = Vec::new();
    encode_frame_into(req, 1 << 20, &mut v).unwrap();
    v
}

fn hello(vol: &std::path::Path) -> Request {
    Request::Hello(Hello {
        version: PROTOCOL_VERSION,
        volume: vol.as_os_str().as_encoded_bytes().to_vec(),
        client: "raw".into(),
    })
}

fn error_text(r: Option<Reply>) -> String {
    match r {
        Some(Reply::Error(e)) => e.message,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[test]
fn garbage_truncated_oversized_and_out_of_sequence_frames_to_metad() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let m = Metad::start(s.path());
    let mut good = m.client(&vol);
    let id = block_on(good.add(&entry(1, 2, "precious"), None)).unwrap();

    // Text where a length belongs: far over the cap.
    let mut g = UnixStream::connect(&m.socket).unwrap();
    g.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let e = error_text(raw_reply(&mut g));
    assert!(e.contains("exceeds the 16384-byte limit"), "{e}");
    // A request before hello.
    let mut g = UnixStream::connect(&m.socket).unwrap();
    g.write_all(&frame(&Request::Ping)).unwrap();
    assert_eq!(error_text(raw_reply(&mut g)), "ping sent before hello");
    // A frame whose payload does not decode.
    let mut g = UnixStream::connect(&m.socket).unwrap();
    g.write_all(&[3, 0, 0, 0, 0x7f, 0x7f, 0x7f]).unwrap();
    assert!(error_text(raw_reply(&mut g)).contains("malformed frame"));
    // A truncated frame, then the client goes away.
    let mut g = UnixStream::connect(&m.socket).unwrap();
    g.write_all(&[100, 0, 0, 0, 0]).unwrap();
    drop(g);
    // A wrong protocol version.
    let mut g = UnixStream::connect(&m.socket).unwrap();
    g.write_all(&frame(&Request::Hello(Hello {
        version: 99,
        volume: vol.as_os_str().as_encoded_bytes().to_vec(),
        client: "future".into(),
    })))
    .unwrap();
    assert!(error_text(raw_reply(&mut g)).contains("version 99"));
    // A volume path that is not there, not absolute, not a directory.
    for (v, want) in [
        ("/no/such/volume", "No such file"),
        ("relative", "is not absolute"),
        ("/etc/passwd", "is not a directory"),
    ] {
        let mut g = UnixStream::connect(&m.socket).unwrap();
        g.write_all(&frame(&hello(std::path::Path::new(v))))
            .unwrap();
        let e = error_text(raw_reply(&mut g));
        assert!(e.contains(want), "{v}: {e}");
    }
    // A client that connects and says nothing does not hold anyone up.
    let _silent = UnixStream::connect(&m.socket).unwrap();
    let mut half = UnixStream::connect(&m.socket).unwrap();
    half.write_all(&[40, 0]).unwrap();

    assert!(m.wait_log("closing connection: frame of"));
    let log = m.log_text();
    assert!(
        log.contains("refused: ping sent before hello") && log.contains("peer=pid"),
        "{log}"
    );
    // Everyone else is served; the data is intact.
    assert_eq!(
        block_on(good.resolve(id)).unwrap().unwrap().1.as_bytes(),
        b"precious"
    );
    let mut other = m.client(&vol);
    block_on(other.ping()).unwrap();
}

#[test]
fn bad_frames_to_dbd_close_only_that_connection() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let m = Metad::start(s.path());
    let mut good = m.client(&vol);
    let id = block_on(good.add(&entry(1, 2, "precious"), None)).unwrap();
    let usock = vol.join(".AppleDB/usock");

    let open = || {
        let mut g = UnixStream::connect(&usock).unwrap();
        g.write_all(&frame(&hello(&vol))).unwrap();
        assert!(matches!(raw_reply(&mut g), Some(Reply::Welcome(_))));
        g
    };
    // Garbage after the handshake.
    let mut g = open();
    g.write_all(&[2, 0, 0, 0, 0xff, 0xff]).unwrap();
    assert!(error_text(raw_reply(&mut g)).contains("malformed frame"));
    let mut rest = Vec::new();
    assert_eq!(g.read_to_end(&mut rest).unwrap(), 0, "connection closed");
    // Oversized.
    let mut g = open();
    g.write_all(&[0, 0, 0, 1]).unwrap();
    assert!(error_text(raw_reply(&mut g)).contains("exceeds"));
    // Hello twice.
    let mut g = open();
    g.write_all(&frame(&hello(&vol))).unwrap();
    assert_eq!(
        error_text(raw_reply(&mut g)),
        "hello sent twice on one connection"
    );
    // Half a request, and a client that never reads: nobody else waits.
    let mut half = open();
    half.write_all(&[9, 0, 0, 0, 2]).unwrap();
    let mut deaf = open();
    deaf.set_nonblocking(true).unwrap();
    let ping = frame(&Request::Ping);
    let mut sent = 0;
    while sent < 1_000_000 && deaf.write(&ping).is_ok_and(|n| n == ping.len()) {
        sent += 1;
    }
    assert!(
        sent > 100,
        "the deaf client filled its buffers ({sent} pings)"
    );
    // Names over the limit and reserved ids get errors, not a dropped line.
    let mut g = open();
    // Get (variant 3), did 2, a name of 256 bytes (varint 0xfb 0x0100).
    let mut payload = vec![3u8, 2, 0xfb, 0x00, 0x01];
    payload.extend(std::iter::repeat_n(b'x', 256));
    let mut body = (payload.len() as u32).to_le_bytes().to_vec();
    body.extend(payload);
    g.write_all(&body).unwrap();
    assert_eq!(
        error_text(raw_reply(&mut g)),
        "name is 256 bytes long; the limit is 255"
    );
    g.write_all(&frame(&Request::Resolve { id: Cnid(1) }))
        .unwrap();
    assert!(error_text(raw_reply(&mut g)).contains("id 1 is reserved"));
    // ... and the connection goes on.
    g.write_all(&frame(&Request::Resolve { id })).unwrap();
    assert!(matches!(raw_reply(&mut g), Some(Reply::Resolved { .. })));

    assert!(m.wait_log("closing connection: malformed frame"));
    assert_eq!(
        block_on(good.resolve(id)).unwrap().unwrap().1.as_bytes(),
        b"precious"
    );
    let report = block_on(good.verify(false)).unwrap();
    assert!(report.problems.is_empty());
}

#[test]
fn junk_db_param_is_reported_to_the_client_and_nothing_starts() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("backlog 20\n# fine so far\nnosync maybe\n"));
    let m = Metad::start(s.path());
    let o = m.cnid(&vol, &["stamp"]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!(
        "cnid: cnid_dbd could not start: {}/.AppleDB/db_param:3: invalid value \"maybe\" for nosync: 0 (every change on disk before the reply) or 1\n",
        vol.display()
    );
    assert_eq!(stderr(&o), want);
    assert!(dbd_pid(&vol.join(".AppleDB")).is_none());

    // Binary junk.
    let junk: Vec<u8> = (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(vol.join(".AppleDB/db_param"), junk).unwrap();
    let o = m.cnid(&vol, &["stamp"]);
    assert!(
        stderr(&o).contains("db_param:1: line is not valid UTF-8"),
        "{}",
        stderr(&o)
    );

    // Unknown keys only warn, naming file and line.
    std::fs::write(
        vol.join(".AppleDB/db_param"),
        "idle_timeout 0\ncolour blue\n",
    )
    .unwrap();
    let o = m.cnid(&vol, &["stamp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(m.wait_log("db_param:2: unknown parameter \"colour\" ignored"));
}

#[test]
fn restart_storm_is_refused_with_the_reason() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("fd_table_size 0\n"));
    let m = Metad::start_with(s.path(), &["--spawn-limit", "2", "--spawn-window", "60"]);
    for _ in 0..2 {
        let e = stderr(&m.cnid(&vol, &["stamp"]));
        assert!(
            e.contains("fd_table_size: a whole number from 1 to 4096"),
            "{e}"
        );
    }
    let e = stderr(&m.cnid(&vol, &["stamp"]));
    assert!(
        e.contains("cnid_dbd for")
            && e.contains("was started 2 times in the last 60 s")
            && e.contains("(last: ")
            && e.contains("not starting it again"),
        "{e}"
    );
    // Other volumes are not affected.
    let ok = s.volume("ok", None);
    assert!(m.cnid(&ok, &["stamp"]).status.success());
}

#[test]
fn second_metad_on_the_same_socket_and_planted_paths() {
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    let m = Metad::start(s.path());
    let o = std::process::Command::new(bin("cnid_metad"))
        .args(["-d", "--socket"])
        .arg(&m.socket)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).lines().last().unwrap(),
        format!(
            "cnid_metad: another cnid_metad (pid {}) is already listening on {}",
            m.pid(),
            m.socket.display()
        )
    );
    assert!(
        m.cnid(&vol, &["stamp"]).status.success(),
        "the first one still serves"
    );

    // A file planted where the socket goes is left alone.
    let planted = s.path().join("planted.sock");
    std::fs::write(&planted, "mine").unwrap();
    let o = std::process::Command::new(bin("cnid_metad"))
        .args(["-d", "--socket"])
        .arg(&planted)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already exists and is not our socket (a file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "mine");

    // cnid_dbd is not for humans.
    let o = std::process::Command::new(bin("cnid_dbd"))
        .args(["--volume", "/", "--dbdir", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("it is started by cnid_metad only"));
}

#[test]
fn a_second_dbd_for_the_same_volume_refuses_to_start() {
    use common::cnid::proto::FromDbd;
    use common::fdpass::{FdChannel, pair};
    use std::os::fd::AsRawFd;

    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let m = Metad::start(s.path());
    let mut c = m.client(&vol);
    block_on(c.ping()).unwrap();
    let running = dbd_pid(&vol.join(".AppleDB")).unwrap();

    let (ours, theirs) = pair().unwrap();
    let raw = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(bin("cnid_dbd"));
    cmd.args(["--control-fd", "3", "--volume"])
        .arg(&vol)
        .arg("--dbdir")
        .arg(vol.join(".AppleDB"));
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(theirs);
    let msg = block_on(async {
        let ch = FdChannel::new(ours).unwrap();
        ch.recv().await.unwrap().unwrap().0
    });
    match common::codec::decode::<FromDbd>(&msg).unwrap() {
        FromDbd::Failed { error } => assert_eq!(
            error.message,
            format!(
                "{}/.AppleDB is in use by another cnid_dbd (pid {running})",
                vol.display()
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(child.wait().unwrap().code(), Some(1));
    block_on(c.ping()).unwrap();
}

#[test]
fn symlinked_database_directory_is_refused() {
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    let elsewhere = s.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, vol.join(".AppleDB")).unwrap();
    let m = Metad::start(s.path());
    let e = stderr(&m.cnid(&vol, &["stamp"]));
    assert!(
        e.contains(".AppleDB is a symbolic link; refusing to follow it"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// Runs the tool as another user.
fn cnid_as(m: &Metad, uid: u32, vol: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin("cnid"))
        .arg("--socket")
        .arg(&m.socket)
        .arg(vol)
        .args(args)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap()
}

const NOBODY: u32 = 65534;

#[test]
fn another_uid_is_refused_and_changes_nothing() {
    if !require_root("another_uid_is_refused_and_changes_nothing") {
        return;
    }
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    std::fs::write(vol.join("f"), "").unwrap();
    std::fs::set_permissions(vol.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let m = Metad::start(s.path());
    assert!(m.cnid(&vol, &["add", "f"]).status.success());
    let before = stdout(&m.cnid(&vol, &["dump"]));

    let o = cnid_as(&m, NOBODY, &vol, &["delete", "17"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "cnid: permission denied: uid 65534 may not use this volume's CNID database (allowed: root, the owner uid 0)\n"
    );
    let o = cnid_as(&m, NOBODY, &vol, &["add", "f"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&m.cnid(&vol, &["dump"])), before, "nothing changed");
    assert!(m.wait_log("refused: uid 65534 may not use"));

    // The direct socket is closed to them as well (mode and credentials).
    let o = std::process::Command::new(bin("cnid"))
        .arg("--socket")
        .arg(vol.join(".AppleDB/usock"))
        .arg(&vol)
        .arg("stamp")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));

    // Allowed by name in db_param: then it works.
    let vol2 = s.volume("vol2", Some("allow_users nobody\nidle_timeout 0\n"));
    std::fs::write(vol2.join("g"), "").unwrap();
    std::fs::set_permissions(vol2.join("g"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = cnid_as(&m, NOBODY, &vol2, &["add", "g"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "17\n");

    // Or through its group.
    let vol3 = s.volume("vol3", Some("allow_groups 65534\nidle_timeout 0\n"));
    let o = cnid_as(&m, NOBODY, &vol3, &["stamp"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn only_root_or_the_owner_may_create_a_database() {
    if !require_root("only_root_or_the_owner_may_create_a_database") {
        return;
    }
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    let m = Metad::start(s.path());
    let o = cnid_as(&m, NOBODY, &vol, &["stamp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "has no CNID database yet, and only root or the volume's owner (uid 0) may create one"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!vol.join(".AppleDB").exists());
}

#[test]
fn dbd_runs_as_the_owner_of_the_database_directory() {
    if !require_root("dbd_runs_as_the_owner_of_the_database_directory") {
        return;
    }
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    std::os::unix::fs::chown(&vol, Some(NOBODY), Some(NOBODY)).unwrap();
    let m = Metad::start(s.path());
    // Root asks; the directory it creates belongs to the volume's owner,
    // and cnid_dbd switches to that user before touching the database.
    let o = m.cnid(&vol, &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\nuid 65534\n") && out.contains("\ngid 65534\n"),
        "{out}"
    );
    use std::os::unix::fs::MetadataExt;
    for f in [
        ".AppleDB",
        ".AppleDB/cnid.sled",
        ".AppleDB/cnid.sled/db",
        ".AppleDB/usock",
    ] {
        assert_eq!(std::fs::metadata(vol.join(f)).unwrap().uid(), NOBODY, "{f}");
    }
    let pid = dbd_pid(&vol.join(".AppleDB")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert_eq!(
        groups.split_whitespace().collect::<Vec<_>>(),
        ["Groups:", "65534"]
    );
    // The owner itself may use it.
    std::fs::write(vol.join("mine"), "").unwrap();
    let o = cnid_as(&m, NOBODY, &vol, &["lookup", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn database_directory_owned_by_someone_else_is_refused() {
    if !require_root("database_directory_owned_by_someone_else_is_refused") {
        return;
    }
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    std::os::unix::fs::chown(vol.join(".AppleDB"), Some(NOBODY), Some(NOBODY)).unwrap();
    let m = Metad::start(s.path());
    let e = stderr(&m.cnid(&vol, &["stamp"]));
    assert!(
        e.contains(".AppleDB is owned by uid 65534, not by the volume's owner (uid 0) or root; refusing to use it"),
        "{e}"
    );
}

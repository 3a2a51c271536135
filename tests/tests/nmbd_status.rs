//! Who may use nmbd's status socket (root only): `<lock directory>/nmbd.sock`
//! is mode 0660; its group may read (--status), but only root and the
//! daemon's own uid may change state (--force-election), judged by
//! SO_PEERCRED. Others are refused with a log line naming uid and pid.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use system_tests::netns::{Daemon, Lan, nmbd_conf};
use system_tests::{Scratch, bin, require_root, stderr, stdout};

/// `nmbd -s conf <arg>` as uid 65534 with primary group `gid` and no
/// supplementary groups.
fn as_nobody(gid: u32, conf: &Path, arg: &str) -> Output {
    std::process::Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            &gid.to_string(),
            "--clear-groups",
            "--",
        ])
        .arg(bin("nmbd"))
        .arg("-s")
        .arg(conf)
        .arg(arg)
        .output()
        .expect("run setpriv")
}

#[test]
fn status_socket_checks_peer_credentials() {
    if !require_root("status_socket_checks_peer_credentials") {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    let lan = Lan::new(7, 1);
    let dir = scratch.path().join("ours");
    let conf = nmbd_conf(
        &dir,
        "NBSOCKWG",
        &format!("SOCK{}", std::process::id() % 10000),
        " interfaces = eth0\n bind interfaces only = yes\n",
    );
    // Others may reach the socket's directory; the socket's own mode
    // decides who connects.
    for d in [scratch.path(), &dir, &dir.join("lock")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let our = Daemon::nmbd(&lan, 1, &conf, dir.join("log"));
    let sock = dir.join("lock").join(nmbd::ipc::SOCKET);
    assert!(
        our.wait_log("nmbd started", Duration::from_secs(5)),
        "{}",
        our.log_text()
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);

    // Not in the socket's group: cannot even connect.
    let o = as_nobody(65534, &conf, "--status");
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));

    // In its group (root's, gid 0): reads, but may not force an election.
    let o = as_nobody(0, &conf, "--status");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("subnet "), "{}", stdout(&o));
    let o = as_nobody(0, &conf, "--force-election");
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("refused: uid 65534 may not force an election"),
        "{}",
        stderr(&o)
    );
    assert!(
        our.wait_log(
            "refused ForceElection from uid 65534 (pid ",
            Duration::from_secs(2)
        ),
        "{}",
        our.log_text()
    );
    assert!(!our.log_text().contains("election forced"));

    // Root may.
    let o = std::process::Command::new(bin("nmbd"))
        .arg("-s")
        .arg(&conf)
        .arg("--force-election")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("election started on"), "{}", stdout(&o));
    assert!(
        our.wait_log("election forced on", Duration::from_secs(2)),
        "{}",
        our.log_text()
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

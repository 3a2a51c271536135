//! smbd against a second SMB client written independently of Samba:
//! smbprotocol from PyPI (pure Python), driving tests/python/scenario.py:
//! the high-level `smbclient` module (makedirs, files written and read,
//! stat, utime, truncate, rename/replace, listdir/scandir/walk,
//! stat_volume, remove), byte-range locks between two connections
//! (conflicts, shared, blocking), change notify, an encrypted session, an
//! unknown user mapped to guest, and which unsigned requests are refused.
//! The README's test command installs smbprotocol when it is missing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use system_tests::*;

const PASSWORD: &str = "Py-pass-1";
const LIMIT: Duration = Duration::from_secs(300);

fn run_scenario(global: &str, server_signing: &str) {
    let s = Scratch::new();
    let share = s.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::set_permissions(&share, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let dir = s.path().join("smbd");
    std::fs::create_dir(&dir).unwrap();
    let smbd = Smbd::start(
        &dir,
        global,
        &format!(
            "[share]\n  path = {}\n  read only = no\n  guest ok = yes\n",
            share.display()
        ),
    );
    smbd.add_user(&whoami(), PASSWORD);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/scenario.py");
    let out = s.path().join("scenario.out");
    let err = s.path().join("scenario.err");
    let started = Instant::now();
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", &smbd.port.to_string()])
        .args(["--share", "share"])
        .args(["--user", &whoami()])
        .args(["--password", PASSWORD])
        .arg("--root")
        .arg(&share)
        .args(["--server-signing", server_signing])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("python3 runs (the README's test command installs what is missing)");
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let report = format!(
        "scenario.py ({server_signing}):\n--- stdout\n{stdout}--- stderr\n{stderr}--- smbd log (tail)\n{}",
        smbd.log_text()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let status = status.unwrap_or_else(|| panic!("scenario.py ran past {LIMIT:?}\n{report}"));
    assert!(
        !stderr.contains("No module named 'smbprotocol'"),
        "smbprotocol is not installed: run the README's test command (./test), which installs it\n{report}"
    );
    assert!(status.success(), "{report}");
    assert!(stdout.lines().last() == Some("scenario passed"), "{report}");
    eprintln!(
        "scenario.py ({server_signing}) passed in {:?}",
        started.elapsed()
    );
}

#[test]
fn smbprotocol_scenario() {
    run_scenario("", "default");
}

#[test]
fn smbprotocol_scenario_with_mandatory_signing() {
    run_scenario("  server signing = mandatory", "mandatory");
}

//! Samba's smbtorture (Debian's samba-testsuite) against our smbd: every
//! test listed in tests/smbtorture/pass.txt must pass. The list only grows;
//! `tests/smbtorture/survey.sh` shows what passes today.
//!
//! The tests of one suite run in one smbtorture process, two suites at a
//! time, each against the same smbd (as Samba's own selftest does), with a
//! fresh share directory per suite.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use system_tests::*;

const PASSWORD: &str = "torture-secret";

/// One suite's run may not take longer (the slowest listed test waits
/// 35 s for an oplock break timeout).
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn listed() -> BTreeMap<String, Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("smbtorture/pass.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut by_suite: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        // smb2.SUITE.TEST (TEST may have dots of its own).
        let mut parts = line.splitn(3, '.');
        let (Some("smb2"), Some(suite), Some(test)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("{}: not smb2.SUITE.TEST: {line}", path.display());
        };
        by_suite
            .entry(suite.to_string())
            .or_default()
            .push(test.to_string());
    }
    by_suite
}

/// The tests smbtorture reports as passed in `output`.
fn passed(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("success: "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn listed_smbtorture_tests_pass() {
    let smbtorture = which("smbtorture")
        .expect("smbtorture is missing: ./test installs Debian's samba-testsuite");
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    let user = whoami();
    let smbd = Smbd::start(
        dir.path(),
        "",
        &format!("[share]\n  path = {}\n  read only = no\n", share.display()),
    );
    smbd.add_user(&user, PASSWORD);

    let suites: Vec<(String, Vec<String>)> = listed().into_iter().collect();
    let work = Mutex::new(suites.into_iter());
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((suite, tests)) = work.lock().unwrap().next() else {
                        return;
                    };
                    // Each suite makes its own directory under the share
                    // root; smbtorture cleans up after itself.
                    let names: Vec<String> = tests
                        .iter()
                        .map(|t| format!("smb2.{suite}.{t}"))
                        .collect();
                    let started = Instant::now();
                    let out = run_with_timeout(
                        Command::new(&smbtorture)
                            .arg("//127.0.0.1/share")
                            .arg("-p")
                            .arg(smbd.port.to_string())
                            .arg("-U")
                            .arg(format!("{user}%{PASSWORD}"))
                            .args(&names),
                        SUITE_TIMEOUT,
                    );
                    let ok = passed(&out);
                    let missing: Vec<&String> =
                        tests.iter().filter(|t| !ok.contains(t)).collect();
                    eprintln!(
                        "smb2.{suite}: {}/{} listed tests passed in {:.1}s",
                        tests.len() - missing.len(),
                        tests.len(),
                        started.elapsed().as_secs_f64()
                    );
                    if !missing.is_empty() {
                        let tail: Vec<&str> = out.lines().rev().take(40).collect();
                        let tail: Vec<&str> = tail.into_iter().rev().collect();
                        failures.lock().unwrap().push(format!(
                            "smb2.{suite}: no longer pass: {missing:?}\n--- smbtorture output (end) ---\n{}",
                            tail.join("\n")
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{}\n--- smbd log (end) ---\n{}",
        failures.join("\n\n"),
        tail_lines(&smbd.log_text(), 60)
    );
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs `cmd`, killing it after `limit`; returns stdout and stderr.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> String {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap())
        .spawn()
        .expect("smbtorture runs");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out.path()).unwrap_or_default()
}

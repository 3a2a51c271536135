//! `cnid bench` runs end to end (a smoke test, not a timed one: the
//! figures are for people, in the README).

use system_tests::*;

#[test]
fn bench_runs_and_reports_every_row() {
    let s = Scratch::new();
    let o = std::process::Command::new(bin("cnid"))
        .args([
            "bench",
            "--requests",
            "300",
            "--clients",
            "2",
            "--cpu",
            "unpinned",
            "--dir",
        ])
        .arg(s.path())
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    for row in [
        "raw socket (ceiling)",
        "ping (empty round trip)",
        "ping, async client",
        "getstamp",
        "add nosync 0",
        "add nosync 1",
        "lookup nosync 0",
        "lookup nosync 1",
        "resolve nosync 0",
        "resolve nosync 1",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no {row}: {out}"));
        assert!(line.matches("/s").count() == 2, "{line}");
    }
    // Its private cnid_metad is gone.
    assert!(!s.path().join("unpinned/metad.sock").exists());
}

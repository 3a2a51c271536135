//! The `cnid` tool against real daemons: every command, its output for
//! scripts, its errors and exit codes.

use std::os::unix::fs::MetadataExt;

use system_tests::*;

#[test]
fn every_command_end_to_end() {
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    std::fs::create_dir_all(vol.join("Docs/Old")).unwrap();
    std::fs::write(vol.join("Docs/Report.txt"), "r").unwrap();
    std::fs::write(vol.join("Docs/Old/report-2019.txt"), "o").unwrap();
    std::fs::write(vol.join("with space.txt"), "w").unwrap();
    let m = Metad::start(s.path());
    let run = |args: &[&str]| {
        let o = m.cnid(&vol, args);
        assert!(o.status.success(), "cnid {args:?}: {}", stderr(&o));
        stdout(&o)
    };

    // add prints the id alone, adding the parents first.
    let report = run(&["add", "Docs/Report.txt"]);
    assert_eq!(report, "18\n");
    assert_eq!(run(&["add", "Docs/Report.txt"]), "18\n");
    assert_eq!(run(&["lookup", "Docs"]), "17\n");
    let abs = vol.join("Docs/Report.txt");
    assert_eq!(run(&["lookup", abs.to_str().unwrap()]), "18\n");
    assert_eq!(run(&["lookup", "."]), "2\n");
    // resolve prints the parent id and the name.
    assert_eq!(run(&["resolve", "18"]), "17 Report.txt\n");
    assert_eq!(run(&["resolve", "2"]), "1 vol\n");
    assert_eq!(run(&["get", "17", "Report.txt"]), "18\n");
    assert_eq!(run(&["get", "2", "Docs"]), "17\n");

    // scan adds everything, parents first, and ends with the count.
    let scanned = run(&["scan"]);
    assert_eq!(scanned.lines().last().unwrap(), "5");
    let dump = run(&["dump"]);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 5, "{dump}");
    let meta = std::fs::symlink_metadata(vol.join("with space.txt")).unwrap();
    let want = format!("2 file {} {} with space.txt", meta.dev(), meta.ino());
    assert!(lines.iter().any(|l| l.ends_with(&want)), "{dump}");
    // Parents come before their children in id order.
    let id_of = |name: &str| -> u32 {
        lines
            .iter()
            .find(|l| l.ends_with(name))
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(id_of(" Old") < id_of(" report-2019.txt"));

    // search is a case-insensitive prefix search.
    let found = run(&["search", "REPORT"]);
    assert_eq!(found.lines().count(), 2, "{found}");
    let stamp = run(&["stamp"]);
    assert_eq!(stamp.trim().len(), 16);
    assert_eq!(
        run(&["check"]).lines().last().unwrap(),
        "0 problems (0 index, 0 dangling, 0 mismatched, 0 missing) in 5 records and 5 files"
    );

    // A rename behind the database's back, then update.
    std::fs::rename(vol.join("Docs/Report.txt"), vol.join("Docs/Final.txt")).unwrap();
    run(&["update", "18", "Docs/Final.txt"]);
    assert_eq!(run(&["resolve", "18"]), "17 Final.txt\n");
    assert_eq!(run(&["lookup", "Docs/Final.txt"]), "18\n");

    // delete, then the id is gone.
    run(&["delete", "18"]);
    let o = m.cnid(&vol, &["resolve", "18"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "cnid: not found\n");
    let o = m.cnid(&vol, &["delete", "18"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(run(&["stamp"]), stamp, "the stamp stays");
}

#[test]
fn check_finds_and_repairs_drift() {
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    std::fs::create_dir_all(vol.join("a")).unwrap();
    for f in ["a/1", "a/2", "a/3"] {
        std::fs::write(vol.join(f), f).unwrap();
    }
    let m = Metad::start(s.path());
    assert!(m.cnid(&vol, &["scan"]).status.success());
    // dangling: a file removed; mismatched: a file replaced (new inode);
    // missing: a new file.
    std::fs::remove_file(vol.join("a/1")).unwrap();
    std::fs::remove_file(vol.join("a/2")).unwrap();
    std::fs::write(vol.join("a/2"), "new").unwrap();
    std::fs::write(vol.join("a/4"), "4").unwrap();
    let o = m.cnid(&vol, &["check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("dangling 18 a/1: no such file"), "{out}");
    assert!(
        out.contains("mismatched 19 a/2: database has file"),
        "{out}"
    );
    assert!(out.contains("missing a/4"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("3 problems (0 index, 1 dangling, 1 mismatched, 1 missing)"),
        "{out}"
    );

    let o = m.cnid(&vol, &["check", "--repair"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).trim_end().ends_with("; repaired"));
    let o = m.cnid(&vol, &["check"]);
    assert!(o.status.success(), "{}", stdout(&o));
    // The replaced file kept its id.
    assert_eq!(stdout(&m.cnid(&vol, &["lookup", "a/2"])), "19\n");
}

#[test]
fn errors_name_the_problem() {
    let s = Scratch::new();
    let vol = s.volume("vol", None);
    std::fs::write(vol.join("f"), "").unwrap();
    let m = Metad::start(s.path());
    let err = |args: &[&str]| {
        let o = m.cnid(&vol, args);
        assert!(!o.status.success(), "{args:?} succeeded");
        (o.status.code(), stderr(&o))
    };
    assert_eq!(err(&["lookup", "f"]), (Some(1), "cnid: not found\n".into()));
    let (code, e) = err(&["add", "/etc/passwd"]);
    assert_eq!(code, Some(2));
    assert!(e.contains("/etc/passwd is outside the volume"), "{e}");
    let (_, e) = err(&["add", "../x"]);
    assert!(e.contains("'..' is not allowed"), "{e}");
    let (_, e) = err(&["resolve", "0"]);
    assert!(e.contains("id 0 is reserved"), "{e}");
    let (_, e) = err(&["delete", "1"]);
    assert!(e.contains("id 1 is reserved"), "{e}");
    let (_, e) = err(&["get", "0", "x"]);
    assert!(e.contains("0 cannot be a parent directory id"), "{e}");
    let long = "n".repeat(300);
    let (_, e) = err(&["get", "2", &long]);
    assert!(
        e.contains("name is 300 bytes long; the limit is 255"),
        "{e}"
    );
    std::os::unix::fs::symlink("/etc", vol.join("link")).unwrap();
    let (_, e) = err(&["add", "link/passwd"]);
    assert!(e.contains("is a symbolic link"), "{e}");

    // No cnid_metad at that socket.
    let o = std::process::Command::new(bin("cnid"))
        .args(["--socket", "/nonexistent/metad.sock"])
        .arg(&vol)
        .arg("stamp")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "cnid: cnid_metad not running at /nonexistent/metad.sock\n"
    );
}

#[test]
fn dbroot_keeps_databases_outside_the_volumes() {
    let s = Scratch::new();
    let vol = s.volume("my vol", None);
    std::fs::write(vol.join("f"), "").unwrap();
    let dbroot = s.path().join("dbs");
    let m = Metad::start_with(s.path(), &["--dbroot", dbroot.to_str().unwrap()]);
    let o = m.cnid(&vol, &["add", "f"]);
    assert_eq!(stdout(&o), "17\n", "{}", stderr(&o));
    assert!(!vol.join(".AppleDB").exists());
    let dirs: Vec<String> = std::fs::read_dir(&dbroot)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let want = format!(
        "{}-",
        vol.to_str()
            .unwrap()
            .trim_start_matches('/')
            .replace(['/', ' '], "_")
    );
    assert!(dirs[0].starts_with(&want), "{} vs {want}", dirs[0]);
    let status = stdout(&m.cnid(&vol, &["status"]));
    assert!(
        status.contains(&format!("dbdir {}", dbroot.join(&dirs[0]).display())),
        "{status}"
    );
    // The scan leaves nothing of the database in the volume either.
    assert_eq!(stdout(&m.cnid(&vol, &["scan"])), "1\n");
}

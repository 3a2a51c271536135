//! Many clients at once, crashes and restarts: nothing acknowledged is
//! lost, indexes keep agreeing, killed daemons come back on next access.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cnid::{Cnid, Entry, FileKind, Name};
use nix::sys::signal::Signal;
use system_tests::*;

#[test]
fn concurrent_clients_add_and_resolve_thousands() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let m = Metad::start(s.path());
    let clients = 8;
    let per = 1500u64;
    let results: Vec<Vec<(Entry, Cnid)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let m = &m;
                let vol = &vol;
                scope.spawn(move || {
                    let mut client = m.client(vol);
                    let mut mine = Vec::new();
                    for i in 0..per {
                        let e = entry(c * 100_000 + i, 2, &format!("c{c}-{i}"));
                        let id = block_on(client.add(&e, None)).unwrap();
                        mine.push((e, id));
                    }
                    for (e, id) in &mine {
                        let (did, name) = block_on(client.resolve(*id)).unwrap().unwrap();
                        assert_eq!((did, &name), (e.did, &e.name));
                        assert_eq!(block_on(client.get(e.did, &e.name)).unwrap(), Some(*id));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: HashSet<Cnid> = results.iter().flatten().map(|(_, id)| *id).collect();
    assert_eq!(
        ids.len() as u64,
        clients * per,
        "every entry got its own id"
    );
    assert!(ids.iter().all(|id| id.0 >= 17));
    let mut c = m.client(&vol);
    let report = block_on(c.verify(false)).unwrap();
    assert_eq!(report.records, clients * per);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // Adding again returns the same ids.
    for (e, id) in results[3].iter().take(50) {
        assert_eq!(block_on(c.add(e, None)).unwrap(), *id);
    }
}

/// Real files, so `cnid check` can compare them with the database.
fn make_files(vol: &std::path::Path, dirs: usize, per: usize) -> Vec<Vec<std::path::PathBuf>> {
    (0..dirs)
        .map(|d| {
            let dir = vol.join(format!("d{d}"));
            std::fs::create_dir(&dir).unwrap();
            (0..per)
                .map(|i| {
                    let p = dir.join(format!("f{i}"));
                    std::fs::write(&p, "").unwrap();
                    p
                })
                .collect()
        })
        .collect()
}

fn entry_of(path: &std::path::Path, did: Cnid) -> Entry {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).unwrap();
    Entry {
        dev: m.dev(),
        ino: m.ino(),
        kind: if m.is_dir() {
            FileKind::Dir
        } else {
            FileKind::File
        },
        did,
        name: Name::new(path.file_name().unwrap().to_str().unwrap()).unwrap(),
    }
}

#[test]
fn kill_9_during_adds_with_nosync_0_loses_nothing_acknowledged() {
    stop_during_adds(Signal::SIGKILL);
}

#[test]
fn sigterm_during_adds_finishes_what_it_acknowledged() {
    stop_during_adds(Signal::SIGTERM);
}

fn stop_during_adds(sig: Signal) {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("nosync 0\nidle_timeout 0\n"));
    let dbdir = vol.join(".AppleDB");
    let files = make_files(&vol, 4, 700);
    let m = Metad::start(s.path());
    let acked: Arc<Mutex<HashMap<Cnid, Entry>>> = Arc::default();
    let first_pid = {
        let mut c = m.client(&vol);
        block_on(c.ping()).unwrap();
        dbd_pid(&dbdir).expect("cnid_dbd runs")
    };
    std::thread::scope(|scope| {
        for (d, list) in files.iter().enumerate() {
            let (m, vol, acked) = (&m, &vol, acked.clone());
            scope.spawn(move || {
                let mut c = m.client(vol);
                let dir = vol.join(format!("d{d}"));
                let did = block_on(c.add(&entry_of(&dir, Cnid::ROOT), None)).unwrap();
                acked
                    .lock()
                    .unwrap()
                    .insert(did, entry_of(&dir, Cnid::ROOT));
                for p in list {
                    let e = entry_of(p, did);
                    let id = block_on(c.add(&e, None)).expect("add succeeds across the kill");
                    acked.lock().unwrap().insert(id, e);
                }
            });
        }
        // Kill it in the middle of the stream.
        wait_for(Duration::from_secs(20), || {
            (acked.lock().unwrap().len() > 600).then_some(())
        })
        .expect("adds progress");
        signal(first_pid, sig);
    });
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 4 + 4 * 700);
    let second = dbd_pid(&dbdir).expect("a new cnid_dbd serves");
    assert_ne!(second, first_pid, "the killed cnid_dbd was replaced");
    let how = match sig {
        Signal::SIGKILL => "cnid_dbd died (killed by signal 9 (SIGKILL))".to_string(),
        _ => format!("pid={first_pid}"),
    };
    assert!(m.wait_log(&how), "{}", m.log_text());
    if sig == Signal::SIGTERM {
        assert!(
            m.wait_log("cnid_dbd exited (exit status 0)"),
            "{}",
            m.log_text()
        );
    }

    // Stop everything cleanly, start again: every acknowledged add is there.
    let mut c = m.client(&vol);
    for (id, e) in &acked {
        let (did, name) = block_on(c.resolve(*id))
            .unwrap()
            .unwrap_or_else(|| panic!("id {id} lost"));
        assert_eq!((did, &name), (e.did, &e.name));
        assert_eq!(block_on(c.lookup(e, None)).unwrap(), Some(*id));
    }
    let o = m.cnid(&vol, &["check"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("0 problems"), "{}", stdout(&o));
}

#[test]
fn sigterm_and_sigkill_are_respawned_on_next_access() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let dbdir = vol.join(".AppleDB");
    let m = Metad::start(s.path());
    let mut c = m.client(&vol);
    let id = block_on(c.add(&entry(1, 2, "kept"), None)).unwrap();
    let stamp = c.welcome().stamp;
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let pid = dbd_pid(&dbdir).unwrap();
        signal(pid, sig);
        wait_for(Duration::from_secs(10), || (!alive(pid)).then_some(())).expect("it exits");
        // The same client object goes on: reconnect and retry are silent.
        assert_eq!(
            block_on(c.resolve(id)).unwrap().unwrap().1.as_bytes(),
            b"kept"
        );
        let new = dbd_pid(&dbdir).unwrap();
        assert_ne!(new, pid);
        assert_eq!(c.welcome().stamp, stamp);
    }
    assert_eq!(c.reconnects(), 2);
    let log = m.log_text();
    assert!(log.contains("terminating on signal"), "{log}");
    assert!(log.contains("database closed; exiting"), "{log}");
    assert!(log.contains("cnid_dbd exited (exit status 0)"), "{log}");
    assert!(
        log.contains("cnid_dbd died (killed by signal 9 (SIGKILL))"),
        "{log}"
    );
}

#[test]
fn metad_sigterm_stops_every_dbd_and_exits_0() {
    let s = Scratch::new();
    let v1 = s.volume("v1", Some("idle_timeout 0\n"));
    let v2 = s.volume("v2", Some("idle_timeout 0\n"));
    let mut m = Metad::start(s.path());
    let mut c1 = m.client(&v1);
    let mut c2 = m.client(&v2);
    block_on(c1.add(&entry(1, 2, "a"), None)).unwrap();
    block_on(c2.add(&entry(1, 2, "b"), None)).unwrap();
    let p1 = dbd_pid(&v1.join(".AppleDB")).unwrap();
    let p2 = dbd_pid(&v2.join(".AppleDB")).unwrap();
    let status = m.stop();
    assert!(status.success(), "{status:?}");
    assert!(!alive(p1) && !alive(p2), "cnid_dbds stopped");
    assert!(!m.socket.exists(), "socket removed");
    // Its clients get a clear error now.
    let e = block_on(c1.ping()).unwrap_err();
    assert!(
        e.to_string().starts_with("cnid_metad not running at"),
        "{e}"
    );
    // And the data is there after a restart.
    let m = Metad::start(s.path());
    let mut c = m.client(&v2);
    assert_eq!(
        block_on(c.get(Cnid(2), &Name::new("b").unwrap())).unwrap(),
        Some(Cnid(17))
    );
}

#[test]
fn dbd_exits_when_metad_dies() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let m = Metad::start(s.path());
    let mut c = m.client(&vol);
    block_on(c.add(&entry(1, 2, "a"), None)).unwrap();
    let pid = dbd_pid(&vol.join(".AppleDB")).unwrap();
    signal(m.pid(), Signal::SIGKILL);
    wait_for(Duration::from_secs(10), || (!alive(pid)).then_some(()))
        .expect("cnid_dbd exits on EOF of its control channel");
    assert!(m.wait_log("cnid_metad closed the control channel"));
}

#[test]
fn an_orphaned_dbd_holding_the_database_is_reported_as_locked() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 0\n"));
    let old_dbd = {
        let m = Metad::start(s.path());
        let mut c = m.client(&vol);
        block_on(c.add(&entry(1, 2, "a"), None)).unwrap();
        let pid = dbd_pid(&vol.join(".AppleDB")).unwrap();
        // A cnid_dbd that cannot notice its cnid_metad is gone ...
        signal(pid, Signal::SIGSTOP);
        signal(m.pid(), Signal::SIGKILL);
        pid
    };
    // ... still holds the volume when a new cnid_metad starts.
    let m = Metad::start(s.path());
    let o = m.cnid(&vol, &["stamp"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "cnid: volume database is locked: {}/.AppleDB is in use by another cnid_dbd (pid {old_dbd})\n",
            vol.display()
        )
    );
    // Once it runs again it sees its control channel closed and leaves.
    signal(old_dbd, Signal::SIGCONT);
    wait_for(Duration::from_secs(10), || (!alive(old_dbd)).then_some(())).expect("it exits");
    let o = m.cnid(&vol, &["get", "2", "a"]);
    assert_eq!(stdout(&o), "17\n", "{}", stderr(&o));
}

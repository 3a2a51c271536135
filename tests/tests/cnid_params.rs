//! Every db_param key taking effect in a running cnid_dbd.

use std::os::fd::AsRawFd;
use std::time::Duration;

use common::cnid::{BlockingClient, ClientConfig, Cnid};
use system_tests::*;

fn status_field(m: &Metad, vol: &std::path::Path, key: &str) -> String {
    let o = m.cnid(vol, &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {key} in status"))
}

#[test]
fn status_reports_every_setting_read_from_db_param() {
    let s = Scratch::new();
    let sock = s.path().join("my dbd socket");
    let param = format!(
        "# tuned\nbacklog 7\ncachesize 4096\nnosync 1\nflush_frequency 55\nflush_interval 9\n\
         usock_file \"{}\"\nfd_table_size 3\nidle_timeout 0\nallow_users root\n",
        sock.display()
    );
    let vol = s.volume("vol", Some(&param));
    let m = Metad::start(s.path());
    for (k, v) in [
        ("backlog", "7"),
        ("cachesize", "4096"),
        ("nosync", "1"),
        ("flush_frequency", "55"),
        ("flush_interval", "9"),
        ("fd_table_size", "3"),
        ("idle_timeout", "0"),
        ("allow_users", "root"),
    ] {
        assert_eq!(status_field(&m, &vol, k), v, "{k}");
    }
    assert_eq!(
        status_field(&m, &vol, "usock_file"),
        sock.display().to_string()
    );
}

#[test]
fn usock_file_with_blanks_takes_direct_clients() {
    let s = Scratch::new();
    let sock = s.path().join("a socket with blanks");
    let vol = s.volume(
        "vol",
        Some(&format!(
            "usock_file \"{}\"\nidle_timeout 0\n",
            sock.display()
        )),
    );
    let m = Metad::start(s.path());
    let mut via_metad = m.client(&vol);
    let id = block_on(via_metad.add(&entry(5, 2, "x"), None)).unwrap();
    // Straight to cnid_dbd's own socket, no cnid_metad involved.
    let mut cfg = ClientConfig::new(&sock, &vol);
    cfg.name = "direct".into();
    let mut direct = block_on(BlockingClient::connect(cfg)).unwrap();
    assert_eq!(direct.welcome().pid, via_metad.welcome().pid);
    assert_eq!(
        block_on(direct.resolve(id)).unwrap().unwrap().1.as_bytes(),
        b"x"
    );
    // Asking the wrong volume there is refused.
    let mut cfg = ClientConfig::new(&sock, s.path());
    cfg.name = "direct".into();
    let e = block_on(BlockingClient::connect(cfg))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("this cnid_dbd serves"), "{e}");
}

#[test]
fn backlog_sets_the_listen_queue() {
    for backlog in [2, 5] {
        let s = Scratch::new();
        let vol = s.volume("vol", Some(&format!("backlog {backlog}\nidle_timeout 0\n")));
        let m = Metad::start(s.path());
        let mut c = m.client(&vol);
        block_on(c.ping()).unwrap();
        let pid = dbd_pid(&vol.join(".AppleDB")).unwrap();
        let usock = vol.join(".AppleDB/usock");
        // With the daemon stopped nothing is accepted: the kernel queues
        // backlog + 1 connections and refuses the next.
        signal(pid, nix::sys::signal::Signal::SIGSTOP);
        let mut held = Vec::new();
        let queued = loop {
            use nix::sys::socket::*;
            let fd = socket(
                AddressFamily::Unix,
                SockType::Stream,
                SockFlag::SOCK_NONBLOCK,
                None,
            )
            .unwrap();
            match connect(fd.as_raw_fd(), &UnixAddr::new(&usock).unwrap()) {
                Ok(()) => held.push(fd),
                Err(nix::errno::Errno::EAGAIN) => break held.len(),
                Err(e) => panic!("{e}"),
            }
            assert!(held.len() < 100, "backlog not applied");
        };
        signal(pid, nix::sys::signal::Signal::SIGCONT);
        assert_eq!(queued, backlog + 1, "backlog {backlog}");
    }
}

#[test]
fn nosync_and_flush_frequency() {
    // nosync 1: a sync every flush_frequency changes, none in between.
    let s = Scratch::new();
    let vol = s.volume(
        "vol",
        Some("nosync 1\nflush_frequency 10\nflush_interval 3600\nidle_timeout 0\n"),
    );
    let m = Metad::start(s.path());
    let mut c = m.client(&vol);
    let flushes = |c: &mut BlockingClient| block_on(c.status()).unwrap().flushes;
    let mut n = 0u64;
    for round in 1..=2u64 {
        for _ in 0..9 {
            block_on(c.add(&entry(n, 2, &format!("n{n}")), None)).unwrap();
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            flushes(&mut c),
            round - 1,
            "no sync before {} changes",
            round * 10
        );
        block_on(c.add(&entry(n, 2, &format!("n{n}")), None)).unwrap();
        n += 1;
        let synced = wait_for(Duration::from_secs(5), || {
            (flushes(&mut c) == round).then_some(())
        });
        assert!(synced.is_some(), "a sync at change {}", round * 10);
    }

    // nosync 0: every acknowledged change was synced before its reply.
    let vol0 = s.volume(
        "vol0",
        Some("nosync 0\nflush_interval 3600\nidle_timeout 0\n"),
    );
    let mut c0 = m.client(&vol0);
    for i in 0..20 {
        block_on(c0.add(&entry(i, 2, &format!("n{i}")), None)).unwrap();
        assert_eq!(block_on(c0.status()).unwrap().flushes, i + 1);
    }
}

#[test]
fn flush_interval_syncs_idle_changes() {
    let s = Scratch::new();
    let vol = s.volume(
        "vol",
        Some("nosync 1\nflush_frequency 100000\nflush_interval 1\nidle_timeout 0\n"),
    );
    let m = Metad::start(s.path());
    let mut c = m.client(&vol);
    block_on(c.add(&entry(1, 2, "one"), None)).unwrap();
    assert_eq!(block_on(c.status()).unwrap().flushes, 0);
    let flushed = wait_for(Duration::from_secs(5), || {
        (block_on(c.status()).unwrap().flushes >= 1).then_some(())
    });
    assert!(flushed.is_some(), "flush_interval 1 synced within seconds");
    // What was synced survives kill -9.
    let pid = dbd_pid(&vol.join(".AppleDB")).unwrap();
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    wait_for(Duration::from_secs(5), || (!alive(pid)).then_some(())).unwrap();
    assert_eq!(
        block_on(c.get(Cnid(2), &common::cnid::Name::new("one").unwrap())).unwrap(),
        Some(Cnid(17))
    );
}

#[test]
fn fd_table_size_evicts_the_least_recently_used_and_clients_reconnect() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("fd_table_size 2\nidle_timeout 0\n"));
    let m = Metad::start(s.path());
    let mut clients: Vec<BlockingClient> = (0..4).map(|_| m.client(&vol)).collect();
    for round in 0..5u64 {
        for (i, c) in clients.iter_mut().enumerate() {
            let name = format!("r{round}c{i}");
            let id = block_on(c.add(&entry(round * 10 + i as u64, 2, &name), None)).unwrap();
            assert_eq!(
                block_on(c.resolve(id)).unwrap().unwrap().1.as_bytes(),
                name.as_bytes()
            );
        }
    }
    let reconnects: u64 = clients.iter().map(|c| c.reconnects()).sum();
    assert!(
        reconnects >= 10,
        "evicted clients reconnected transparently ({reconnects})"
    );
    let st = block_on(clients[0].status()).unwrap();
    assert!(
        st.clients <= 2,
        "{} clients for fd_table_size 2",
        st.clients
    );
    assert!(st.evictions >= 10, "{}", st.evictions);
    assert!(m.log_text().contains("fd table full"));
}

#[test]
fn idle_timeout_exits_and_the_next_access_respawns() {
    let s = Scratch::new();
    let vol = s.volume("vol", Some("idle_timeout 1\n"));
    let m = Metad::start(s.path());
    let first = {
        let mut c = m.client(&vol);
        block_on(c.add(&entry(1, 2, "a"), None)).unwrap();
        c.welcome().pid as i32
    };
    // No client left: it asks to leave after a second and goes.
    wait_for(Duration::from_secs(10), || (!alive(first)).then_some(()))
        .expect("idle cnid_dbd exits");
    assert!(m.wait_log("cnid_dbd idle; letting it exit"));
    let mut c = m.client(&vol);
    assert_ne!(c.welcome().pid as i32, first);
    assert_eq!(
        block_on(c.get(Cnid(2), &common::cnid::Name::new("a").unwrap())).unwrap(),
        Some(Cnid(17))
    );
    // A connected client keeps it alive even when quiet.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(alive(c.welcome().pid as i32));
    block_on(c.ping()).unwrap();
}

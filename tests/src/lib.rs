//! Helpers for the integration tests: they start the real binaries built
//! by `cargo build --workspace` (found beside the test executable) in
//! temporary directories and talk to them as users and programs would.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cnid::{BlockingClient, ClientConfig};

pub mod netns;
pub mod samba_smbd;
pub mod smb2;

/// A binary of the workspace, from the target directory the tests run in.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// For tests that need root: true when they can run. Without root they
/// are skipped with a note, except in CI (CI=true), where that is a failure.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root and CI runs as root");
    }
    eprintln!("SKIPPED {test}: needs root");
    false
}

/// Polls `f` until it returns Some or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A scratch directory that everyone can traverse (so tests can switch to
/// other users), removed on drop.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("cnid-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A new volume directory (mode 0755), optionally with a db_param.
    pub fn volume(&self, name: &str, db_param: Option<&str>) -> PathBuf {
        let v = self.path().join(name);
        std::fs::create_dir_all(&v).unwrap();
        std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(p) = db_param {
            let db = v.join(".AppleDB");
            std::fs::create_dir_all(&db).unwrap();
            std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::fs::write(db.join("db_param"), p).unwrap();
        }
        std::fs::canonicalize(&v).unwrap()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// A running cnid_metad on a private socket, stopped (SIGTERM) on drop.
pub struct Metad {
    pub child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Metad {
    pub fn start(dir: &Path) -> Metad {
        Metad::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Metad {
        let socket = dir.join("metad.sock");
        let log = dir.join("cnid.log");
        let child = Command::new(bin("cnid_metad"))
            .arg("-d")
            .arg("--socket")
            .arg(&socket)
            .arg("--log-file")
            .arg(&log)
            .arg("--log-level")
            .arg("3")
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
            .expect("start cnid_metad");
        let m = Metad {
            child: Some(child),
            socket,
            log,
        };
        wait_for(Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&m.socket).ok()
        })
        .expect("cnid_metad listens");
        m
    }

    pub fn client(&self, volume: &Path) -> BlockingClient {
        self.try_client(volume).expect("client connects")
    }

    pub fn try_client(&self, volume: &Path) -> Result<BlockingClient, common::cnid::CnidError> {
        let mut cfg = ClientConfig::new(&self.socket, volume);
        cfg.name = "system-test".into();
        cfg.timeout = Duration::from_secs(30);
        block_on(BlockingClient::connect(cfg))
    }

    /// Runs `cnid --socket S VOLUME args...`.
    pub fn cnid(&self, volume: &Path, args: &[&str]) -> Output {
        Command::new(bin("cnid"))
            .arg("--socket")
            .arg(&self.socket)
            .arg(volume)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run cnid")
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> bool {
        wait_for(Duration::from_secs(10), || {
            self.log_text().contains(needle).then_some(())
        })
        .is_some()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id() as i32, nix::sys::signal::Signal::SIGTERM);
        child.wait().expect("wait cnid_metad")
    }
}

impl Drop for Metad {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Whether process `pid` exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// The pid of the cnid_dbd serving the volume whose database is `dbdir`.
pub fn dbd_pid(dbdir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dbdir.join("cnid_dbd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

/// Drives a future that never waits (the blocking client's).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(f)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file entry with made-up dev/ino for tests that talk to the database
/// directly.
pub fn entry(ino: u64, did: u32, name: &str) -> common::cnid::Entry {
    common::cnid::Entry {
        dev: 77,
        ino,
        kind: common::cnid::FileKind::File,
        did: common::cnid::Cnid(did),
        name: common::cnid::Name::new(name).unwrap(),
    }
}

/// A free TCP port on the loopback (IPv4 and, where there is one, IPv6)
/// for a daemon under test to bind right after. It is taken below the
/// kernel's ephemeral range, so the source ports of the many client
/// connections the tests (and anything else on the machine) make cannot
/// take it in between; the daemon may still lose a race with another test
/// for it, which [`Smbd::start`] handles by trying another.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (from, to) = (10000u16, low.max(10100));
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = from + (h.finish() % u64::from(to - from)) as u16;
        // 4450/4451: reference servers on the development machines.
        if port == 4450 || port == 4451 || port == 445 {
            continue;
        }
        let v4 = std::net::TcpListener::bind(("127.0.0.1", port));
        let v6 = std::net::TcpListener::bind(("::1", port));
        let v6_ok = match &v6 {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::AddrInUse,
        };
        if v4.is_ok() && v6_ok {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running smbd with its own smb.conf and state directories, stopped on
/// drop.
pub struct Smbd {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
}

impl Smbd {
    /// Writes smb.conf with `[global]` extras and share sections (raw
    /// text), creates the directories it names and starts smbd on a free
    /// port (another one if that port is taken before smbd binds it).
    pub fn start(dir: &Path, global_extra: &str, shares: &str) -> Smbd {
        for d in ["state", "cache", "lock", "private", "run"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::set_permissions(dir.join("private"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let conf = dir.join("smb.conf");
        let log = dir.join("smbd.log");
        let errors = dir.join("smbd.stderr");
        let d = dir.display();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            std::fs::write(
                &conf,
                format!(
                    "[global]\n  workgroup = TESTGRP\n  netbios name = OURSRV\n  smb ports = {port}\n  interfaces = lo\n  bind interfaces only = yes\n  disable netbios = yes\n  state directory = {d}/state\n  cache directory = {d}/cache\n  lock directory = {d}/lock\n  private dir = {d}/private\n  pid directory = {d}/run\n  map to guest = bad user\n{global_extra}\n{shares}\n"
                ),
            )
            .unwrap();
            let child = Command::new(bin("smbd"))
                .arg("-F")
                .arg("--debug-stdout")
                .arg("-d")
                .arg("3")
                .arg("-s")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(&errors).unwrap())
                .spawn()
                .expect("start smbd");
            let mut s = Smbd {
                child: Some(child),
                port,
                dir: dir.to_path_buf(),
                conf: conf.clone(),
                log: log.clone(),
            };
            let up = wait_for(Duration::from_secs(20), || {
                if let Ok(Some(_)) = s.child.as_mut().expect("running").try_wait() {
                    return Some(false);
                }
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .ok()
                    .map(|_| true)
            });
            let err = std::fs::read_to_string(&errors).unwrap_or_default();
            match up {
                Some(true) => return s,
                Some(false) if attempt < 5 && err.contains("in use") => {
                    s.child = None;
                    continue;
                }
                _ => panic!("smbd does not listen on {port}:\n{err}\n{}", s.log_text()),
            }
        }
    }

    /// Adds `user` (a Unix account) with `password` through our smbpasswd.
    pub fn add_user(&self, user: &str, password: &str) {
        use std::io::Write;
        let mut c = Command::new(bin("smbpasswd"))
            .args(["-c"])
            .arg(&self.conf)
            .args(["-s", "-a", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n{password}\n").as_bytes())
            .unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "smbpasswd: {}", stderr(&o));
    }

    /// Runs smbclient against `//127.0.0.1/SHARE` with extra arguments.
    pub fn smbclient(&self, share: &str, args: &[&str]) -> Output {
        Command::new("smbclient")
            .arg(format!("//127.0.0.1/{share}"))
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("smbclient (Debian package smbclient) runs")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 10 s) for a log line that contains every one of
    /// `needles`; returns it.
    pub fn wait_log_line(&self, needles: &[&str]) -> Option<String> {
        wait_for(Duration::from_secs(10), || {
            self.log_text()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string)
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Whether smbd still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        signal(c.id() as i32, nix::sys::signal::Signal::SIGTERM);
        c.wait().unwrap()
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// The name of the user the tests run as (smbclient logs on as it).
pub fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

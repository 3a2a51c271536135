//! Network namespaces joined by a bridge (reference/peers.md), for nmbd
//! tests: every name carries the test's pid and a tag so tests can run side
//! by side; everything is deleted on drop. Needs root.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A bridge and `n` namespaces with `eth0` at 10.A.B.i/24 (i = 1..=n).
pub struct Lan {
    pub bridge: String,
    pub namespaces: Vec<String>,
    net: [u8; 3],
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lan {
    pub fn new(tag: u8, n: usize) -> Lan {
        let pid = std::process::id();
        let net = [10, (pid >> 8) as u8, (pid as u8) ^ tag.wrapping_mul(37)];
        let id = format!("{:x}{tag}", pid & 0xfffff);
        let lan = Lan {
            bridge: format!("nbr{id}"),
            namespaces: (1..=n).map(|i| format!("nbt{id}-{i}")).collect(),
            net,
        };
        ip(&["link", "add", &lan.bridge, "type", "bridge"]);
        ip(&["link", "set", &lan.bridge, "up"]);
        for (i, ns) in lan.namespaces.iter().enumerate() {
            let veth = format!("nv{id}{}", i + 1);
            ip(&["netns", "add", ns]);
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ]);
            ip(&["link", "set", &veth, "master", &lan.bridge]);
            ip(&["link", "set", &veth, "up"]);
            let addr = format!("{}/24", lan.ip(i + 1));
            let brd = lan.broadcast().to_string();
            ip(&["-n", ns, "addr", "add", &addr, "brd", &brd, "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lan
    }

    /// The address of namespace `i` (1-based).
    pub fn ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], i as u8)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], 255)
    }

    /// The subnet, as `10.A.B.0/24`.
    pub fn network(&self) -> String {
        format!("{}.{}.{}.0/24", self.net[0], self.net[1], self.net[2])
    }

    /// Makes namespace `ns` of this LAN the router to `other`: it joins
    /// `other`'s bridge as `eth1` with address `other.ip(host)`, and every
    /// namespace of `other` routes this LAN through it. A daemon there
    /// with `interfaces = eth0` serves this LAN only and is reached from
    /// `other` by unicast.
    pub fn route_to(&self, ns: usize, other: &Lan, host: usize) {
        let veth = format!("nx{}", &other.bridge[3..]);
        let name = &self.namespaces[ns - 1];
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth1", "netns", name,
        ]);
        ip(&["link", "set", &veth, "master", &other.bridge]);
        ip(&["link", "set", &veth, "up"]);
        let gw = other.ip(host).to_string();
        let addr = format!("{gw}/24");
        let brd = other.broadcast().to_string();
        ip(&["-n", name, "addr", "add", &addr, "brd", &brd, "dev", "eth1"]);
        ip(&["-n", name, "link", "set", "eth1", "up"]);
        for o in &other.namespaces {
            ip(&["-n", o, "route", "add", &self.network(), "via", &gw]);
        }
    }

    /// A command run inside namespace `i` (1-based).
    pub fn cmd(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.namespaces[i - 1], program]);
        c
    }

    /// Runs `f` on a thread that has entered namespace `i`; sockets it
    /// creates stay in that namespace.
    pub fn in_ns<T: Send + 'static>(&self, i: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.namespaces[i - 1]);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).expect("open netns");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread in netns")
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

/// A daemon (ours or Samba's) in a namespace, its output in a file;
/// killed on drop.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Runs `cmd` (for example `lan.cmd(ns, program)` with its arguments).
    pub fn start(mut cmd: Command, log: PathBuf) -> Daemon {
        let f = std::fs::File::create(&log).expect("create the log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup the log"))
            .stderr(f)
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }

    /// The nmbd at `program` (`-F --debug-stdout -d level -s conf`) in
    /// namespace `ns`.
    pub fn nmbd_at(
        lan: &Lan,
        ns: usize,
        program: &str,
        level: u8,
        conf: &Path,
        log: PathBuf,
    ) -> Daemon {
        let mut cmd = lan.cmd(ns, program);
        cmd.args(["-F", "--debug-stdout", "-d", &level.to_string(), "-s"])
            .arg(conf);
        Daemon::start(cmd, log)
    }

    /// Our nmbd (`-d 2`) in namespace `ns`.
    pub fn nmbd(lan: &Lan, ns: usize, conf: &Path, log: PathBuf) -> Daemon {
        let ours = crate::bin("nmbd");
        Daemon::nmbd_at(lan, ns, ours.to_str().expect("utf-8 path"), 2, conf, log)
    }

    /// SIGTERM, then a clean exit within 10 s.
    pub fn stop(mut self) {
        crate::signal(self.child.id() as i32, nix::sys::signal::Signal::SIGTERM);
        let exited = crate::wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        });
        assert!(exited.is_some_and(|s| s.success()), "{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        crate::wait_for(limit, || self.log_text().contains(needle).then_some(())).is_some()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Its children first, while they are still its children: Samba's
        // nmbd forks an asyncdns helper that ignores SIGTERM and would
        // outlive it (it runs setsid itself, so no process group of ours).
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An smb.conf for our nmbd under `dir` (with its state, cache, lock, run
/// and private directories): workgroup `workgroup`, NetBIOS name `name`,
/// `local master = no`, then the `extra` [global] lines.
pub fn nmbd_conf(dir: &Path, workgroup: &str, name: &str, extra: &str) -> PathBuf {
    for d in ["state", "cache", "lock", "run", "priv"] {
        std::fs::create_dir_all(dir.join(d)).expect("create a directory");
    }
    let d = dir.display();
    let path = dir.join("smb.conf");
    std::fs::write(
        &path,
        format!(
            "[global]\n workgroup = {workgroup}\n netbios name = {name}\n local master = no\n os level = 1\n state directory = {d}/state\n cache directory = {d}/cache\n lock directory = {d}/lock\n private dir = {d}/priv\n pid directory = {d}/run\n ncalrpc dir = {d}/run\n nmbd:socket dir = {d}/nmbd\n{extra}"
        ),
    )
    .expect("write smb.conf");
    path
}

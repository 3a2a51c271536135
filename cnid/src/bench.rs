//! `cnid bench`: a load generator in the spirit of redis-benchmark.
//!
//! It starts a private cnid_metad (the one installed beside this program)
//! on two fresh volumes, one with `nosync 0` and one with `nosync 1`, and
//! measures, for one client and for several, empty round trips, add,
//! lookup and resolve per second. In the same run it measures a raw Unix
//! socket request/reply loop with frames of the same size (a blocking
//! thread per connection in another process: nothing can be cheaper), and
//! reports each figure as a share of that ceiling. Everything runs twice:
//! pinned to one CPU (client and daemon share it, so no wake-up crosses
//! CPUs) and unpinned.
//!
//! Given netatalk's cnid_metad (`--netatalk-metad`, with the afp.conf it
//! needs), it starts that too and sends it the same requests, in netatalk's
//! own protocol, in the same run.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;
use common::cnid::netatalk;
use common::cnid::proto::{MAX_REPLY, MAX_REQUEST, Reply, Request};
use common::cnid::{
    AsyncConn, BlockingConn, Client, ClientConfig, Cnid, Entry, FileKind, Name, Transport,
};
use common::frame::encode_frame_into;

/// Hidden sub-command: the raw echo server of the ceiling measurement.
pub const RAW_SERVER: &str = "__bench-raw-server";

#[derive(Parser, Debug)]
#[command(
    name = "cnid bench",
    about = "Measure the CNID service against a raw Unix-socket ceiling (starts its own cnid_metad)"
)]
struct BenchArgs {
    /// Requests per client in each measurement.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Number of clients in the "several clients" column.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Where to create the volumes (default: a new directory under $TMPDIR).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Only the pinned run, or only the unpinned one.
    #[arg(long, value_parser = ["pinned", "unpinned", "both"], default_value = "both")]
    cpu: String,
    /// The cnid_metad to start (default: the one beside this program).
    #[arg(long)]
    metad: Option<PathBuf>,
    /// netatalk's cnid_metad, to measure beside ours (started with -d -F CONF).
    #[arg(long, value_name = "PATH", requires_all = ["netatalk_conf", "netatalk_volume"])]
    netatalk_metad: Option<PathBuf>,
    /// The afp.conf for netatalk's cnid_metad.
    #[arg(long, value_name = "FILE")]
    netatalk_conf: Option<PathBuf>,
    /// Its `cnid listen` address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4700")]
    netatalk_listen: String,
    /// The path of a volume declared in that afp.conf.
    #[arg(long, value_name = "PATH")]
    netatalk_volume: Option<PathBuf>,
}

pub fn main(argv: &[OsString]) -> ExitCode {
    let args = BenchArgs::parse_from(argv);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnid bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &BenchArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let metad = args
        .metad
        .clone()
        .unwrap_or_else(|| exe.with_file_name("cnid_metad"));
    if !metad.is_file() {
        return Err(format!("{} not found (use --metad)", metad.display()));
    }
    let base = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            d.clone()
        }
        None => {
            let d = std::env::temp_dir().join(format!("cnid-bench-{}", std::process::id()));
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            d
        }
    };
    let clients = args.clients.max(2);
    let modes: &[bool] = match args.cpu.as_str() {
        "pinned" => &[true],
        "unpinned" => &[false],
        _ => &[true, false],
    };
    println!(
        "cnid bench: {} requests per client; 1 and {clients} clients; {} CPUs",
        args.requests,
        nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|s| (0..nix::sched::CpuSet::count())
                .filter(|&i| s.is_set(i).unwrap_or(false))
                .count())
            .unwrap_or(0)
    );
    let result = modes.iter().try_for_each(|&pinned| {
        let dir = base.join(if pinned { "pinned" } else { "unpinned" });
        one_mode(args, &exe, &metad, &dir, pinned, clients)
    });
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

fn set_affinity(pinned: bool) -> Result<(), String> {
    let mut set = nix::sched::CpuSet::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for cpu in 0..if pinned { 1 } else { cpus } {
        set.set(cpu).map_err(|e| e.to_string())?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("sched_setaffinity: {e}"))
}

struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

fn wait_for_socket(path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(path).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{} did not appear", path.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn one_mode(
    args: &BenchArgs,
    exe: &Path,
    metad: &Path,
    dir: &Path,
    pinned: bool,
    clients: usize,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let mkdir = |p: &Path| std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()));
    let vols: Vec<(bool, PathBuf)> = [false, true]
        .into_iter()
        .map(|nosync| {
            let v = dir.join(if nosync { "vol-nosync1" } else { "vol-nosync0" });
            (nosync, v)
        })
        .collect();
    for (nosync, v) in &vols {
        let db = v.join(".AppleDB");
        mkdir(&db)?;
        std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        let param = format!(
            "nosync {}\nidle_timeout 0\nfd_table_size 256\ncachesize 65536\n",
            u8::from(*nosync)
        );
        std::fs::write(db.join("db_param"), param).map_err(|e| e.to_string())?;
    }
    set_affinity(pinned)?;
    let socket = dir.join("metad.sock");
    let _metad = Killer(
        Command::new(metad)
            .arg("-d")
            .arg("--socket")
            .arg(&socket)
            .arg("--log-level")
            .arg("1")
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", metad.display()))?,
    );
    wait_for_socket(&socket)?;

    let raw_socket = dir.join("raw.sock");
    let (req_len, rep_len) = frame_sizes();
    let _raw = Killer(
        Command::new(exe)
            .arg(RAW_SERVER)
            .arg(&raw_socket)
            .arg(req_len.to_string())
            .arg(rep_len.to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    wait_for_socket(&raw_socket)?;

    let netatalk = match (
        &args.netatalk_metad,
        &args.netatalk_conf,
        &args.netatalk_volume,
    ) {
        (Some(metad), Some(conf), Some(vol)) => Some((
            NetatalkMetad::start(metad, conf, &args.netatalk_listen)?,
            vol.clone(),
        )),
        _ => None,
    };

    println!();
    println!(
        "{}",
        if pinned {
            "pinned: clients and daemons on one CPU"
        } else {
            "unpinned: the scheduler places clients and daemons"
        }
    );
    println!(
        "{:<28} {:>14} {:>22}",
        "",
        "1 client",
        format!("{clients} clients")
    );
    let n = args.requests;
    let both = |f: &dyn Fn(usize) -> Result<f64, String>| -> Result<[f64; 2], String> {
        Ok([f(1)?, f(clients)?])
    };
    let raw = both(&|c| raw_loop(&raw_socket, c, n, req_len, rep_len))?;
    println!(
        "{:<28} {:>12.0}/s {:>20.0}/s",
        "raw socket (ceiling)", raw[0], raw[1]
    );

    let ours = |volume: &Path, blocking: bool| Target::Ours {
        socket: socket.clone(),
        volume: volume.to_path_buf(),
        blocking,
    };
    let theirs = netatalk.as_ref().map(|(m, vol)| Target::Netatalk {
        addr: m.addr.clone(),
        volume: vol.clone(),
    });
    let vol1 = &vols[1].1;
    let rates = both(&|c| measure(&ours(vol1, true), c, n, Op::Ping, ""))?;
    row("ping (empty round trip)", &rates, Some(&raw));
    let rates = both(&|c| measure(&ours(vol1, false), c, n, Op::Ping, ""))?;
    row("ping, async client", &rates, Some(&raw));
    let rates = both(&|c| measure(&ours(vol1, true), c, n, Op::Stamp, ""))?;
    row("getstamp", &rates, Some(&raw));
    if let Some(t) = &theirs {
        let rates = both(&|c| measure(t, c, n, Op::Stamp, ""))?;
        row("netatalk getstamp", &rates, Some(&raw));
    }

    // Entry names unique to this run, so a netatalk database kept from an
    // earlier run does not answer from old entries.
    let nonce = format!("{}{}", std::process::id(), if pinned { "p" } else { "u" });
    for (op, label) in [
        (Op::Add, "add"),
        (Op::Lookup, "lookup"),
        (Op::Resolve, "resolve"),
    ] {
        for (nosync, vol) in &vols {
            let tag = if *nosync { "nosync 1" } else { "nosync 0" };
            let rates = both(&|c| measure(&ours(vol, true), c, n, op, &format!("{nonce}s{c}")))?;
            row(&format!("{label} {tag}"), &rates, None);
        }
        if let Some(t) = &theirs {
            let rates = both(&|c| measure(t, c, n, op, &format!("{nonce}s{c}")))?;
            row(&format!("netatalk {label}"), &rates, None);
        }
    }
    drop(netatalk);
    set_affinity(false)?;
    Ok(())
}

fn row(label: &str, rates: &[f64; 2], ceiling: Option<&[f64; 2]>) {
    match ceiling {
        Some(c) => println!(
            "{label:<28} {:>12.0}/s ({:>3.0}%) {:>12.0}/s ({:>3.0}%)",
            rates[0],
            100.0 * rates[0] / c[0],
            rates[1],
            100.0 * rates[1] / c[1]
        ),
        None => println!("{label:<28} {:>12.0}/s {:>20.0}/s", rates[0], rates[1]),
    }
}

/// Sizes of a Ping frame and of its Pong reply, so the raw loop moves the
/// same bytes.
fn frame_sizes() -> (usize, usize) {
    let mut req = Vec::new();
    encode_frame_into(&Request::Ping, MAX_REQUEST, &mut req).expect("encodable");
    let mut rep = Vec::new();
    encode_frame_into(&Reply::Pong, MAX_REPLY, &mut rep).expect("encodable");
    (req.len(), rep.len())
}

#[derive(Clone, Copy)]
enum Op {
    Ping,
    Stamp,
    Add,
    Lookup,
    Resolve,
}

/// Entry `i` of `client` in the set named `tag` (distinct dev/ino and name
/// for every triple).
fn entry(client: usize, i: usize, tag: &str) -> Entry {
    let set = tag
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    Entry {
        dev: 1 + (set & 0xffff_ffff),
        ino: ((client as u64) << 32) | i as u64,
        kind: FileKind::File,
        did: Cnid::ROOT,
        name: Name::new(format!("{tag}-c{client}-{i}")).expect("valid name"),
    }
}

/// Where the requests go.
#[derive(Clone)]
enum Target {
    Ours {
        socket: PathBuf,
        volume: PathBuf,
        /// The blocking transport, or the async one.
        blocking: bool,
    },
    Netatalk {
        addr: String,
        volume: PathBuf,
    },
}

/// One client connection, whatever it talks to.
trait Session {
    fn ping(&mut self) -> Result<(), String>;
    fn stamp(&mut self) -> Result<(), String>;
    fn add(&mut self, e: &Entry) -> Result<Cnid, String>;
    fn lookup(&mut self, e: &Entry) -> Result<Option<Cnid>, String>;
    fn get(&mut self, e: &Entry) -> Result<Option<Cnid>, String>;
    fn resolve(&mut self, id: Cnid) -> Result<bool, String>;
}

fn open(t: &Target) -> Result<Box<dyn Session>, String> {
    match t {
        Target::Ours {
            socket,
            volume,
            blocking,
        } => {
            let mut cfg = ClientConfig::new(socket, volume);
            cfg.name = "cnid-bench".into();
            if *blocking {
                Ok(Box::new(Ours::<BlockingConn>::connect(cfg, true)?))
            } else {
                Ok(Box::new(Ours::<AsyncConn>::connect(cfg, false)?))
            }
        }
        Target::Netatalk { addr, volume } => Ok(Box::new(NetatalkSession::connect(addr, volume)?)),
    }
}

/// Our client: the blocking transport is driven right here (its futures
/// never wait), the async one on a runtime of its own.
struct Ours<T: Transport> {
    rt: Option<tokio::runtime::Runtime>,
    client: Client<T>,
}

fn drive<F: std::future::Future>(rt: &Option<tokio::runtime::Runtime>, f: F) -> F::Output {
    match rt {
        Some(rt) => rt.block_on(f),
        None => common::cnid::complete(f),
    }
}

impl<T: Transport> Ours<T> {
    fn connect(cfg: ClientConfig, blocking: bool) -> Result<Self, String> {
        let rt = if blocking {
            None
        } else {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            Some(rt)
        };
        let client = text(drive(&rt, Client::<T>::connect(cfg)))?;
        Ok(Ours { rt, client })
    }
}

fn text<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

impl<T: Transport> Session for Ours<T> {
    fn ping(&mut self) -> Result<(), String> {
        text(drive(&self.rt, self.client.ping()))
    }
    fn stamp(&mut self) -> Result<(), String> {
        text(drive(&self.rt, self.client.stamp())).map(|_| ())
    }
    fn add(&mut self, e: &Entry) -> Result<Cnid, String> {
        text(drive(&self.rt, self.client.add(e, None)))
    }
    fn lookup(&mut self, e: &Entry) -> Result<Option<Cnid>, String> {
        text(drive(&self.rt, self.client.lookup(e, None)))
    }
    fn get(&mut self, e: &Entry) -> Result<Option<Cnid>, String> {
        text(drive(&self.rt, self.client.get(e.did, &e.name)))
    }
    fn resolve(&mut self, id: Cnid) -> Result<bool, String> {
        text(drive(&self.rt, self.client.resolve(id))).map(|r| r.is_some())
    }
}

/// A client of netatalk's cnid_metad/cnid_dbd, talking as afpd does (one
/// request at a time; Nagle off on our side).
struct NetatalkSession {
    s: std::net::TcpStream,
    buf: Vec<u8>,
}

impl NetatalkSession {
    fn connect(addr: &str, volume: &Path) -> Result<Self, String> {
        let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        netatalk::Handoff {
            configname: b"cnid-bench".to_vec(),
            volpath: volume.as_os_str().as_encoded_bytes().to_vec(),
            user: None,
        }
        .emit(&mut buf);
        s.write_all(&buf).map_err(|e| e.to_string())?;
        Ok(NetatalkSession { s, buf })
    }

    fn rpc(&mut self, r: netatalk::Request) -> Result<netatalk::Reply, String> {
        self.buf.clear();
        r.emit(&mut self.buf);
        text(self.s.write_all(&self.buf))?;
        let mut header = [0u8; netatalk::rep::LEN];
        text(self.s.read_exact(&mut header))?;
        let n = text(netatalk::Reply::payload_len(&header))?;
        self.buf.clear();
        self.buf.extend_from_slice(&header);
        self.buf.resize(netatalk::rep::LEN + n, 0);
        text(self.s.read_exact(&mut self.buf[netatalk::rep::LEN..]))?;
        let reply = text(netatalk::Reply::parse(&self.buf))?;
        match reply.result {
            netatalk::result::OK | netatalk::result::NOTFOUND => Ok(reply),
            other => Err(format!("netatalk answered result {other}")),
        }
    }

    fn entry_request(op: i32, e: &Entry) -> netatalk::Request {
        netatalk::Request {
            op,
            cnid: 0,
            dev: e.dev,
            ino: e.ino,
            kind: u32::from(e.kind == FileKind::Dir),
            did: e.did.0,
            name: e.name.as_bytes().to_vec(),
        }
    }

    fn found(r: netatalk::Reply) -> Option<Cnid> {
        (r.result == netatalk::result::OK).then_some(Cnid(r.cnid))
    }
}

impl Session for NetatalkSession {
    fn ping(&mut self) -> Result<(), String> {
        self.stamp()
    }
    fn stamp(&mut self) -> Result<(), String> {
        let r = self.rpc(netatalk::Request {
            op: netatalk::op::GETSTAMP,
            ..Default::default()
        })?;
        if r.payload.len() == 8 {
            Ok(())
        } else {
            Err("netatalk sent no stamp".into())
        }
    }
    fn add(&mut self, e: &Entry) -> Result<Cnid, String> {
        let r = self.rpc(Self::entry_request(netatalk::op::ADD, e))?;
        Self::found(r).ok_or_else(|| "netatalk did not add".to_string())
    }
    fn lookup(&mut self, e: &Entry) -> Result<Option<Cnid>, String> {
        let r = self.rpc(Self::entry_request(netatalk::op::LOOKUP, e))?;
        Ok(Self::found(r))
    }
    fn get(&mut self, e: &Entry) -> Result<Option<Cnid>, String> {
        let r = self.rpc(Self::entry_request(netatalk::op::GET, e))?;
        Ok(Self::found(r))
    }
    fn resolve(&mut self, id: Cnid) -> Result<bool, String> {
        let r = self.rpc(netatalk::Request {
            op: netatalk::op::RESOLVE,
            cnid: id.0,
            ..Default::default()
        })?;
        Ok(r.result == netatalk::result::OK)
    }
}

/// netatalk's cnid_metad and the cnid_dbds it starts, stopped on drop
/// (cnid_dbds first: netatalk's cnid_metad exits without stopping them).
struct NetatalkMetad {
    child: Child,
    addr: String,
}

impl NetatalkMetad {
    fn start(metad: &Path, conf: &Path, addr: &str) -> Result<Self, String> {
        let child = Command::new(metad)
            .arg("-d")
            .arg("-F")
            .arg(conf)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", metad.display()))?;
        let me = NetatalkMetad {
            child,
            addr: addr.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(format!("netatalk's cnid_metad does not listen on {addr}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(me)
    }

    /// Pids whose parent is netatalk's cnid_metad.
    fn children(&self) -> Vec<i32> {
        let me = self.child.id().to_string();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    s.rsplit(')')
                        .next()
                        .and_then(|r| r.split_whitespace().nth(1))
                        == Some(&me)
                })
            })
            .collect()
    }
}

impl Drop for NetatalkMetad {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let children = self.children();
        for pid in &children {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && children
                .iter()
                .any(|p| Path::new(&format!("/proc/{p}/exe")).exists())
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Runs `clients` threads of `n` requests each; returns requests per second
/// over the wall-clock time of the whole batch. Runs with the same `tag`
/// use the same entries: the adds come first in a run of their own, then
/// lookups and resolves find what was added.
fn measure(target: &Target, clients: usize, n: usize, op: Op, tag: &str) -> Result<f64, String> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let barrier = barrier.clone();
            let target = target.clone();
            let tag = tag.to_string();
            std::thread::spawn(move || -> Result<(), String> {
                let session = open(&target);
                let prepared = session.and_then(|mut s| {
                    // Resolve needs ids: collect them before the clock runs.
                    let mut ids = Vec::new();
                    if let Op::Resolve = op {
                        for i in 0..n {
                            let e = entry(c, i, &tag);
                            let id = s
                                .get(&e)?
                                .ok_or_else(|| format!("{} was not added", e.name))?;
                            ids.push(id);
                        }
                    }
                    Ok((s, ids))
                });
                barrier.wait();
                let (mut s, ids) = prepared?;
                for i in 0..n {
                    match op {
                        Op::Ping => s.ping()?,
                        Op::Stamp => s.stamp()?,
                        Op::Add => {
                            s.add(&entry(c, i, &tag))?;
                        }
                        Op::Lookup => {
                            if s.lookup(&entry(c, i, &tag))?.is_none() {
                                return Err("lookup missed an added entry".into());
                            }
                        }
                        Op::Resolve => {
                            if !s.resolve(*ids.get(i).ok_or("no id collected")?)? {
                                return Err("resolve missed an added id".into());
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join()
            .map_err(|_| "client thread panicked".to_string())??;
    }
    Ok((clients * n) as f64 / start.elapsed().as_secs_f64())
}

fn raw_loop(
    socket: &Path,
    clients: usize,
    n: usize,
    req: usize,
    rep: usize,
) -> Result<f64, String> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = barrier.clone();
            let socket = socket.to_path_buf();
            std::thread::spawn(move || -> Result<(), String> {
                let mut s = UnixStream::connect(&socket).map_err(|e| e.to_string())?;
                let out = vec![1u8; req];
                let mut back = vec![0u8; rep];
                barrier.wait();
                for _ in 0..n {
                    s.write_all(&out).map_err(|e| e.to_string())?;
                    s.read_exact(&mut back).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().map_err(|_| "raw client panicked".to_string())??;
    }
    Ok((clients * n) as f64 / start.elapsed().as_secs_f64())
}

/// `cnid __bench-raw-server SOCKET REQ_LEN REPLY_LEN`: answers every
/// REQ_LEN bytes with REPLY_LEN bytes, one blocking thread per connection.
pub fn raw_server_main(argv: &[OsString]) -> ExitCode {
    let (Some(path), Some(req), Some(rep)) = (
        argv.get(1),
        argv.get(2).and_then(|s| s.to_str()?.parse::<usize>().ok()),
        argv.get(3).and_then(|s| s.to_str()?.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: cnid {RAW_SERVER} SOCKET REQ_LEN REPLY_LEN");
        return ExitCode::from(2);
    };
    let _ = std::fs::remove_file(path);
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cnid: {}: {e}", Path::new(path).display());
            return ExitCode::from(2);
        }
    };
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        std::thread::spawn(move || {
            let mut buf = vec![0u8; req];
            let out = vec![2u8; rep];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&out).is_err() {
                    break;
                }
            }
        });
    }
    ExitCode::SUCCESS
}

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

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;
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
        "{:<24} {:>14} {:>22}",
        "",
        "1 client",
        format!("{clients} clients")
    );
    let n = args.requests;
    let raw = [1, clients].map(|c| raw_loop(&raw_socket, c, n, req_len, rep_len));
    let raw = [raw[0].clone()?, raw[1].clone()?];
    println!(
        "{:<24} {:>12.0}/s {:>20.0}/s",
        "raw socket (ceiling)", raw[0], raw[1]
    );

    let vol1 = &vols[1].1;
    let ping = [1, clients].map(|c| measure::<BlockingConn>(&socket, vol1, c, n, Op::Ping, "ping"));
    let ping = [ping[0].clone()?, ping[1].clone()?];
    row("ping (empty round trip)", &ping, Some(&raw));
    let ping = [1, clients].map(|c| measure::<AsyncConn>(&socket, vol1, c, n, Op::Ping, "ping"));
    let ping = [ping[0].clone()?, ping[1].clone()?];
    row("ping, async client", &ping, Some(&raw));

    for (nosync, vol) in &vols {
        let tag = if *nosync { "nosync 1" } else { "nosync 0" };
        for (op, label) in [
            (Op::Add, "add"),
            (Op::Lookup, "lookup"),
            (Op::Resolve, "resolve"),
        ] {
            let rates = [1, clients]
                .map(|c| measure::<BlockingConn>(&socket, vol, c, n, op, &format!("set{c}")));
            let rates = [rates[0].clone()?, rates[1].clone()?];
            row(&format!("{label} {tag}"), &rates, None);
        }
    }
    set_affinity(false)?;
    Ok(())
}

fn row(label: &str, rates: &[f64; 2], ceiling: Option<&[f64; 2]>) {
    match ceiling {
        Some(c) => println!(
            "{label:<24} {:>12.0}/s ({:>3.0}%) {:>12.0}/s ({:>3.0}%)",
            rates[0],
            100.0 * rates[0] / c[0],
            rates[1],
            100.0 * rates[1] / c[1]
        ),
        None => println!("{label:<24} {:>12.0}/s {:>20.0}/s", rates[0], rates[1]),
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
        dev: 1 + set,
        ino: ((client as u64) << 32) | i as u64,
        kind: FileKind::File,
        did: Cnid::ROOT,
        name: Name::new(format!("{tag}-c{client}-{i}")).expect("valid name"),
    }
}

/// Runs `clients` threads of `n` requests each; returns requests per second
/// over the wall-clock time of the whole batch. Runs with the same `tag`
/// use the same entries: the adds come first in a run of their own, then
/// lookups and resolves find what was added.
fn measure<T: Transport + 'static>(
    socket: &Path,
    volume: &Path,
    clients: usize,
    n: usize,
    op: Op,
    tag: &str,
) -> Result<f64, String> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let tag = tag.to_string();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let barrier = barrier.clone();
            let socket = socket.to_path_buf();
            let volume = volume.to_path_buf();
            let tag = tag.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let mut cfg = ClientConfig::new(socket, volume);
                    cfg.name = "cnid-bench".into();
                    let mut client = Client::<T>::connect(cfg).await.map_err(|e| e.to_string())?;
                    // Resolve needs ids: collect them before the clock runs.
                    let mut ids = Vec::new();
                    if let Op::Resolve = op {
                        for i in 0..n {
                            let e = entry(c, i, &tag);
                            match client
                                .get(e.did, &e.name)
                                .await
                                .map_err(|e| e.to_string())?
                            {
                                Some(id) => ids.push(id),
                                None => return Err(format!("{} was not added", e.name)),
                            }
                        }
                    }
                    barrier.wait();
                    for (i, id) in
                        (0..n).zip(ids.iter().copied().map(Some).chain(std::iter::repeat(None)))
                    {
                        match op {
                            Op::Ping => client.ping().await.map_err(|e| e.to_string())?,
                            Op::Add => {
                                client
                                    .add(&entry(c, i, &tag), None)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            Op::Lookup => {
                                if client
                                    .lookup(&entry(c, i, &tag), None)
                                    .await
                                    .map_err(|e| e.to_string())?
                                    .is_none()
                                {
                                    return Err("lookup missed an added entry".into());
                                }
                            }
                            Op::Resolve => {
                                if client
                                    .resolve(id.expect("collected"))
                                    .await
                                    .map_err(|e| e.to_string())?
                                    .is_none()
                                {
                                    return Err("resolve missed an added id".into());
                                }
                            }
                        }
                    }
                    Ok(())
                })
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

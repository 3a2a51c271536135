//! cnid_metad: the per-host CNID dispatcher. Clients connect to its Unix
//! socket and name a volume; it starts that volume's cnid_dbd if none runs
//! and hands the connection over (SCM_RIGHTS). It never answers a CNID
//! request itself.

mod slot;
mod volume;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::cnid::paths;
use common::cnid::proto::{
    ErrorKind, Hello, MAX_REPLY, MAX_REQUEST, PROTOCOL_VERSION, Reply, Request, WireError,
};
use common::cred::PeerCred;
use common::daemon::{DaemonSignal, LogConfig, Readiness, Signals, daemonize, init_logging};
use common::frame::{self, Framed};
use common::sockpath::{self, BindOptions};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::slot::{Config, Handoff};

const LOG: &str = "cnid_metad";
/// How long a client has to send its Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections being read or handed over at once.
const MAX_PENDING: usize = 256;
/// Hand-offs queued per volume while its cnid_dbd starts.
const QUEUE: usize = 64;

#[derive(Parser, Debug)]
#[command(
    name = "cnid_metad",
    version,
    about = "CNID dispatcher: starts one cnid_dbd per volume on demand and hands clients to it"
)]
struct Args {
    /// Stay in the foreground (netatalk's -d).
    #[arg(short = 'd', long = "foreground")]
    foreground: bool,
    /// The cnid_dbd executable (default: the one beside cnid_metad).
    #[arg(short = 's', value_name = "PATH")]
    dbd: Option<PathBuf>,
    /// The socket clients connect to (default: /run/cnid/metad.sock as root,
    /// $XDG_RUNTIME_DIR/cnid/metad.sock otherwise).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Keep every volume's database in a directory under DIR instead of
    /// <volume>/.AppleDB.
    #[arg(long, value_name = "DIR")]
    dbroot: Option<PathBuf>,
    /// Debug level as in Samba: 0 errors .. 2 info .. 5 trace.
    #[arg(long, default_value_t = 2, value_name = "N")]
    log_level: u8,
    /// Append the log (ours and every cnid_dbd's) to this file.
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// At most this many starts of one volume's cnid_dbd within the spawn
    /// window; further requests are refused with the reason.
    #[arg(long, default_value_t = 5, value_name = "N")]
    spawn_limit: usize,
    /// The spawn window in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    spawn_window: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut readiness = if args.foreground {
        Readiness::foreground()
    } else {
        match daemonize() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cnid_metad: cannot detach: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Err(e) = init_logging(&LogConfig {
        level: args.log_level,
        file: args.log_file.clone(),
        stdout: false,
    }) {
        let msg = format!(
            "cnid_metad: cannot open the log file {}: {e}",
            args.log_file
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        );
        eprintln!("{msg}");
        readiness.failed(&msg);
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let msg = format!("cnid_metad: cannot start the runtime: {e}");
            eprintln!("{msg}");
            readiness.failed(&msg);
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, run(args, &mut readiness)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::error!(target: LOG, "{msg}");
            eprintln!("cnid_metad: {msg}");
            readiness.failed(&msg);
            ExitCode::FAILURE
        }
    }
}

fn dbd_path(args: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &args.dbd {
        return Ok(p.clone());
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find our own executable: {e}"))?;
    Ok(exe.with_file_name("cnid_dbd"))
}

struct Server {
    cfg: Rc<Config>,
    slots: RefCell<HashMap<PathBuf, mpsc::Sender<Handoff>>>,
    shutdown: watch::Receiver<bool>,
    live_slots: Rc<std::cell::Cell<usize>>,
    slots_gone: Rc<tokio::sync::Notify>,
}

async fn run(args: Args, readiness: &mut Readiness) -> Result<(), String> {
    let dbd = dbd_path(&args)?;
    if !dbd.is_file() {
        return Err(format!(
            "cnid_dbd executable {} not found (use -s PATH)",
            dbd.display()
        ));
    }
    let socket = args
        .socket
        .clone()
        .unwrap_or_else(paths::default_metad_socket);
    if args.socket.is_none()
        && let Some(dir) = socket.parent()
    {
        let mode = if nix::unistd::geteuid().is_root() {
            0o755
        } else {
            0o700
        };
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        sockpath::ensure_dir(dir, mode).map_err(|e| e.to_string())?;
    }
    let (listener, _bound) = sockpath::bind(
        &socket,
        BindOptions {
            mode: 0o666,
            backlog: 128,
            lock: true,
        },
    )
    .map_err(|e| match e {
        sockpath::SockPathError::AlreadyRunning { pid, .. } => format!(
            "another cnid_metad{} is already listening on {}",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            socket.display()
        ),
        e => e.to_string(),
    })?;
    let listener = UnixListener::from_std(listener).map_err(|e| e.to_string())?;
    let mut signals = Signals::new().map_err(|e| format!("signal handlers: {e}"))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let server = Rc::new(Server {
        cfg: Rc::new(Config {
            dbd,
            dbroot: args.dbroot.clone(),
            log_level: args.log_level,
            log_file: args.log_file.clone(),
            spawn_limit: args.spawn_limit.max(1),
            spawn_window: Duration::from_secs(args.spawn_window),
        }),
        slots: RefCell::new(HashMap::new()),
        shutdown: stop_rx,
        live_slots: Rc::new(std::cell::Cell::new(0)),
        slots_gone: Rc::new(tokio::sync::Notify::new()),
    });
    tracing::info!(target: LOG, socket = %socket.display(), dbd = %server.cfg.dbd.display(), "listening");
    readiness.ready();

    let permits = Arc::new(Semaphore::new(MAX_PENDING));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("never closed"),
            sig = signals.recv() => match sig {
                Some(DaemonSignal::Reload) => {
                    tracing::info!(target: LOG, "SIGHUP: cnid_metad has no configuration file to reload");
                    continue;
                }
                _ => break,
            },
        };
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let server = server.clone();
                    tokio::task::spawn_local(async move {
                        server.accept(stream).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!(target: LOG, "accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            sig = signals.recv() => match sig {
                Some(DaemonSignal::Reload) => {
                    tracing::info!(target: LOG, "SIGHUP: cnid_metad has no configuration file to reload");
                }
                _ => break,
            },
        }
    }
    tracing::info!(target: LOG, "terminating: stopping every cnid_dbd");
    let _ = common::daemon::sd_notify("STOPPING=1");
    drop(listener);
    let _ = stop_tx.send(true);
    server.slots.borrow_mut().clear();
    while server.live_slots.get() > 0 {
        let gone = server.slots_gone.notified();
        if server.live_slots.get() == 0 {
            break;
        }
        gone.await;
    }
    tracing::info!(target: LOG, "stopped");
    Ok(())
}

impl Server {
    async fn accept(self: &Rc<Self>, mut stream: UnixStream) {
        let peer = match PeerCred::of(&stream) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(target: LOG, "cannot read peer credentials: {e}");
                return;
            }
        };
        let first = tokio::time::timeout(
            HELLO_TIMEOUT,
            frame::recv_exact::<Request, _>(&mut stream, MAX_REQUEST),
        )
        .await;
        let hello = match first {
            Err(_) => {
                tracing::warn!(target: LOG, %peer, "no hello within {} s; closing", HELLO_TIMEOUT.as_secs());
                return;
            }
            Ok(Ok(None)) => return,
            Ok(Ok(Some(Request::Hello(h)))) => h,
            Ok(Ok(Some(other))) => {
                let e = WireError::new(
                    ErrorKind::Protocol,
                    format!("{} sent before hello", other.name()),
                );
                return reject(stream, peer, e).await;
            }
            Ok(Err(e)) => {
                let e = WireError::new(ErrorKind::Protocol, format!("closing connection: {e}"));
                return reject(stream, peer, e).await;
            }
        };
        if let Err(e) = self.check(&hello) {
            return reject(stream, peer, e).await;
        }
        let volume = match volume::resolve(&hello.volume) {
            Ok(v) => v,
            Err(e) => return reject(stream, peer, e).await,
        };
        let tx = self.slot(&volume);
        let h = Handoff {
            hello,
            peer,
            stream,
        };
        if let Err(mpsc::error::SendError(h)) = tx.send(h).await {
            slot::refuse(
                h,
                WireError::new(ErrorKind::Refused, "cnid_metad is shutting down"),
            )
            .await;
        }
    }

    fn check(&self, hello: &Hello) -> Result<(), WireError> {
        Request::Hello(hello.clone()).check()?;
        if hello.version != PROTOCOL_VERSION {
            return Err(WireError::new(
                ErrorKind::Protocol,
                format!(
                    "client speaks CNID protocol version {}, cnid_metad speaks {PROTOCOL_VERSION}",
                    hello.version
                ),
            ));
        }
        if *self.shutdown.borrow() {
            return Err(WireError::new(
                ErrorKind::Refused,
                "cnid_metad is shutting down",
            ));
        }
        Ok(())
    }

    /// The task of `volume`, started on first use.
    fn slot(self: &Rc<Self>, volume: &std::path::Path) -> mpsc::Sender<Handoff> {
        if let Some(tx) = self.slots.borrow().get(volume) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let dbdir = paths::db_dir(volume, self.cfg.dbroot.as_deref());
        self.slots
            .borrow_mut()
            .insert(volume.to_owned(), tx.clone());
        let live = self.live_slots.clone();
        let gone = self.slots_gone.clone();
        live.set(live.get() + 1);
        let fut = slot::run(
            volume.to_owned(),
            dbdir,
            self.cfg.clone(),
            rx,
            self.shutdown.clone(),
        );
        tokio::task::spawn_local(async move {
            fut.await;
            live.set(live.get() - 1);
            gone.notify_waiters();
        });
        tx
    }
}

async fn reject(stream: UnixStream, peer: PeerCred, e: WireError) {
    tracing::info!(target: LOG, %peer, "refused: {}", e.message);
    let mut conn = Framed::new(stream, MAX_REQUEST, MAX_REPLY);
    let _ = conn.send(&Reply::Error(e)).await;
}

//! cnid_dbd: the CNID database daemon of one volume. cnid_metad starts it
//! with a control channel (fd passing) over which it hands client
//! connections; it also listens on its own socket (db_param usock_file).

mod access;
mod cmd;
mod db;
mod privs;
mod server;
mod store;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use common::cnid::proto::{ErrorKind, FromDbd, MAX_REPLY, MAX_REQUEST, ToDbd, WireError};
use common::codec;
use common::cred::PeerCred;
use common::daemon::{DaemonSignal, LogConfig, PidFile, PidFileError, Signals, init_logging};
use common::fdpass::FdChannel;
use common::frame::Framed;
use common::sockpath::{BindOptions, BoundSocket};
use tokio::net::UnixListener;

use crate::server::Volume;
use crate::store::{SledOptions, SledStore};

const LOG: &str = "cnid_dbd";
/// The lock (and pid) file in the database directory.
const LOCK_FILE: &str = "cnid_dbd.pid";
/// The database itself, in the database directory.
const DB_DIR: &str = "cnid.sled";
/// How long to wait for a previous cnid_dbd that is exiting.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);
/// How long in-flight requests get to finish on shutdown.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "cnid_dbd",
    version,
    about = "The CNID database daemon of one volume; cnid_metad starts it on demand"
)]
struct Args {
    /// Descriptor of the control channel from cnid_metad.
    #[arg(long, value_name = "FD")]
    control_fd: Option<i32>,
    /// The volume's root directory (absolute, canonical).
    #[arg(long)]
    volume: PathBuf,
    /// The volume's database directory.
    #[arg(long)]
    dbdir: PathBuf,
    /// Debug level as in Samba: 0 errors .. 2 info .. 5 trace.
    #[arg(long, default_value_t = 2)]
    log_level: u8,
    /// Append the log to this file instead of stderr.
    #[arg(long)]
    log_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut log = LogConfig {
        level: args.log_level,
        file: args.log_file.clone(),
        stdout: false,
    };
    if let Err(e) = init_logging(&log) {
        eprintln!("cnid_dbd: cannot open the log file ({e}); logging to stderr");
        log.file = None;
        let _ = init_logging(&log);
    }
    let Some(fd) = args.control_fd else {
        eprintln!("cnid_dbd: it is started by cnid_metad only (no --control-fd given)");
        return ExitCode::from(2);
    };
    // SAFETY: the descriptor is only borrowed for fstat, which fails
    // cleanly on a number that is not open.
    if fd < 3 || nix::sys::stat::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }).is_err()
    {
        eprintln!("cnid_dbd: --control-fd {fd} is not an open descriptor");
        return ExitCode::from(2);
    }
    // SAFETY: checked open above; cnid_metad passed it to us alone.
    let control = unsafe { OwnedFd::from_raw_fd(fd) };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cnid_dbd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    ExitCode::from(local.block_on(&rt, run(args, control)))
}

async fn run(args: Args, control: OwnedFd) -> u8 {
    let ctl = match FdChannel::new(control) {
        Ok(c) => Rc::new(c),
        Err(e) => {
            tracing::error!(target: LOG, "control channel: {e}");
            return 2;
        }
    };
    let started = match start(&args).await {
        Ok(s) => s,
        Err(error) => {
            tracing::error!(target: LOG, volume = %args.volume.display(), "cannot start: {}", error.message);
            let msg = codec::encode(&FromDbd::Failed { error }).unwrap_or_default();
            let _ = ctl.send(&msg, &[]).await;
            return 1;
        }
    };
    let Started {
        vol,
        listener,
        _socket,
        _lock,
    } = started;
    let ready = codec::encode(&FromDbd::Ready {
        pid: std::process::id(),
    })
    .expect("encodable");
    if ctl.send(&ready, &[]).await.is_err() {
        tracing::error!(target: LOG, "cnid_metad went away during start-up");
        return 1;
    }
    tracing::info!(target: LOG, volume = %vol.volume.display(), dbdir = %vol.dbdir.display(),
        usock = %vol.usock.display(), nosync = vol.params.nosync, "serving");

    let seen = Rc::new(std::cell::Cell::new(0u64));
    tokio::task::spawn_local(server::flusher(vol.clone()));
    {
        let ctl = ctl.clone();
        let seen = seen.clone();
        tokio::task::spawn_local(server::idle_watch(vol.clone(), move || {
            let ctl = ctl.clone();
            let msg = codec::encode(&FromDbd::IdleExit { seen: seen.get() }).expect("encodable");
            tokio::task::spawn_local(async move {
                let _ = ctl.send(&msg, &[]).await;
            });
        }));
    }
    tokio::task::spawn_local(accept_loop(vol.clone(), listener));
    tokio::task::spawn_local(control_loop(vol.clone(), ctl.clone(), seen));

    let mut signals = match Signals::new() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(target: LOG, "cannot install signal handlers: {e}");
            None
        }
    };
    let mut shutdown = vol.shutdown_rx();
    while vol.exit_code().is_none() {
        tokio::select! {
            sig = async { match signals.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => match sig {
                Some(DaemonSignal::Terminate) => {
                    tracing::info!(target: LOG, "terminating on signal");
                    vol.begin_shutdown(0);
                }
                Some(DaemonSignal::Reload) => {
                    tracing::info!(target: LOG, "SIGHUP: db_param is read at start-up; to apply changes stop this cnid_dbd (it is started again on the next request)");
                }
                None => signals = None,
            },
            _ = shutdown.changed() => {}
        }
    }
    if !vol.wait_clients_gone(DRAIN_LIMIT).await {
        tracing::warn!(target: LOG, "clients still busy after {} s; closing anyway", DRAIN_LIMIT.as_secs());
    }
    let code = vol.exit_code().unwrap_or(0);
    if code == 0 && !vol.sync_now() {
        return 1;
    }
    tracing::info!(target: LOG, volume = %vol.volume.display(), "database closed; exiting");
    code as u8
}

struct Started {
    vol: Rc<Volume>,
    listener: UnixListener,
    _socket: BoundSocket,
    _lock: PidFile,
}

async fn start(args: &Args) -> Result<Started, WireError> {
    let err = |kind, msg: String| WireError::new(kind, msg);
    let dbdir = &args.dbdir;
    let dir = privs::pin_dbdir(dbdir, &args.volume).map_err(|m| err(ErrorKind::Volume, m))?;
    privs::become_owner(&dir).map_err(|m| err(ErrorKind::Startup, m))?;
    let here = Path::new(".");

    let (params, warnings) = common::dbparam::load_shown(here, dbdir)
        .map_err(|e| err(ErrorKind::Startup, e.to_string()))?;
    for w in &warnings {
        tracing::warn!(target: LOG, "{w}");
    }

    let lock = PidFile::acquire_waiting(Path::new(LOCK_FILE), LOCK_PATIENCE)
        .await
        .map_err(|e| match e {
            PidFileError::Locked { pid, .. } => err(
                ErrorKind::Locked,
                format!(
                    "{} is in use by another cnid_dbd{}",
                    dbdir.display(),
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                ),
            ),
            e => err(ErrorKind::Startup, format!("{}: {e}", dbdir.display())),
        })?;

    let store = SledStore::open(
        Path::new(DB_DIR),
        &SledOptions {
            cache_bytes: params.cachesize * 1024,
            flush_every_ms: u64::from(params.flush_interval) * 1000,
        },
    )
    .map_err(|e| {
        err(
            ErrorKind::Startup,
            format!(
                "cannot open the database {}: {e}",
                dbdir.join(DB_DIR).display()
            ),
        )
    })?;
    let root = db::init(&store).map_err(|e| {
        err(
            ErrorKind::Startup,
            format!("database {}: {e}", dbdir.join(DB_DIR).display()),
        )
    })?;

    let usock_rel = params.usock_path(here);
    let usock_shown = params.usock_path(dbdir);
    let (listener, socket) = common::sockpath::bind(
        &usock_rel,
        BindOptions {
            mode: 0o660,
            backlog: params.backlog as i32,
            lock: false,
        },
    )
    .map_err(|e| {
        err(
            ErrorKind::Startup,
            format!("socket {}: {e}", usock_shown.display()),
        )
    })?;
    let listener = UnixListener::from_std(listener).map_err(|e| {
        err(
            ErrorKind::Startup,
            format!("socket {}: {e}", usock_shown.display()),
        )
    })?;

    let policy = access::Policy::new(dir.uid, &params);
    let vol = Volume::new(
        args.volume.clone(),
        dbdir.clone(),
        usock_shown,
        params,
        policy,
        store,
        root.stamp,
    );
    Ok(Started {
        vol,
        listener,
        _socket: socket,
        _lock: lock,
    })
}

async fn accept_loop(vol: Rc<Volume>, listener: UnixListener) {
    let mut shutdown = vol.shutdown_rx();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    tokio::task::spawn_local(server::accept_direct(vol.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!(target: LOG, "accept on {}: {e}", vol.usock.display());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn control_loop(vol: Rc<Volume>, ctl: Rc<FdChannel>, seen: Rc<std::cell::Cell<u64>>) {
    let mut shutdown = vol.shutdown_rx();
    loop {
        let msg = tokio::select! {
            m = ctl.recv() => m,
            _ = shutdown.changed() => return,
        };
        let (data, fds) = match msg {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::info!(target: LOG, "cnid_metad closed the control channel; exiting");
                vol.begin_shutdown(0);
                return;
            }
            Err(e) => {
                tracing::error!(target: LOG, "control channel: {e}; exiting");
                vol.begin_shutdown(0);
                return;
            }
        };
        match codec::decode::<ToDbd>(&data) {
            Ok(ToDbd::Client { hello, peer, seq }) => {
                seen.set(seq);
                let Some(fd) = fds.into_iter().next() else {
                    tracing::warn!(target: LOG, "hand-off without a descriptor; ignored");
                    continue;
                };
                let std_stream = std::os::unix::net::UnixStream::from(fd);
                let stream = match std_stream
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::UnixStream::from_std(std_stream))
                {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(target: LOG, "handed-off connection unusable: {e}");
                        continue;
                    }
                };
                let peer = PeerCred::of(&stream).unwrap_or(peer);
                let conn = Framed::new(stream, MAX_REQUEST, MAX_REPLY);
                tokio::task::spawn_local(server::serve_client(vol.clone(), conn, peer, hello));
            }
            Ok(ToDbd::ExitNow) => {
                tracing::info!(target: LOG, "idle timeout: exiting");
                vol.begin_shutdown(0);
                return;
            }
            Ok(ToDbd::Stay) => {
                tracing::debug!(target: LOG, "cnid_metad has hand-offs in flight; staying");
            }
            Err(e) => tracing::warn!(target: LOG, "bad control message ignored: {e}"),
        }
    }
}

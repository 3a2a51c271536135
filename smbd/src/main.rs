//! smbd: the SMB2/3 file server daemon.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::daemon::{ConfWatch, DaemonSignal, PidFile, Readiness, SambaArgs, Signals};
use common::smbconf;
use smbd::server::{self, Limits, Server};
use tokio::sync::Semaphore;

const LOG: &str = "smbd";
/// How long connections get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(name = "smbd", version, about = "SMB2/3 file server")]
struct Args {
    #[command(flatten)]
    samba: SambaArgs,
    /// Process model: `single` (every connection in one multi-threaded
    /// process).
    #[arg(
        short = 'M',
        long = "model",
        value_name = "MODEL",
        default_value = "single"
    )]
    model: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.model != "single" {
        eprintln!(
            "smbd: process model {:?} is not supported: share modes, locks and oplocks live in one process; use -M single",
            args.model
        );
        return ExitCode::from(2);
    }
    let conf = match args.samba.load("smbd") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut readiness = match args.samba.start("smbd", &conf.global) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Create masks apply as written, not narrowed by our umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let msg = format!("smbd: cannot start the runtime: {e}");
            readiness.failed(&msg);
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, conf, &mut readiness)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: LOG, "{e}");
            eprintln!("smbd: {e}");
            readiness.failed(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, conf: smbconf::SmbConf, readiness: &mut Readiness) -> Result<(), String> {
    let pid_path = conf.global.pid_directory.join("smbd.pid");
    let _pid = if conf.global.pid_directory.is_dir() {
        Some(PidFile::acquire(&pid_path).map_err(|e| e.to_string())?)
    } else {
        tracing::warn!(target: LOG, dir = %conf.global.pid_directory.display(), "pid directory missing; no pid file written");
        None
    };
    let addrs = server::listen_addrs(&conf)?;
    let listeners = server::bind(&addrs).await?;
    let limits = Limits::from_conf(&conf.global);
    let mut watch = ConfWatch::new(&conf);
    let server = Server::new(conf, limits);
    let mut signals = Signals::new().map_err(|e| format!("signal handlers: {e}"))?;
    tracing::info!(target: LOG, addresses = ?addrs, "listening");
    readiness.ready();

    let permits = Arc::new(Semaphore::new(server.limits.max_connections));
    for (listener, port) in listeners {
        let server = server.clone();
        let permits = permits.clone();
        let netbios = port == 139;
        tokio::spawn(async move {
            let mut shutdown = server.shutdown.subscribe();
            loop {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                    _ = shutdown.changed() => return,
                };
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = shutdown.changed() => return,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let server = server.clone();
                        tokio::spawn(async move {
                            server
                                .connections
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            smbd::conn::serve(server.clone(), stream, netbios).await;
                            server
                                .connections
                                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        tracing::warn!(target: LOG, "accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }

    loop {
        tokio::select! {
            sig = signals.recv() => match sig {
                Some(DaemonSignal::Reload) => reload(&args, &server, &mut watch, "SIGHUP"),
                _ => break,
            },
            () = watch.changed() => reload(&args, &server, &mut watch, "smb.conf changed"),
        }
    }
    tracing::info!(target: LOG, "terminating");
    let _ = common::daemon::sd_notify("STOPPING=1");
    let _ = server.shutdown.send(true);
    let deadline = tokio::time::Instant::now() + DRAIN;
    while server
        .connections
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn reload(args: &Args, server: &Server, watch: &mut ConfWatch, why: &str) {
    match args.samba.load("smbd") {
        Ok(conf) => {
            tracing::info!(target: LOG, "{why}: configuration reloaded (new tree connects use it)");
            watch.loaded(&conf);
            server.set_conf(conf);
        }
        Err(e) => {
            watch.failed();
            tracing::error!(target: LOG, "{why}: reload failed, keeping the old configuration: {e}")
        }
    }
}

//! nmbd: the NetBIOS name service daemon (UDP 137).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use common::daemon::{
    DaemonSignal, LogConfig, PidFile, Readiness, Signals, daemonize, init_logging,
};
use common::frame::Framed;
use common::smbconf;
use nmbd::names::{NameConfig, NameService, NameState, SubnetStatus};

const LOG: &str = "nmbd";
/// The status socket, in the lock directory.
const STATUS_SOCKET: &str = "nmbd.sock";
const MAX_FRAME: usize = 1 << 20;

#[derive(Parser, Debug)]
#[command(name = "nmbd", version, about = "NetBIOS name service")]
struct Args {
    /// Become a daemon (the default unless -F or -i).
    #[arg(short = 'D', long = "daemon")]
    daemon: bool,
    /// Stay in the foreground.
    #[arg(short = 'F', long = "foreground")]
    foreground: bool,
    /// Interactive: foreground, log to stdout.
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// The configuration file.
    #[arg(short = 's', long = "configfile", value_name = "FILE", default_value = smbconf::DEFAULT_PATH)]
    config: PathBuf,
    /// Debug level (0-10).
    #[arg(short = 'd', long = "debuglevel", value_name = "N")]
    debuglevel: Option<u8>,
    /// Log to stdout.
    #[arg(long = "debug-stdout")]
    debug_stdout: bool,
    /// Set a [global] parameter: --option='name=value' (repeatable).
    #[arg(long = "option", value_name = "name=value")]
    options: Vec<String>,
    /// Ask the running nmbd for its names per subnet, print them, exit.
    #[arg(long = "status")]
    status: bool,
}

fn load(args: &Args) -> Result<smbconf::SmbConf, String> {
    let (conf, warnings) = smbconf::load(&args.config, &args.options).map_err(|e| e.to_string())?;
    for w in warnings {
        tracing::warn!(target: LOG, "{w}");
        eprintln!("nmbd: {w}");
    }
    Ok(conf)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let conf = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nmbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.status {
        return status(&conf.global.lock_directory.join(STATUS_SOCKET));
    }
    let foreground = args.foreground || args.interactive;
    let mut readiness = if foreground {
        Readiness::foreground()
    } else {
        match daemonize() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("nmbd: cannot become a daemon: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let log = LogConfig {
        level: args.debuglevel.unwrap_or(conf.global.log_level.max(2)),
        file: if foreground || args.debug_stdout {
            None
        } else {
            conf.global.log_file.clone()
        },
        stdout: args.interactive || args.debug_stdout,
    };
    if let Err(e) = init_logging(&log) {
        let msg = format!("nmbd: cannot open the log: {e}");
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
            let msg = format!("nmbd: cannot start the runtime: {e}");
            readiness.failed(&msg);
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(conf, &mut readiness)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: LOG, "{e}");
            eprintln!("nmbd: {e}");
            readiness.failed(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(conf: smbconf::SmbConf, readiness: &mut Readiness) -> Result<(), String> {
    let g = &conf.global;
    let _pid = if g.pid_directory.is_dir() {
        Some(PidFile::acquire(&g.pid_directory.join("nmbd.pid")).map_err(|e| e.to_string())?)
    } else {
        tracing::warn!(target: LOG, dir = %g.pid_directory.display(), "pid directory missing; no pid file written");
        None
    };
    let (names, task) = NameService::start(NameConfig::from_conf(g))?;
    let sock_path = g.lock_directory.join(STATUS_SOCKET);
    let status_task = match bind_status(&sock_path) {
        Ok(l) => Some(tokio::spawn(serve_status(l, names.clone()))),
        Err(e) => {
            tracing::warn!(target: LOG, path = %sock_path.display(), "no status socket: {e}");
            None
        }
    };
    let mut signals = Signals::new().map_err(|e| format!("signal handlers: {e}"))?;
    tracing::info!(target: LOG, name = %g.netbios_name, workgroup = %g.workgroup, port = g.nbt_port, "nmbd started");
    readiness.ready();
    while let Some(DaemonSignal::Reload) = signals.recv().await {
        tracing::info!(target: LOG, "SIGHUP: interfaces are rescanned every 10 s; a name change needs a restart");
    }
    tracing::info!(target: LOG, "terminating: releasing our names");
    let _ = common::daemon::sd_notify("STOPPING=1");
    names.shutdown().await;
    let _ = task.await;
    if let Some(t) = status_task {
        t.abort();
        let _ = std::fs::remove_file(&sock_path);
    }
    Ok(())
}

fn bind_status(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let l = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

/// One request (unit) per connection; the answer is the status.
async fn serve_status(l: tokio::net::UnixListener, names: NameService) {
    loop {
        let Ok((stream, _)) = l.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let names = names.clone();
        tokio::spawn(async move {
            let mut f = Framed::new(stream, 64, MAX_FRAME);
            match f.recv::<u8>().await {
                Ok(Some(1)) => {
                    let st = names.status().await;
                    if let Err(e) = f.send(&st).await {
                        tracing::debug!(target: LOG, "status: {e}");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(target: LOG, "status socket: bad request: {e}"),
            }
        });
    }
}

fn status(path: &Path) -> ExitCode {
    let stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nmbd: cannot reach nmbd at {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let mut f = common::frame::BlockingFramed::new(stream, MAX_FRAME, 64);
    let st: Vec<SubnetStatus> = match f.send(&1u8).and_then(|()| f.recv()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("nmbd: no answer");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("nmbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    for s in st {
        println!("subnet {} (broadcast {})", s.ip, s.broadcast);
        for (name, kind, state) in s.names {
            let state = match state {
                NameState::Registering => "registering".to_string(),
                NameState::Registered => "registered".to_string(),
                NameState::Refused { by, rcode } => format!(
                    "NOT registered: refused by {by} ({})",
                    nmbd::wire::nbns::rcode::name(rcode)
                ),
            };
            println!(
                "\t{:<20} {:<6} {state}",
                name.to_string(),
                format!("{kind:?}").to_lowercase()
            );
        }
    }
    ExitCode::SUCCESS
}

//! nmbd: the NetBIOS name service daemon (UDP 137) and the browser
//! (UDP 138).

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use common::cred::PeerCred;
use common::daemon::{ConfWatch, DaemonSignal, PidFile, Readiness, SambaArgs, Signals};
use common::frame::Framed;
use common::smbconf::{self, Global};
use nmbd::browsing::BrowseService;
use nmbd::ipc::{
    BrowseListReply, ForceElectionReply, MAX_FRAME, MAX_REQUEST, Request, SOCKET as STATUS_SOCKET,
    SubnetReport, allowed,
};
use nmbd::names::{NameConfig, NameService, NameState};
use nmbd::reload::Plan;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const LOG: &str = "nmbd";

#[derive(Parser, Debug)]
#[command(name = "nmbd", version, about = "NetBIOS name service")]
struct Args {
    #[command(flatten)]
    samba: SambaArgs,
    /// Ask the running nmbd for its names and browser state per subnet,
    /// print them, exit.
    #[arg(long = "status")]
    status: bool,
    /// Make the running nmbd start a browser election on every subnet
    /// (Samba's `smbcontrol nmbd force-election`), exit.
    #[arg(long = "force-election")]
    force_election: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let conf = match args.samba.load("nmbd") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nmbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.status {
        return status(&conf.global.lock_directory.join(STATUS_SOCKET));
    }
    if args.force_election {
        return force_election(&conf.global.lock_directory.join(STATUS_SOCKET));
    }
    if conf.global.disable_netbios {
        // As Samba's nmbd: nothing to serve.
        eprintln!(
            "nmbd: disable netbios = yes in {}: not starting",
            args.samba.config.display()
        );
        return ExitCode::SUCCESS;
    }
    let mut readiness = match args.samba.start("nmbd", &conf.global) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
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
    match rt.block_on(run(&args, conf, &mut readiness)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: LOG, "{e}");
            eprintln!("nmbd: {e}");
            readiness.failed(&e);
            ExitCode::FAILURE
        }
    }
}

/// The name service and the browser, started together from one
/// configuration.
struct Services {
    names: NameService,
    browse: BrowseService,
    names_task: JoinHandle<()>,
    browse_task: JoinHandle<()>,
}

/// The services the status socket talks to: the ones running now (a
/// reload may have replaced them).
#[derive(Clone)]
struct Handles {
    names: NameService,
    browse: BrowseService,
}

impl Services {
    fn start(g: &Global) -> Result<Services, String> {
        let (names, names_task) = NameService::start(NameConfig::from_conf(g))?;
        let (browse, browse_task) = BrowseService::start(g, names.clone());
        Ok(Services {
            names,
            browse,
            names_task,
            browse_task,
        })
    }

    fn handles(&self) -> Handles {
        Handles {
            names: self.names.clone(),
            browse: self.browse.clone(),
        }
    }

    /// The browser first: a master's election frame goes out while its
    /// names are still ours; then our names are released.
    async fn stop(self) {
        self.browse.shutdown().await;
        let _ = self.browse_task.await;
        self.names.shutdown().await;
        let _ = self.names_task.await;
        // The socket readers were aborted; let them close their sockets
        // before new ones are bound to the same ports.
        tokio::task::yield_now().await;
    }
}

async fn run(args: &Args, conf: smbconf::SmbConf, readiness: &mut Readiness) -> Result<(), String> {
    let mut conf = conf;
    let g = &conf.global;
    let _pid = if g.pid_directory.is_dir() {
        Some(PidFile::acquire(&g.pid_directory.join("nmbd.pid")).map_err(|e| e.to_string())?)
    } else {
        tracing::warn!(target: LOG, dir = %g.pid_directory.display(), "pid directory missing; no pid file written");
        None
    };
    let mut services = Services::start(g)?;
    let (handles, handles_rx) = watch::channel(services.handles());
    let sock_path = g.lock_directory.join(STATUS_SOCKET);
    let status_task = match bind_status(&sock_path) {
        Ok(l) => Some(tokio::spawn(serve_status(l, handles_rx))),
        Err(e) => {
            tracing::warn!(target: LOG, path = %sock_path.display(), "no status socket: {e}");
            None
        }
    };
    let mut signals = Signals::new().map_err(|e| format!("signal handlers: {e}"))?;
    let mut conf_watch = ConfWatch::new(&conf);
    tracing::info!(target: LOG, name = %g.netbios_name, workgroup = %g.workgroup, port = g.nbt_port, "nmbd started");
    readiness.ready();
    loop {
        let why = tokio::select! {
            sig = signals.recv() => match sig {
                Some(DaemonSignal::Reload) => "SIGHUP",
                _ => break,
            },
            () = conf_watch.changed() => "smb.conf changed",
        };
        let new = match args.samba.load("nmbd") {
            Ok(c) => c,
            Err(e) => {
                conf_watch.failed();
                tracing::error!(target: LOG, "{why}: reload failed, keeping the old configuration: {e}");
                continue;
            }
        };
        conf_watch.loaded(&new);
        if new.global.disable_netbios {
            // As Samba's nmbd, which does not run with it.
            tracing::info!(target: LOG, "smb.conf reloaded ({why}): disable netbios = yes: releasing our names and stopping");
            break;
        }
        let plan = Plan::between(&conf.global, &new.global);
        tracing::info!(target: LOG, "smb.conf reloaded ({why}): {plan}");
        if plan.restart() {
            services.stop().await;
            match Services::start(&new.global) {
                Ok(s) => {
                    services = s;
                    tracing::info!(target: LOG, name = %new.global.netbios_name, workgroup = %new.global.workgroup, port = new.global.nbt_port, "{} changed: names released, registering the new ones", plan.restart_params());
                }
                Err(e) => {
                    tracing::error!(target: LOG, "cannot start with the new configuration, going on with the old one: {e}");
                    services = Services::start(&conf.global)?;
                    handles.send_replace(services.handles());
                    continue;
                }
            }
            handles.send_replace(services.handles());
        } else if plan.live() {
            services.browse.reconfigure(&new.global).await;
        }
        conf = new;
    }
    tracing::info!(target: LOG, "terminating: releasing our names");
    let _ = common::daemon::sd_notify("STOPPING=1");
    services.stop().await;
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

/// One [`Request`] per connection (see `nmbd::ipc`), answered by the
/// services running when it arrives (a reload may have replaced them);
/// requests that change state only from root and our own uid
/// (SO_PEERCRED).
async fn serve_status(l: tokio::net::UnixListener, handles: watch::Receiver<Handles>) {
    let own_uid = nix::unistd::geteuid().as_raw();
    loop {
        let Ok((stream, _)) = l.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let peer = match PeerCred::of(&stream) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(target: LOG, "status socket: cannot read peer credentials: {e}");
                continue;
            }
        };
        let handles = handles.clone();
        tokio::spawn(async move {
            let mut f = Framed::new(stream, MAX_REQUEST, MAX_FRAME);
            let req = f.recv::<Request>().await;
            // The services running when the request came.
            let Handles { names, browse } = handles.borrow().clone();
            if let Ok(Some(r)) = req
                && !allowed(r, peer.uid, own_uid)
            {
                tracing::warn!(target: LOG, uid = peer.uid, pid = peer.pid, "status socket: refused {r:?} from uid {} (pid {}): only root and uid {own_uid} may", peer.uid, peer.pid);
                let sent = match r {
                    Request::ForceElection => {
                        f.send(&ForceElectionReply::Refused { uid: peer.uid }).await
                    }
                    Request::Status | Request::BrowseList | Request::WinsDatabase => Ok(()),
                };
                if let Err(e) = sent {
                    tracing::debug!(target: LOG, "status socket: {e}");
                }
                return;
            }
            let sent = match req {
                Ok(Some(Request::Status)) => {
                    let st = names.status().await;
                    let mut br = browse.status().await;
                    let v: Vec<SubnetReport> = st
                        .into_iter()
                        .map(|n| {
                            let browser = br
                                .iter()
                                .position(|b| b.subnet == n.ip)
                                .map(|i| br.swap_remove(i));
                            SubnetReport { names: n, browser }
                        })
                        .collect();
                    f.send(&v).await
                }
                Ok(Some(Request::ForceElection)) => {
                    let started = browse.force_election().await;
                    tracing::info!(target: LOG, %peer, "status socket: election forced on {started} subnet(s)");
                    f.send(&ForceElectionReply::Started(started)).await
                }
                Ok(Some(Request::BrowseList)) => {
                    let subnets = browse.browse_list().await;
                    f.send(&BrowseListReply { subnets }).await
                }
                Ok(Some(Request::WinsDatabase)) => f.send(&names.wins_database().await).await,
                Ok(None) => Ok(()),
                Err(e) => {
                    tracing::warn!(target: LOG, %peer, "status socket: bad request: {e}");
                    Ok(())
                }
            };
            if let Err(e) = sent {
                tracing::debug!(target: LOG, "status socket: {e}");
            }
        });
    }
}

/// Sends one request to the running nmbd; its answer.
fn ask<T: serde::de::DeserializeOwned>(path: &Path, req: Request) -> Result<T, String> {
    let stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| format!("cannot reach nmbd at {}: {e}", path.display()))?;
    let mut f = common::frame::BlockingFramed::new(stream, MAX_FRAME, MAX_REQUEST);
    match f.send(&req).and_then(|()| f.recv()) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err("no answer".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn force_election(path: &Path) -> ExitCode {
    match ask::<ForceElectionReply>(path, Request::ForceElection) {
        Ok(ForceElectionReply::Started(n)) => {
            println!("election started on {n} subnet(s)");
            ExitCode::SUCCESS
        }
        Ok(ForceElectionReply::Refused { uid }) => {
            eprintln!(
                "nmbd: refused: uid {uid} may not force an election (only root and the uid nmbd runs as)"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("nmbd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The WINS database, one line per name and address.
fn print_wins(db: &nmbd::wins::db::Database) {
    let now = nmbd::wins::service::unix_now();
    println!(
        "WINS server: {} names (version {})",
        db.records.len(),
        db.version
    );
    for (name, r) in &db.records {
        let expires = match r.expires {
            None => "never (ours)".to_string(),
            Some(e) => left(e.saturating_sub(now).saturating_mul(1000)),
        };
        let addrs: Vec<String> = r.addrs.iter().map(|(_, a)| a.to_string()).collect();
        println!(
            "\t{:<20} {:<6} {:<32} version {:<6} expires {expires}",
            name.to_string(),
            format!("{:?}", r.kind).to_lowercase(),
            addrs.join(","),
            r.version
        );
    }
}

/// "12m30s" for a lifetime left in milliseconds.
fn left(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}m{:02}s", s / 60, s % 60)
}

fn status(path: &Path) -> ExitCode {
    let st: Vec<SubnetReport> = match ask(path, Request::Status) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nmbd: {e}");
            return ExitCode::FAILURE;
        }
    };
    for SubnetReport { names: s, browser } in st {
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
        let Some(b) = browser else {
            println!("\tbrowser: not started (workgroup<1e> not registered yet)");
            continue;
        };
        println!("\tbrowser for {}: {}", b.workgroup, b.role);
        if b.election_running {
            println!("\telection running");
        }
        match &b.master {
            Some(m) => println!(
                "\tlocal master: {} ({})",
                m.name.as_deref().unwrap_or("?"),
                m.address
            ),
            None => println!("\tlocal master: unknown"),
        }
        let peer = |m: &nmbd::browsing::MasterInfo| {
            format!("{} ({})", m.name.as_deref().unwrap_or("?"), m.address)
        };
        if let Some(m) = &b.domain_master {
            println!("\tdomain master: {}", peer(m));
        }
        for m in &b.local_masters {
            println!("\tlocal master of another subnet: {}", peer(m));
        }
        let from =
            |f: &Option<String>| f.as_ref().map_or(String::new(), |f| format!(" (from {f})"));
        println!("\tservers:");
        for (srv, ms) in &b.servers {
            println!(
                "\t\t{:<16} {:08x} {:<15} expires {} \"{}\"{}",
                srv.name,
                srv.server_type,
                srv.address.to_string(),
                ms.map_or_else(|| "never (us)".to_string(), left),
                srv.comment,
                from(&srv.synced_from)
            );
        }
        println!("\tworkgroups:");
        for (w, ms) in &b.workgroups {
            println!(
                "\t\t{:<16} master {:<16} {:<15} expires {}{}",
                w.name,
                w.master,
                w.address.to_string(),
                left(*ms),
                from(&w.synced_from)
            );
        }
    }
    match ask::<Option<nmbd::wins::db::Database>>(path, Request::WinsDatabase) {
        Ok(Some(db)) => print_wins(&db),
        Ok(None) => {}
        Err(e) => {
            eprintln!("nmbd: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

//! One task per volume: it starts the volume's cnid_dbd when a client needs
//! it, hands client connections to it, notices when it dies (and starts a
//! new one on the next request, within a rate limit), and lets it go when it
//! has been idle.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::cnid::proto::{
    ErrorKind, FromDbd, Hello, MAX_REPLY, MAX_REQUEST, Reply, ToDbd, WireError,
};
use common::codec;
use common::cred::PeerCred;
use common::fdpass::{self, FdChannel, FdPassError, Message};
use common::frame::Framed;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use crate::volume;

const LOG: &str = "cnid_metad";
/// How long a new cnid_dbd may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a cnid_dbd gets to exit after SIGTERM (or after it asked to).
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings shared by every slot.
pub struct Config {
    pub dbd: PathBuf,
    pub dbroot: Option<PathBuf>,
    pub log_level: u8,
    pub log_file: Option<PathBuf>,
    /// At most this many starts of one volume's cnid_dbd ...
    pub spawn_limit: usize,
    /// ... within this window.
    pub spawn_window: Duration,
}

/// A client connection waiting to be handed to the volume's cnid_dbd.
pub struct Handoff {
    pub hello: Hello,
    pub peer: PeerCred,
    pub stream: UnixStream,
}

struct Running {
    pid: u32,
    process: tokio::process::Child,
    ctl: FdChannel,
    /// Hand-offs sent so far.
    seq: u64,
}

enum ChildEvent {
    Ctl(Result<Option<Message>, FdPassError>),
    Exited(std::io::Result<ExitStatus>),
}

/// The volume's task; ends when `rx` closes or on shutdown.
pub async fn run(
    volume: PathBuf,
    dbdir: PathBuf,
    cfg: Rc<Config>,
    mut rx: mpsc::Receiver<Handoff>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut slot = Slot {
        volume,
        dbdir,
        cfg,
        child: None,
        starts: VecDeque::new(),
        last_failure: None,
    };
    loop {
        tokio::select! {
            h = rx.recv() => match h {
                Some(h) => slot.hand_off(h).await,
                None => break,
            },
            ev = next_event(&mut slot.child) => slot.child_event(ev).await,
            _ = shutdown.changed() => break,
        }
    }
    slot.stop().await;
}

async fn next_event(child: &mut Option<Running>) -> ChildEvent {
    match child {
        None => std::future::pending().await,
        Some(r) => tokio::select! {
            m = r.ctl.recv() => ChildEvent::Ctl(m),
            s = r.process.wait() => ChildEvent::Exited(s),
        },
    }
}

fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!(
            "killed by signal {s} ({})",
            nix::sys::signal::Signal::try_from(s)
                .map(|s| s.as_str())
                .unwrap_or("?")
        ),
        _ => status.to_string(),
    }
}

struct Slot {
    volume: PathBuf,
    dbdir: PathBuf,
    cfg: Rc<Config>,
    child: Option<Running>,
    starts: VecDeque<Instant>,
    last_failure: Option<String>,
}

impl Slot {
    async fn hand_off(&mut self, h: Handoff) {
        // Two tries: a cnid_dbd can die between our last look and the send.
        for _ in 0..2 {
            if self.child.is_none()
                && let Err(e) = self.start(&h.peer).await
            {
                refuse(h, e).await;
                return;
            }
            let running = self.child.as_mut().expect("started");
            running.seq += 1;
            let msg = ToDbd::Client {
                hello: h.hello.clone(),
                peer: h.peer,
                seq: running.seq,
            };
            let bytes = codec::encode(&msg).expect("encodable");
            match running.ctl.send(&bytes, &[h.stream.as_raw_fd()]).await {
                Ok(()) => {
                    tracing::debug!(target: LOG, volume = %self.volume.display(), peer = %h.peer,
                        dbd = running.pid, "handed connection to cnid_dbd");
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: LOG, volume = %self.volume.display(), dbd = running.pid,
                        "cnid_dbd unreachable ({e}); starting another");
                    self.retire("unreachable").await;
                }
            }
        }
        refuse(
            h,
            WireError::new(
                ErrorKind::Refused,
                "cnid_dbd keeps failing; see cnid_metad's log",
            ),
        )
        .await;
    }

    /// Starts the volume's cnid_dbd and waits until it is ready.
    async fn start(&mut self, peer: &PeerCred) -> Result<(), WireError> {
        let now = Instant::now();
        let window = self.cfg.spawn_window;
        while self
            .starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.starts.pop_front();
        }
        if self.starts.len() >= self.cfg.spawn_limit {
            let wait = window.saturating_sub(now.duration_since(self.starts[0]));
            let msg = format!(
                "cnid_dbd for {} was started {} times in the last {} s{}; not starting it again for {} s",
                self.volume.display(),
                self.starts.len(),
                window.as_secs(),
                self.last_failure
                    .as_ref()
                    .map(|f| format!(" (last: {f})"))
                    .unwrap_or_default(),
                wait.as_secs().max(1)
            );
            tracing::warn!(target: LOG, volume = %self.volume.display(), "{msg}");
            return Err(WireError::new(ErrorKind::Refused, msg));
        }
        volume::prepare_dbdir(&self.volume, &self.dbdir, self.cfg.dbroot.as_deref(), peer)?;
        self.starts.push_back(now);

        let (ours, theirs) = fdpass::pair().map_err(|e| startup(format!("socketpair: {e}")))?;
        let mut process = self.spawn(theirs)?;
        let pid = process.id().unwrap_or(0);
        let ctl = FdChannel::new(ours).map_err(|e| startup(format!("control channel: {e}")))?;
        let first = tokio::time::timeout(START_TIMEOUT, ctl.recv()).await;
        let failure = match first {
            Ok(Ok(Some((data, _)))) => match codec::decode::<FromDbd>(&data) {
                Ok(FromDbd::Ready { .. }) => {
                    tracing::info!(target: LOG, volume = %self.volume.display(), pid, "started cnid_dbd");
                    self.child = Some(Running {
                        pid,
                        process,
                        ctl,
                        seq: 0,
                    });
                    return Ok(());
                }
                Ok(FromDbd::Failed { error }) => error,
                Ok(other) => startup(format!("cnid_dbd said {other:?} instead of ready")),
                Err(e) => startup(format!("cnid_dbd sent garbage: {e}")),
            },
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = tokio::time::timeout(EXIT_TIMEOUT, process.wait()).await;
                let how = match status {
                    Ok(Ok(s)) => describe(&s),
                    _ => "no status".into(),
                };
                startup(format!(
                    "cnid_dbd exited during start-up ({how}); see its log"
                ))
            }
            Err(_) => startup(format!(
                "cnid_dbd did not become ready within {} s",
                START_TIMEOUT.as_secs()
            )),
        };
        tracing::error!(target: LOG, volume = %self.volume.display(), pid, "cnid_dbd failed to start: {}", failure.message);
        self.last_failure = Some(failure.message.clone());
        terminate(&mut process, pid).await;
        Err(failure)
    }

    fn spawn(&self, control: OwnedFd) -> Result<tokio::process::Child, WireError> {
        let mut cmd = tokio::process::Command::new(&self.cfg.dbd);
        cmd.arg("--control-fd")
            .arg("3")
            .arg("--volume")
            .arg(&self.volume)
            .arg("--dbdir")
            .arg(&self.dbdir)
            .arg("--log-level")
            .arg(self.cfg.log_level.to_string());
        if let Some(f) = &self.cfg.log_file {
            cmd.arg("--log-file").arg(f);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(false);
        let raw = control.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if raw == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| startup(format!("cannot run {}: {e}", self.cfg.dbd.display())))?;
        drop(control);
        Ok(child)
    }

    async fn child_event(&mut self, ev: ChildEvent) {
        let Some(running) = self.child.as_mut() else {
            return;
        };
        let pid = running.pid;
        match ev {
            ChildEvent::Ctl(Ok(Some((data, _)))) => match codec::decode::<FromDbd>(&data) {
                Ok(FromDbd::IdleExit { seen }) if seen == running.seq => {
                    let bytes = codec::encode(&ToDbd::ExitNow).expect("encodable");
                    let _ = running.ctl.send(&bytes, &[]).await;
                    tracing::info!(target: LOG, volume = %self.volume.display(), pid, "cnid_dbd idle; letting it exit");
                    self.retire("idle").await;
                }
                Ok(FromDbd::IdleExit { .. }) => {
                    let bytes = codec::encode(&ToDbd::Stay).expect("encodable");
                    let _ = running.ctl.send(&bytes, &[]).await;
                }
                Ok(other) => {
                    tracing::warn!(target: LOG, pid, "unexpected message from cnid_dbd: {other:?}")
                }
                Err(e) => tracing::warn!(target: LOG, pid, "bad message from cnid_dbd: {e}"),
            },
            ChildEvent::Ctl(_) => self.retire("closed its control channel").await,
            ChildEvent::Exited(status) => {
                self.child = None;
                self.ended(pid, &status);
            }
        }
    }

    /// Logs how a cnid_dbd ended; an abnormal end is remembered as the
    /// reason given to clients refused by the restart limit.
    fn ended(&mut self, pid: u32, status: &std::io::Result<ExitStatus>) {
        let how = match status {
            Ok(s) => describe(s),
            Err(e) => e.to_string(),
        };
        if status.as_ref().is_ok_and(|s| s.success()) {
            tracing::info!(target: LOG, volume = %self.volume.display(), pid, "cnid_dbd exited ({how})");
        } else {
            tracing::warn!(target: LOG, volume = %self.volume.display(), pid,
                "cnid_dbd died ({how}); it will be started again on the next request");
            self.last_failure = Some(format!("cnid_dbd pid {pid} {how}"));
        }
    }

    /// Forgets the current cnid_dbd after waiting for it to exit (it holds
    /// the database lock its successor needs).
    async fn retire(&mut self, why: &str) {
        let Some(mut r) = self.child.take() else {
            return;
        };
        tracing::debug!(target: LOG, pid = r.pid, "retiring cnid_dbd: {why}");
        match tokio::time::timeout(EXIT_TIMEOUT, r.process.wait()).await {
            Ok(status) => self.ended(r.pid, &status),
            Err(_) => terminate(&mut r.process, r.pid).await,
        }
    }

    /// SIGTERM the cnid_dbd and wait for it.
    async fn stop(&mut self) {
        if let Some(mut r) = self.child.take() {
            terminate(&mut r.process, r.pid).await;
            tracing::info!(target: LOG, volume = %self.volume.display(), pid = r.pid, "cnid_dbd stopped");
        }
    }
}

fn startup(msg: String) -> WireError {
    WireError::new(ErrorKind::Startup, msg)
}

/// SIGTERM, then SIGKILL if it does not exit in time; reaps it.
async fn terminate(process: &mut tokio::process::Child, pid: u32) {
    if let Ok(Some(_)) = process.try_wait() {
        return;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    if tokio::time::timeout(EXIT_TIMEOUT, process.wait())
        .await
        .is_err()
    {
        tracing::warn!(target: LOG, pid, "cnid_dbd ignored SIGTERM for {} s; killing it", EXIT_TIMEOUT.as_secs());
        let _ = process.kill().await;
    }
}

/// Tells a client why it cannot be served, then closes its connection.
pub async fn refuse(h: Handoff, error: WireError) {
    tracing::info!(target: LOG, peer = %h.peer, client = %h.hello.client,
        volume = %String::from_utf8_lossy(h.hello.volume.as_slice()), "refused: {}", error.message);
    let mut conn = Framed::new(h.stream, MAX_REQUEST, MAX_REPLY);
    let _ = conn.send(&Reply::Error(error)).await;
}

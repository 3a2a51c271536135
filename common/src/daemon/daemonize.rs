//! Detaching from the terminal (`-D`), with the start-up result reported
//! back to the command that started us: the parent waits until the daemon
//! says it is ready (exit 0) or why it could not start (message, exit 1).

use std::fs::File;
use std::io::{Read, Write};

use nix::unistd::{ForkResult, fork, setsid};

use super::notify::sd_notify;

/// Tells whoever waits for our start-up (a `-D` parent, systemd) the outcome.
#[derive(Debug, Default)]
pub struct Readiness {
    pipe: Option<File>,
}

impl Readiness {
    /// For a daemon that stays in the foreground.
    pub fn foreground() -> Readiness {
        Readiness { pipe: None }
    }

    pub fn ready(&mut self) {
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(b"OK");
        }
        let _ = sd_notify("READY=1");
    }

    pub fn failed(&mut self, why: &str) {
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(format!("ERR{why}").as_bytes());
        }
    }
}

/// Forks twice and detaches. Returns in the daemon; the original process
/// waits for [`Readiness`] and exits. Must be called before any thread is
/// started (before the async runtime).
pub fn daemonize() -> std::io::Result<Readiness> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: no other thread exists yet (documented precondition).
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => {
            drop(wr);
            let mut msg = String::new();
            let _ = File::from(rd).read_to_string(&mut msg);
            if msg.starts_with("OK") {
                std::process::exit(0);
            }
            match msg.strip_prefix("ERR") {
                Some(why) => eprintln!("{why}"),
                None => eprintln!("the daemon exited during start-up (see its log)"),
            }
            std::process::exit(1);
        }
        ForkResult::Child => {}
    }
    drop(rd);
    setsid()?;
    // SAFETY: still single-threaded.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    Ok(Readiness {
        pipe: Some(File::from(wr)),
    })
}

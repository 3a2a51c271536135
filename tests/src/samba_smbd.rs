//! Samba's own smbd (Debian package samba) on 127.0.0.1 at a free high
//! port, as a peer for our clients: its own smb.conf and directories
//! under the test's scratch directory, stopped on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, signal, wait_for};

/// Where Debian installs it.
pub const SAMBA_SMBD: &str = "/usr/sbin/smbd";

pub struct SambaSmbd {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
}

impl SambaSmbd {
    /// Starts Samba's smbd with `netbios name = name`, `workgroup =
    /// workgroup`, the `global_extra` lines, and `browse_dat` as the
    /// server list it answers NetServerEnum from (browse.dat in its cache
    /// directory, one `"NAME" TYPE "COMMENT" "WORKGROUP"` line per entry,
    /// as nmbd writes it). Fails the test, saying how to install it, when
    /// smbd is missing.
    pub fn start(
        dir: &Path,
        name: &str,
        workgroup: &str,
        global_extra: &str,
        browse_dat: &str,
    ) -> SambaSmbd {
        assert!(
            Path::new(SAMBA_SMBD).is_file(),
            "Samba's smbd ({SAMBA_SMBD}) is missing: install the Debian package samba (./test does, as root)"
        );
        for d in ["state", "cache", "lock", "private", "run", "ncalrpc"] {
            std::fs::create_dir_all(dir.join(d)).expect("create a directory");
        }
        std::fs::set_permissions(dir.join("private"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod private");
        std::fs::write(dir.join("cache").join("browse.dat"), browse_dat).expect("write browse.dat");
        let conf = dir.join("smb.conf");
        let log = dir.join("smbd.log");
        let d = dir.display();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            std::fs::write(
                &conf,
                format!(
                    "[global]\n  workgroup = {workgroup}\n  netbios name = {name}\n  smb ports = {port}\n  interfaces = lo\n  bind interfaces only = yes\n  disable netbios = yes\n  state directory = {d}/state\n  cache directory = {d}/cache\n  lock directory = {d}/lock\n  private dir = {d}/private\n  pid directory = {d}/run\n  ncalrpc dir = {d}/ncalrpc\n  map to guest = bad user\n{global_extra}\n"
                ),
            )
            .expect("write smb.conf");
            let child = Command::new(SAMBA_SMBD)
                .args(["-F", "--debug-stdout", "-d", "3", "-s"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("create the log"))
                .stderr(Stdio::null())
                .spawn()
                .expect("start Samba's smbd");
            let mut s = SambaSmbd {
                child: Some(child),
                port,
                dir: dir.to_path_buf(),
                conf: conf.clone(),
                log: log.clone(),
            };
            // Up when it says so, not when the port answers: another
            // test's smbd may have won the port, and it would answer.
            let up = wait_for(Duration::from_secs(20), || {
                if let Ok(Some(_)) = s.child.as_mut().expect("running").try_wait() {
                    return Some(false);
                }
                s.log_text()
                    .contains("waiting for connections")
                    .then_some(true)
            });
            let text = s.log_text();
            match up {
                Some(true) => return s,
                Some(false) if attempt < 5 && text.contains("in use") => {
                    s.child = None;
                    continue;
                }
                _ => panic!("Samba's smbd does not listen on {port}:\n{text}"),
            }
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, nix::sys::signal::Signal::SIGTERM);
            let exited = wait_for(Duration::from_secs(10), || c.try_wait().ok().flatten());
            if exited.is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for SambaSmbd {
    fn drop(&mut self) {
        self.stop();
    }
}

//! The WINS server as the name service task runs it: the clock, and the
//! database file in the state directory (written at most every
//! [`SAVE_EVERY`] after a change, and at shutdown).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use common::netbios::NbName;

use super::{Out, WinsServer, db};
use crate::wire::nbns::Message;

const LOG: &str = "nmbd::wins";
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

pub struct WinsService {
    server: WinsServer,
    dir: PathBuf,
    last_save: Instant,
    unsaved: bool,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl WinsService {
    /// Loads `<state directory>/wins.db` (a missing file is an empty
    /// database; a damaged one is an error: we do not silently forget).
    pub fn open(dir: PathBuf, port: u16, first_trn: u16) -> Result<WinsService, String> {
        let db = db::load(&dir).map_err(|e| format!("WINS database: {e}"))?;
        tracing::info!(target: LOG, dir = %dir.display(), names = db.records.len(), version = db.version, "WINS server on");
        Ok(WinsService {
            server: WinsServer::new(db, port, first_trn),
            dir,
            last_save: Instant::now(),
            unsaved: false,
        })
    }

    pub fn handle(&mut self, src: SocketAddrV4, msg: &Message) -> Option<Vec<Out>> {
        self.server.handle(unix_now(), src, msg)
    }

    pub fn database(&self) -> &super::db::Database {
        self.server.database()
    }

    pub fn add_own(&mut self, name: &NbName, group: bool, flags: u16, addr: Ipv4Addr) {
        self.server.add_own(name, group, flags, addr);
    }

    pub fn remove_own(&mut self, name: &NbName, addr: Ipv4Addr) {
        self.server.remove_own(name, addr);
    }

    /// Every second.
    pub fn tick(&mut self) -> Vec<Out> {
        let out = self.server.tick(unix_now());
        self.unsaved |= self.server.take_dirty();
        if self.unsaved && self.last_save.elapsed() >= SAVE_EVERY {
            self.save();
        }
        out
    }

    pub fn save(&mut self) {
        self.last_save = Instant::now();
        match db::save(&self.dir, &self.server.snapshot()) {
            Ok(()) => self.unsaved = false,
            Err(e) => tracing::error!(target: LOG, "cannot save the WINS database: {e}"),
        }
    }
}

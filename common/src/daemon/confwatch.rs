//! Noticing that smb.conf changed without a signal (DESIGN.md, "SIGHUP:
//! reload configuration; a change to smb.conf is also picked up without a
//! signal"): the files a configuration was read from (the main file and its
//! includes) and their modification times, looked at every [`CONF_CHECK`].

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::smbconf::{self, SmbConf};

/// How often the files are looked at.
pub const CONF_CHECK: Duration = Duration::from_secs(5);

/// Watches the files of the configuration in force. After a reload, tell
/// it how the reload went ([`ConfWatch::loaded`], [`ConfWatch::failed`]).
#[derive(Debug)]
pub struct ConfWatch {
    sources: Vec<(PathBuf, Option<SystemTime>)>,
    tick: Interval,
}

impl ConfWatch {
    /// Watches the files `conf` was read from, every [`CONF_CHECK`].
    pub fn new(conf: &SmbConf) -> ConfWatch {
        ConfWatch::every(conf, CONF_CHECK)
    }

    pub fn every(conf: &SmbConf, period: Duration) -> ConfWatch {
        let mut tick = tokio::time::interval_at(Instant::now() + period, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ConfWatch {
            sources: conf.sources.clone(),
            tick,
        }
    }

    /// Resolves at the first check that finds a file modified, gone or
    /// appeared since it was read. Cancel-safe (for `select!`).
    pub async fn changed(&mut self) {
        loop {
            self.tick.tick().await;
            if smbconf::sources_changed(&self.sources) {
                return;
            }
        }
    }

    /// After a successful reload: watch the files `conf` was read from.
    pub fn loaded(&mut self, conf: &SmbConf) {
        self.sources = conf.sources.clone();
    }

    /// After a reload that failed: the files as they are now count as
    /// seen, so a broken file is reported once rather than at every check;
    /// its next change (or SIGHUP) tries again.
    pub fn failed(&mut self) {
        for (path, mtime) in &mut self.sources {
            *mtime = smbconf::modified(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a change is seen within five periods.
    async fn changes(w: &mut ConfWatch, period: Duration) -> bool {
        tokio::time::timeout(period * 5, w.changed()).await.is_ok()
    }

    #[tokio::test]
    async fn change_is_seen_and_a_failure_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smb.conf");
        let set_mtime = |secs: u64| {
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                .unwrap();
        };
        std::fs::write(&path, "[global]\n workgroup = ONE\n").unwrap();
        set_mtime(1_000_000);
        let (conf, _) = smbconf::load(&path, &[]).unwrap();
        let period = Duration::from_millis(20);
        let mut w = ConfWatch::every(&conf, period);
        assert!(!changes(&mut w, period).await, "nothing changed yet");
        set_mtime(2_000_000);
        assert!(changes(&mut w, period).await);
        // A reload that failed: not again until the file changes.
        w.failed();
        assert!(!changes(&mut w, period).await);
        set_mtime(3_000_000);
        assert!(changes(&mut w, period).await);
        let (conf, _) = smbconf::load(&path, &[]).unwrap();
        w.loaded(&conf);
        assert!(!changes(&mut w, period).await);
        // Gone counts as a change.
        std::fs::remove_file(&path).unwrap();
        assert!(changes(&mut w, period).await);
    }
}

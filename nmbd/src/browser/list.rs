//! The browse list a local master keeps: servers of its workgroup (from
//! HostAnnouncements) and workgroups (from DomainAnnouncements), each
//! expiring after three times the periodicity it announced.
//!
//! Times are `Instant`s inside; [`BrowseListSnapshot`] is the serializable
//! form (remaining lifetimes plus the wall-clock time it was taken), so the
//! list survives a restart and can be handed to smbd.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::wire::browse::{Announcement, sv_type};

/// Bounds against a flood of forged announcements.
pub const MAX_SERVERS: usize = 4096;
pub const MAX_WORKGROUPS: usize = 1024;
/// A periodicity above this is taken as this (so no entry lives forever).
pub const MAX_PERIODICITY: Duration = Duration::from_secs(60 * 60);
/// Entries expire after this many periods without an announcement.
pub const EXPIRY_PERIODS: u32 = 3;

/// One server as served to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub server_type: u32,
    pub comment: String,
    pub os_major: u8,
    pub os_minor: u8,
    pub periodicity_ms: u32,
    pub address: Ipv4Addr,
    /// The browser whose list this entry came from (a domain or local
    /// master we synced with; `address` is then that browser's); None
    /// when the server announced itself on this subnet.
    #[serde(default)]
    pub synced_from: Option<String>,
}

/// One workgroup and its local master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkgroupInfo {
    pub name: String,
    pub master: String,
    pub server_type: u32,
    pub periodicity_ms: u32,
    pub address: Ipv4Addr,
    /// As for [`ServerInfo::synced_from`].
    #[serde(default)]
    pub synced_from: Option<String>,
}

/// One entry of a list pulled from another browser (RAP NetServerEnum2,
/// SERVER_INFO_1): a server, or with `sv_type::DOMAIN_ENUM` a workgroup
/// whose comment is its master's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedEntry {
    pub name: String,
    pub server_type: u32,
    pub comment: String,
    pub os_major: u8,
    pub os_minor: u8,
}

/// A list pulled from another browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncedList {
    pub servers: Vec<SyncedEntry>,
    pub workgroups: Vec<SyncedEntry>,
}

#[derive(Debug, Clone, Default)]
pub struct BrowseList {
    servers: BTreeMap<String, (ServerInfo, Instant)>,
    workgroups: BTreeMap<String, (WorkgroupInfo, Instant)>,
}

/// Synced entries: names as NetBIOS names, comments as in announcements.
const MAX_NAME: usize = 15;
const MAX_COMMENT: usize = 48;

/// Makes room for an entry heard on the subnet by dropping one learned
/// from a sync (the one expiring first); false when all are local.
fn evict_synced<T>(
    map: &mut BTreeMap<String, (T, Instant)>,
    from: impl Fn(&T) -> &Option<String>,
) -> bool {
    let victim = map
        .iter()
        .filter(|(_, (v, _))| from(v).is_some())
        .min_by_key(|(_, (_, t))| *t)
        .map(|(k, _)| k.clone());
    victim.is_some_and(|k| map.remove(&k).is_some())
}

fn expiry(now: Instant, periodicity_ms: u32) -> Instant {
    let p = Duration::from_millis(periodicity_ms.into()).min(MAX_PERIODICITY);
    now + p * EXPIRY_PERIODS
}

impl BrowseList {
    /// A HostAnnouncement: adds or refreshes the server; a server type or
    /// periodicity of 0 is a server saying goodbye and removes it.
    pub fn host_announcement(&mut self, now: Instant, a: &Announcement, address: Ipv4Addr) {
        let key = a.server_name.to_ascii_uppercase();
        if a.server_type == 0 || a.periodicity_ms == 0 {
            self.servers.remove(&key);
            return;
        }
        if !self.servers.contains_key(&key)
            && self.servers.len() >= MAX_SERVERS
            && !evict_synced(&mut self.servers, |s| &s.synced_from)
        {
            return;
        }
        let info = ServerInfo {
            name: key.clone(),
            server_type: a.server_type,
            comment: a.comment.clone(),
            os_major: a.os_major,
            os_minor: a.os_minor,
            periodicity_ms: a.periodicity_ms,
            address,
            synced_from: None,
        };
        self.servers
            .insert(key, (info, expiry(now, a.periodicity_ms)));
    }

    /// A DomainAnnouncement (server name = workgroup, comment = master).
    pub fn domain_announcement(&mut self, now: Instant, a: &Announcement, address: Ipv4Addr) {
        let key = a.server_name.to_ascii_uppercase();
        if a.periodicity_ms == 0 {
            self.workgroups.remove(&key);
            return;
        }
        if !self.workgroups.contains_key(&key)
            && self.workgroups.len() >= MAX_WORKGROUPS
            && !evict_synced(&mut self.workgroups, |w| &w.synced_from)
        {
            return;
        }
        let info = WorkgroupInfo {
            name: key.clone(),
            master: a.comment.to_ascii_uppercase(),
            server_type: a.server_type,
            periodicity_ms: a.periodicity_ms,
            address,
            synced_from: None,
        };
        self.workgroups
            .insert(key, (info, expiry(now, a.periodicity_ms)));
    }

    /// Merges a list pulled from browser `from` at `address` (Samba's
    /// nmbd_synclists.c complete_one): servers and workgroups heard on
    /// this subnet stay as they were announced, `own_name` and
    /// `own_workgroup` are skipped (we know them better), the rest is
    /// added or refreshed to live three `period`s. Returns how many
    /// servers and workgroups were taken.
    pub fn merge_synced(
        &mut self,
        now: Instant,
        (from, address): (&str, Ipv4Addr),
        list: &SyncedList,
        (own_name, own_workgroup): (&str, &str),
        period: Duration,
    ) -> (usize, usize) {
        let period_ms = period.min(MAX_PERIODICITY).as_millis() as u32;
        let local = |s: &Option<String>| s.is_none();
        let mut servers = 0;
        for e in &list.servers {
            let key = e.name.to_ascii_uppercase();
            if key.is_empty()
                || key.len() > MAX_NAME
                || key == own_name
                || e.server_type & sv_type::DOMAIN_ENUM != 0
            {
                continue;
            }
            match self.servers.get(&key) {
                Some((s, _)) if local(&s.synced_from) => continue,
                None if self.servers.len() >= MAX_SERVERS => continue,
                _ => {}
            }
            let info = ServerInfo {
                name: key.clone(),
                server_type: e.server_type & !sv_type::LOCAL_LIST_ONLY,
                comment: e.comment.chars().take(MAX_COMMENT).collect(),
                os_major: e.os_major,
                os_minor: e.os_minor,
                periodicity_ms: period_ms,
                address,
                synced_from: Some(from.to_string()),
            };
            self.servers.insert(key, (info, expiry(now, period_ms)));
            servers += 1;
        }
        let mut workgroups = 0;
        for e in &list.workgroups {
            let key = e.name.to_ascii_uppercase();
            if key.is_empty() || key.len() > MAX_NAME || key == own_workgroup {
                continue;
            }
            match self.workgroups.get(&key) {
                Some((w, _)) if local(&w.synced_from) => continue,
                None if self.workgroups.len() >= MAX_WORKGROUPS => continue,
                _ => {}
            }
            let info = WorkgroupInfo {
                name: key.clone(),
                master: e
                    .comment
                    .chars()
                    .take(MAX_NAME)
                    .collect::<String>()
                    .to_ascii_uppercase(),
                server_type: e.server_type & !sv_type::LOCAL_LIST_ONLY,
                periodicity_ms: period_ms,
                address,
                synced_from: Some(from.to_string()),
            };
            self.workgroups.insert(key, (info, expiry(now, period_ms)));
            workgroups += 1;
        }
        (servers, workgroups)
    }

    /// Drops what was not announced for three periods; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.servers.len() + self.workgroups.len();
        self.servers.retain(|_, (_, t)| *t > now);
        self.workgroups.retain(|_, (_, t)| *t > now);
        before - self.servers.len() - self.workgroups.len()
    }

    /// ResetStateRequest "clear lists".
    pub fn clear(&mut self) {
        self.servers.clear();
        self.workgroups.clear();
    }

    pub fn servers(&self) -> impl Iterator<Item = &ServerInfo> {
        self.servers.values().map(|(s, _)| s)
    }

    pub fn workgroups(&self) -> impl Iterator<Item = &WorkgroupInfo> {
        self.workgroups.values().map(|(w, _)| w)
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.servers
            .values()
            .map(|(_, t)| *t)
            .chain(self.workgroups.values().map(|(_, t)| *t))
            .min()
    }

    pub fn snapshot(&self, now: Instant, wall: SystemTime) -> BrowseListSnapshot {
        let left = |t: &Instant| t.saturating_duration_since(now).as_millis() as u64;
        BrowseListSnapshot {
            taken_unix_ms: wall
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            servers: self
                .servers
                .values()
                .map(|(s, t)| (s.clone(), left(t)))
                .collect(),
            workgroups: self
                .workgroups
                .values()
                .map(|(w, t)| (w.clone(), left(t)))
                .collect(),
        }
    }

    /// The list from a snapshot, less the time that passed since it was
    /// taken (entries that would have expired meanwhile are dropped).
    pub fn restore(snap: &BrowseListSnapshot, now: Instant, wall: SystemTime) -> BrowseList {
        let now_ms = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let passed = now_ms.saturating_sub(snap.taken_unix_ms);
        let mut list = BrowseList::default();
        let max = (MAX_PERIODICITY * EXPIRY_PERIODS).as_millis() as u64;
        for (s, left) in snap.servers.iter().take(MAX_SERVERS) {
            if let Some(l) = left.min(&max).checked_sub(passed).filter(|l| *l > 0) {
                let key = s.name.to_ascii_uppercase();
                list.servers
                    .insert(key, (s.clone(), now + Duration::from_millis(l)));
            }
        }
        for (w, left) in snap.workgroups.iter().take(MAX_WORKGROUPS) {
            if let Some(l) = left.min(&max).checked_sub(passed).filter(|l| *l > 0) {
                let key = w.name.to_ascii_uppercase();
                list.workgroups
                    .insert(key, (w.clone(), now + Duration::from_millis(l)));
            }
        }
        list
    }
}

/// The browse list as kept across a restart or sent to smbd: each entry
/// with the milliseconds it had left when `taken_unix_ms` was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseListSnapshot {
    pub taken_unix_ms: u64,
    pub servers: Vec<(ServerInfo, u64)>,
    pub workgroups: Vec<(WorkgroupInfo, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(name: &str) -> Announcement {
        Announcement {
            update_count: 1,
            periodicity_ms: 60_000,
            server_name: name.into(),
            os_major: 6,
            os_minor: 1,
            server_type: 0x0000_9a03,
            browser_major: 15,
            browser_minor: 1,
            signature: 0xaa55,
            comment: "here".into(),
        }
    }

    #[test]
    fn synced_entries_make_room_for_announced_ones() {
        let now = Instant::now();
        let peer = Ipv4Addr::new(10, 98, 0, 1);
        let mut l = BrowseList::default();
        let list = SyncedList {
            servers: (0..MAX_SERVERS + 10)
                .map(|i| SyncedEntry {
                    name: format!("JUNK{i}"),
                    server_type: 3,
                    comment: "x".repeat(300),
                    os_major: 0,
                    os_minor: 0,
                })
                .collect(),
            workgroups: vec![],
        };
        let period = Duration::from_secs(900);
        let (n, _) = l.merge_synced(now, ("FAKE", peer), &list, ("US", "WG"), period);
        assert_eq!(n, MAX_SERVERS);
        assert!(l.servers().all(|s| s.comment.len() == MAX_COMMENT));
        // A server heard on the subnet still gets in, and stays local.
        l.host_announcement(now, &announcement("REAL"), Ipv4Addr::new(10, 99, 0, 5));
        assert_eq!(l.servers().count(), MAX_SERVERS);
        let real = l.servers().find(|s| s.name == "REAL").unwrap();
        assert_eq!(real.synced_from, None);
        // A sync never replaces it.
        let again = SyncedList {
            servers: vec![SyncedEntry {
                name: "real".into(),
                server_type: 1,
                comment: "forged".into(),
                os_major: 0,
                os_minor: 0,
            }],
            workgroups: vec![],
        };
        l.merge_synced(now, ("FAKE", peer), &again, ("US", "WG"), period);
        assert_eq!(
            l.servers().find(|s| s.name == "REAL").unwrap().comment,
            "here"
        );
    }
}

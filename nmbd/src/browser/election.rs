//! Election criteria and who wins (Samba's `win_election`, nameelect.doc).

use crate::wire::browse::Election;

/// The election version we send; a frame with another version decides the
/// election before the criteria are looked at.
pub const ELECTION_VERSION: u8 = 1;

/// Role bits of the criteria's low byte.
pub mod role {
    pub const DOMAIN_MASTER: u32 = 0x80;
    pub const WINS: u32 = 0x20;
    pub const PREFERRED_MASTER: u32 = 0x08;
    pub const RUNNING_MASTER: u32 = 0x04;
    pub const MAINTAINS_LIST: u32 = 0x02;
    pub const BACKUP: u32 = 0x01;
}

/// Browser version 1.15 in bytes 1-2.
const BROWSER_VERSION_BITS: u32 = 0x01_0F00;

/// What the criteria are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriteriaInputs {
    pub os_level: u8,
    pub domain_master: bool,
    pub preferred_master: bool,
    pub wins_server: bool,
    /// We are the local master now.
    pub running_master: bool,
    /// We have won an election since start (Samba adds 0x05 on winning and
    /// clears only 0x04 when stepping down).
    pub won_before: bool,
}

/// `os_level<<24 | 0x010F00 | 0x02`, plus the role bits.
pub fn criteria(c: CriteriaInputs) -> u32 {
    let mut v = u32::from(c.os_level) << 24 | BROWSER_VERSION_BITS | role::MAINTAINS_LIST;
    if c.domain_master {
        v |= role::DOMAIN_MASTER;
    }
    if c.wins_server {
        v |= role::WINS;
    }
    if c.preferred_master {
        v |= role::PREFERRED_MASTER;
    }
    if c.running_master {
        v |= role::RUNNING_MASTER;
    }
    if c.won_before {
        v |= role::BACKUP;
    }
    v
}

/// Whether we (`ours`) beat the sender of `theirs`, in Samba's order:
/// `local master = no` always loses; then the version (above ours: we lose,
/// below: we win); then the higher criteria; the longer uptime; and the
/// alphabetically lower name (case-insensitive).
pub fn we_win(local_master: bool, ours: &Election, theirs: &Election) -> bool {
    if !local_master {
        return false;
    }
    if theirs.version != ours.version {
        return theirs.version < ours.version;
    }
    if theirs.criteria != ours.criteria {
        return theirs.criteria < ours.criteria;
    }
    if theirs.uptime_ms != ours.uptime_ms {
        return theirs.uptime_ms < ours.uptime_ms;
    }
    ours.server_name.to_ascii_uppercase() <= theirs.server_name.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(version: u8, criteria: u32, uptime_ms: u32, name: &str) -> Election {
        Election {
            version,
            criteria,
            uptime_ms,
            server_name: name.into(),
        }
    }

    #[test]
    fn samba_criteria() {
        let base = CriteriaInputs {
            os_level: 21,
            domain_master: false,
            preferred_master: false,
            wins_server: false,
            running_master: false,
            won_before: false,
        };
        // As in the frames captured from Samba.
        assert_eq!(criteria(base), 0x1501_0f02);
        let pref = CriteriaInputs {
            os_level: 22,
            preferred_master: true,
            ..base
        };
        assert_eq!(criteria(pref), 0x1601_0f0a);
        let master = CriteriaInputs {
            running_master: true,
            won_before: true,
            domain_master: true,
            ..base
        };
        assert_eq!(criteria(master), 0x1501_0f87);
    }

    #[test]
    fn win_order() {
        let me = e(1, 0x1501_0f02, 5000, "BBB");
        assert!(!we_win(false, &me, &e(0, 0, 0, "ZZZ")), "local master = no");
        assert!(!we_win(true, &me, &e(2, 0, 0, "ZZZ")), "higher version");
        assert!(
            we_win(true, &me, &e(0, u32::MAX, u32::MAX, "AAA")),
            "zero version"
        );
        assert!(!we_win(true, &me, &e(1, 0x1601_0f02, 0, "ZZZ")), "criteria");
        assert!(
            we_win(true, &me, &e(1, 0x1401_0f0a, 9000, "AAA")),
            "criteria"
        );
        assert!(
            !we_win(true, &me, &e(1, 0x1501_0f02, 6000, "ZZZ")),
            "uptime"
        );
        assert!(we_win(true, &me, &e(1, 0x1501_0f02, 4000, "AAA")), "uptime");
        assert!(!we_win(true, &me, &e(1, 0x1501_0f02, 5000, "aaa")), "name");
        assert!(we_win(true, &me, &e(1, 0x1501_0f02, 5000, "ccc")), "name");
    }
}

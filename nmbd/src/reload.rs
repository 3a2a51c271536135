//! What a reloaded smb.conf changes for nmbd, and how each change is
//! applied (SIGHUP, or smb.conf changed on disk):
//!
//! - [`Apply::Live`]: settings of the browser alone, handed to the running
//!   browsers ([`crate::browsing::BrowseService::reconfigure`]).
//! - [`Apply::Restart`]: our identity or our sockets. The name service and
//!   the browser are stopped as at SIGTERM (a master hands over, our names
//!   are released) and started again with the new configuration.
//! - [`Apply::NotApplied`]: read once when nmbd starts (the status socket,
//!   the pid file, the log); a restart of nmbd applies them.
//!
//! `disable netbios = yes` is not in the table: nmbd then stops, as it
//! does not start with it.

use std::fmt;

use common::smbconf::{BoolAuto, Global};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    Live,
    Restart,
    NotApplied,
}

/// One parameter whose value changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub param: &'static str,
    pub old: String,
    pub new: String,
    pub apply: Apply,
}

/// A parameter's value in `[global]`, as an admin writes it.
type Value = fn(&Global) -> String;

/// The parameters nmbd uses, how a change is applied, the value as an
/// admin writes it. `bind interfaces only` is not here: nmbd binds each
/// served interface's address and broadcast address either way.
const PARAMS: &[(&str, Apply, Value)] = &[
    ("os level", Apply::Live, |g| g.os_level.to_string()),
    ("local master", Apply::Live, |g| yes_no(g.local_master)),
    ("preferred master", Apply::Live, |g| {
        bool_auto(g.preferred_master)
    }),
    ("domain master", Apply::Live, |g| bool_auto(g.domain_master)),
    ("server string", Apply::Live, |g| quoted(&g.server_string)),
    ("browser check interval", Apply::Live, |g| {
        g.browser_check_interval.to_string()
    }),
    ("netbios name", Apply::Restart, |g| g.netbios_name.clone()),
    ("netbios aliases", Apply::Restart, |g| {
        list(&g.netbios_aliases)
    }),
    ("workgroup", Apply::Restart, |g| g.workgroup.clone()),
    ("interfaces", Apply::Restart, |g| list(&g.interfaces)),
    ("nbt port", Apply::Restart, |g| g.nbt_port.to_string()),
    ("dgram port", Apply::Restart, |g| g.dgram_port.to_string()),
    ("wins support", Apply::Restart, |g| yes_no(g.wins_support)),
    ("wins server", Apply::Restart, |g| {
        let v: Vec<String> = g.wins_server.iter().map(|a| a.to_string()).collect();
        list(&v)
    }),
    ("state directory", Apply::Restart, |g| {
        g.state_directory.display().to_string()
    }),
    ("lock directory", Apply::NotApplied, |g| {
        g.lock_directory.display().to_string()
    }),
    ("pid directory", Apply::NotApplied, |g| {
        g.pid_directory.display().to_string()
    }),
    ("log level", Apply::NotApplied, |g| g.log_level.to_string()),
    ("log file", Apply::NotApplied, |g| {
        g.log_file
            .as_ref()
            .map_or_else(|| "\"\"".into(), |p| p.display().to_string())
    }),
];

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn bool_auto(b: BoolAuto) -> String {
    match b {
        BoolAuto::Yes => "yes",
        BoolAuto::No => "no",
        BoolAuto::Auto => "auto",
    }
    .into()
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "\"\"".into()
    } else {
        v.join(" ")
    }
}

/// The changes from `old` to `new`, in the order of [`PARAMS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn between(old: &Global, new: &Global) -> Plan {
        let changes = PARAMS
            .iter()
            .filter_map(|&(param, apply, value)| {
                let (o, n) = (value(old), value(new));
                (o != n).then_some(Change {
                    param,
                    old: o,
                    new: n,
                    apply,
                })
            })
            .collect();
        Plan { changes }
    }

    /// The name service and the browser must start again.
    pub fn restart(&self) -> bool {
        self.changes.iter().any(|c| c.apply == Apply::Restart)
    }

    /// The running browsers take the new settings.
    pub fn live(&self) -> bool {
        !self.restart() && self.changes.iter().any(|c| c.apply == Apply::Live)
    }

    /// The parameters that make the restart, as "netbios name, workgroup".
    pub fn restart_params(&self) -> String {
        let v: Vec<&str> = self
            .changes
            .iter()
            .filter(|c| c.apply == Apply::Restart)
            .map(|c| c.param)
            .collect();
        v.join(", ")
    }
}

/// "os level 20 -> 65 applied; netbios name A -> B: names released and
/// registered again; ...", or "nothing nmbd uses changed".
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return f.write_str("nothing nmbd uses changed");
        }
        let restart = self.restart();
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let how = match c.apply {
                Apply::Live if restart => " applied (with the restart)",
                Apply::Live => " applied",
                Apply::Restart => ": names released and registered again",
                Apply::NotApplied => ": not applied until nmbd is restarted",
            };
            write!(f, "{} {} -> {}{how}", c.param, c.old, c.new)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_settings_apply_live() {
        let old = Global::default();
        let new = Global {
            os_level: 65,
            local_master: false,
            preferred_master: BoolAuto::Yes,
            server_string: "new one".into(),
            browser_check_interval: 15,
            ..old.clone()
        };
        let p = Plan::between(&old, &new);
        assert!(p.live());
        assert!(!p.restart());
        assert_eq!(
            p.to_string(),
            "os level 20 -> 65 applied; local master yes -> no applied; preferred master auto -> yes applied; server string \"File server\" -> \"new one\" applied; browser check interval 300 -> 15 applied"
        );
        assert_eq!(Plan::between(&old, &old), Plan::default());
        assert_eq!(
            Plan::between(&old, &old).to_string(),
            "nothing nmbd uses changed"
        );
    }

    #[test]
    fn identity_and_sockets_restart() {
        let old = Global {
            netbios_name: "OLDNAME".into(),
            ..Global::default()
        };
        for new in [
            Global {
                netbios_name: "NEWNAME".into(),
                ..old.clone()
            },
            Global {
                netbios_aliases: vec!["ALIAS".into()],
                ..old.clone()
            },
            Global {
                workgroup: "OTHER".into(),
                ..old.clone()
            },
            Global {
                interfaces: vec!["eth1".into()],
                ..old.clone()
            },
            Global {
                nbt_port: 1137,
                ..old.clone()
            },
            Global {
                dgram_port: 1138,
                ..old.clone()
            },
            Global {
                wins_support: true,
                ..old.clone()
            },
            Global {
                wins_server: vec!["10.0.0.1".parse().unwrap()],
                ..old.clone()
            },
            Global {
                state_directory: "/elsewhere".into(),
                ..old.clone()
            },
        ] {
            let p = Plan::between(&old, &new);
            assert!(p.restart(), "{p}");
            assert!(!p.live(), "{p}");
        }
        let new = Global {
            netbios_name: "NEWNAME".into(),
            os_level: 65,
            ..old.clone()
        };
        let p = Plan::between(&old, &new);
        assert_eq!(p.restart_params(), "netbios name");
        assert_eq!(
            p.to_string(),
            "os level 20 -> 65 applied (with the restart); netbios name OLDNAME -> NEWNAME: names released and registered again"
        );
    }

    #[test]
    fn start_up_settings_and_others_are_not_acted_on() {
        let old = Global::default();
        let new = Global {
            lock_directory: "/elsewhere".into(),
            log_level: 3,
            // smbd's: nothing for nmbd.
            smb_ports: vec![4450],
            guest_account: "other".into(),
            bind_interfaces_only: true,
            ..old.clone()
        };
        let p = Plan::between(&old, &new);
        assert!(!p.restart() && !p.live());
        assert_eq!(
            p.to_string(),
            "lock directory /run/samba -> /elsewhere: not applied until nmbd is restarted; log level 0 -> 3: not applied until nmbd is restarted"
        );
    }
}

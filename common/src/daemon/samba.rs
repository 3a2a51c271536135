//! The command line and start-up Samba's daemons share (smbd, nmbd), so
//! that admins' habits work: `-D`/`-F`/`-i`, `-s smb.conf`, `-d N`,
//! `--debug-stdout`, `--option='name=value'`.

use std::path::PathBuf;

use super::{LogConfig, Readiness, daemonize, init_logging};
use crate::smbconf::{self, Global, SmbConf};

#[derive(clap::Args, Debug, Clone)]
pub struct SambaArgs {
    /// Become a daemon (the default unless -F or -i).
    #[arg(short = 'D', long = "daemon")]
    pub daemon: bool,
    /// Stay in the foreground.
    #[arg(short = 'F', long = "foreground")]
    pub foreground: bool,
    /// Interactive: foreground, log to stdout.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// The configuration file.
    #[arg(short = 's', long = "configfile", value_name = "FILE", default_value = smbconf::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Debug level (0-10).
    #[arg(short = 'd', long = "debuglevel", value_name = "N")]
    pub debuglevel: Option<u8>,
    /// Log to stdout.
    #[arg(long = "debug-stdout")]
    pub debug_stdout: bool,
    /// Set a [global] parameter: --option='name=value' (repeatable).
    #[arg(long = "option", value_name = "name=value")]
    pub options: Vec<String>,
}

impl SambaArgs {
    /// smb.conf with the `--option` overrides; every warning (an unknown
    /// parameter) is logged and printed as `prog: ...`.
    pub fn load(&self, prog: &str) -> Result<SmbConf, String> {
        let (conf, warnings) =
            smbconf::load(&self.config, &self.options).map_err(|e| e.to_string())?;
        for w in warnings {
            tracing::warn!(target: "smbconf", "{w}");
            eprintln!("{prog}: {w}");
        }
        Ok(conf)
    }

    /// Detaches unless `-F`/`-i`, then opens the log where the command
    /// line and `g` say. The error is the message to print; systemd has
    /// been told already.
    pub fn start(&self, prog: &str, g: &Global) -> Result<Readiness, String> {
        let foreground = self.foreground || self.interactive;
        let mut readiness = if foreground {
            Readiness::foreground()
        } else {
            daemonize().map_err(|e| format!("{prog}: cannot become a daemon: {e}"))?
        };
        let log = LogConfig {
            level: self.debuglevel.unwrap_or(g.log_level.max(2)),
            file: if foreground || self.debug_stdout {
                None
            } else {
                g.log_file.clone()
            },
            stdout: self.interactive || self.debug_stdout,
        };
        if let Err(e) = init_logging(&log) {
            let msg = format!("{prog}: cannot open the log: {e}");
            readiness.failed(&msg);
            return Err(msg);
        }
        Ok(readiness)
    }
}

//! Logging for every daemon: tracing-subscriber, one line per event, with a
//! Samba-style debug level (`-d N`) mapped onto tracing levels.

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    /// Samba-style debug level: 0 errors, 1 warnings, 2 info (default),
    /// 3-4 debug, 5 and above trace.
    pub level: u8,
    /// Append to this file instead of writing to stderr.
    pub file: Option<PathBuf>,
    /// Write to stdout instead of stderr (`--debug-stdout`, `-i`).
    pub stdout: bool,
}

/// Our own events at the level asked for; libraries' (sled's) only from
/// level 6 on, they are noisy.
fn directive(level: u8) -> &'static str {
    match level {
        0 => "error",
        1 => "warn",
        2 => "info,sled=warn",
        3 | 4 => "debug,sled=warn",
        5 => "trace,sled=warn",
        _ => "trace",
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the level.
pub fn init_logging(cfg: &LogConfig) -> std::io::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive(cfg.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let res = if let Some(path) = &cfg.file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init()
    } else if cfg.stdout {
        builder
            .with_ansi(std::io::stdout().is_terminal())
            .with_writer(std::io::stdout)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init()
    };
    // A second initialisation in the same process (tests) is harmless.
    let _ = res;
    Ok(())
}

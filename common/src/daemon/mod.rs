//! What every daemon of the project does the same way: pid files,
//! detaching, readiness notification, signals, logging and noticing that
//! smb.conf changed.

mod confwatch;
mod daemonize;
mod logging;
mod notify;
mod pidfile;
mod samba;
mod signals;

pub use confwatch::{CONF_CHECK, ConfWatch};
pub use daemonize::{Readiness, daemonize};
pub use logging::{LogConfig, init_logging};
pub use notify::sd_notify;
pub use pidfile::{PidFile, PidFileError};
pub use samba::SambaArgs;
pub use signals::{DaemonSignal, Signals};

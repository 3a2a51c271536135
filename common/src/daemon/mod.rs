//! What every daemon of the project does the same way: pid files,
//! detaching, readiness notification, signals and logging.

mod daemonize;
mod logging;
mod notify;
mod pidfile;
mod samba;
mod signals;

pub use daemonize::{Readiness, daemonize};
pub use logging::{LogConfig, init_logging};
pub use notify::sd_notify;
pub use pidfile::{PidFile, PidFileError};
pub use samba::SambaArgs;
pub use signals::{DaemonSignal, Signals};

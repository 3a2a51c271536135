//! The signals a daemon acts on, as an async stream (signal-hook).

use std::pin::Pin;

use futures_core::Stream;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonSignal {
    /// SIGTERM or SIGINT: stop accepting, finish in-flight work, exit.
    Terminate,
    /// SIGHUP: reload the configuration.
    Reload,
}

pub struct Signals(signal_hook_tokio::Signals);

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals(signal_hook_tokio::Signals::new([
            SIGTERM, SIGINT, SIGHUP,
        ])?))
    }

    pub async fn recv(&mut self) -> Option<DaemonSignal> {
        let sig = std::future::poll_fn(|cx| Pin::new(&mut self.0).poll_next(cx)).await?;
        Some(if sig == SIGHUP {
            DaemonSignal::Reload
        } else {
            DaemonSignal::Terminate
        })
    }
}

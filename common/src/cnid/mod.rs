//! The CNID service: persistent file ids per volume (netatalk's
//! cnid_metad/cnid_dbd split). This module holds what both sides share:
//! the types, the native protocol, where things live, and the client.

mod client;
mod error;
pub mod netatalk;
pub mod paths;
pub mod proto;
mod types;

pub use client::{
    AsyncConn, BlockingClient, BlockingConn, Client, ClientConfig, ExchangeError, Transport,
    complete,
};
pub use error::CnidError;
pub use types::{Cnid, Entry, FileKind, MAX_NAME, Name, NameError, Record, Stamp};

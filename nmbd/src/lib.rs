//! nmbd: NetBIOS name service (UDP 137), browsing (UDP 138), master-browser
//! elections, the browse list and an optional WINS server.
//!
//! `wire` holds the codecs (RFC 1002 name service and datagram packets,
//! MS-BRWS browser frames); the rest is the daemon built on them. `sync`
//! pulls browse lists from other browsers over SMB1 and RAP, as Samba's
//! nmbd does between master browsers.

pub mod browser;
pub mod browsing;
pub mod guard;
pub mod iface;
pub mod ipc;
pub mod names;
pub mod reload;
pub mod sync;
pub mod wins;
pub mod wire;

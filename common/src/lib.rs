//! The crate every daemon of the project links: Unix-socket IPC (framing,
//! fd passing, peer credentials), daemon plumbing (pid files, signals,
//! logging, readiness notification), configuration files, and the CNID
//! protocol with its client library.

pub mod cnid;
pub mod codec;
pub mod cred;
pub mod daemon;
pub mod dbparam;
pub mod fdpass;
pub mod frame;
pub mod netbios;
pub mod smbconf;
pub mod sockpath;

//! smbd: the SMB2/3 file server, as a library so `smbpasswd` and the tests
//! share its pieces.

pub mod auth;
pub mod cmd;
pub mod conn;
pub mod crypto;
pub mod dcerpc;
pub mod ntvfs;
pub mod server;
pub mod wire;

#[cfg(test)]
mod testdata;

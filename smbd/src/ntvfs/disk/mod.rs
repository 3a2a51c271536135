//! The disk backend: SMB semantics on a POSIX file system.

pub mod notify;

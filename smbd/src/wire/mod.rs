//! The SMB2 wire: primitives shared by every command codec.

pub mod header;
pub mod info;
pub mod nbss;
pub mod reader;
pub mod status;
pub mod strings;
pub mod time;

pub use reader::{Reader, WireError};
pub use status::NtStatus;

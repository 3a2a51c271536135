//! Authentication: SPNEGO, NTLMSSP, the password database.

pub mod der;
pub mod spnego;

pub use spnego::{SpnegoError, negotiate_token};

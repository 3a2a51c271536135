//! Authentication: SPNEGO, NTLMSSP, the password database.

pub mod der;
pub mod ntlm;
pub mod ntlmssp;
pub mod passdb;
mod reader;
pub mod spnego;

pub use ntlm::nt_hash;
pub use ntlmssp::NtlmError;
pub use passdb::{AcctFlags, PassDb, PassDbError, PassEntry};
pub use spnego::{SpnegoError, negotiate_token};

//! Authentication: SPNEGO, NTLMSSP (NTLMv2 only), the password database.
//!
//! How the SMB front end uses it:
//!
//! * NEGOTIATE response: send [`negotiate_token()`] as the security blob.
//! * Each new SESSION_SETUP exchange gets one [`ServerAuth`]. Every
//!   SESSION_SETUP request's security blob goes through
//!   [`ServerAuth::step`] with the current [`PassDb`]:
//!   - `Ok(Step::Continue(blob))`: reply STATUS_MORE_PROCESSING_REQUIRED
//!     with `blob`;
//!   - `Ok(Step::Done(blob, result))`: reply STATUS_SUCCESS with `blob`; the
//!     session belongs to `result.identity` and its signing/encryption keys
//!     derive from `result.session_key` (all zeros for guest and anonymous,
//!     which are never signed);
//!   - `Err(e)`: reply `e.nt_status()` (optionally with
//!     [`ServerAuth::reject_token`]; Samba sends no blob) and drop the
//!     `ServerAuth`: it refuses further steps.
//! * Reasons are logged under target `smbd::auth` with user, domain and
//!   workstation; never passwords, hashes or keys.
//!
//! Accepted first blobs: a SPNEGO NegTokenInit listing NTLMSSP (with or
//! without the optimistic NTLMSSP NEGOTIATE), a raw NTLMSSP NEGOTIATE (no
//! SPNEGO; replies are raw too) or an empty blob (answered with our
//! NegTokenInit2).

pub mod der;
pub mod ntlm;
pub mod ntlmssp;
pub mod passdb;
mod reader;
mod server;
pub mod spnego;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use ntlm::nt_hash;
pub use ntlmssp::NtlmError;
pub use passdb::{AcctFlags, PassDb, PassDbError, PassEntry};
pub use server::ServerAuth;
pub use spnego::{SpnegoError, negotiate_token};

/// Who a session setup authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A password-database account; `name` is spelled as in the database.
    User { name: String },
    /// Mapped to the guest account by "map to guest".
    Guest,
    /// A null session (empty user name and responses).
    Anonymous,
}

/// The outcome of a successful exchange.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthResult {
    pub identity: Identity,
    /// NTLMSSP ExportedSessionKey: the SMB session key. Zeros for guest and
    /// anonymous.
    pub session_key: [u8; 16],
}

impl std::fmt::Debug for AuthResult {
    // The key is a secret: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResult")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// smb.conf "map to guest".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestPolicy {
    /// Unknown users and wrong passwords fail.
    #[default]
    Never,
    /// Unknown users become guest; wrong passwords fail.
    BadUser,
    /// Unknown users and wrong passwords of known users become guest.
    BadPassword,
}

/// What the authentication layer needs from smb.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// "netbios name": the CHALLENGE's TargetName, MsvAvNbComputerName and,
    /// as for a standalone Windows or Samba server, MsvAvNbDomainName.
    pub netbios_name: String,
    /// "workgroup": one of the domains NTOWFv2 is tried with.
    pub workgroup: String,
    /// DNS domain (may be empty): MsvAvDnsDomainName, and the suffix of
    /// MsvAvDnsComputerName (lower-case netbios name).
    pub dns_domain: String,
    pub map_to_guest: GuestPolicy,
    /// Whether null sessions are allowed.
    pub allow_anonymous: bool,
}

/// The result of one [`ServerAuth::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reply STATUS_MORE_PROCESSING_REQUIRED with this blob.
    Continue(Vec<u8>),
    /// Reply STATUS_SUCCESS with this blob (may be empty).
    Done(Vec<u8>, AuthResult),
}

/// Names from an AUTHENTICATE message, for errors and logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Who {
    pub user: String,
    pub domain: String,
    pub workstation: String,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "user {:?} domain {:?} workstation {:?}",
            self.user, self.domain, self.workstation
        )
    }
}

pub const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
pub const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;
pub const STATUS_ACCOUNT_DISABLED: u32 = 0xC000_0072;
pub const STATUS_INTERNAL_ERROR: u32 = 0xC000_00E5;

/// Why a session setup failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong password, unknown user (without guest mapping), bad MIC.
    #[error("logon failure for {who}: {reason}")]
    LogonFailure { who: Who, reason: &'static str },
    /// The password was right but the account is disabled.
    #[error("account disabled: {who}")]
    AccountDisabled { who: Who },
    /// A response we refuse by policy (LM, NTLMv1, null password).
    #[error("refused for {who}: {reason}")]
    Unsupported { who: Who, reason: &'static str },
    #[error("malformed SPNEGO token: {0}")]
    Spnego(#[from] SpnegoError),
    #[error("malformed NTLMSSP message: {0}")]
    Ntlmssp(#[from] NtlmError),
    /// The client offered no mechanism we speak (OIDs listed).
    #[error("no common mechanism; client offered {0}")]
    NoCommonMechanism(String),
    /// A well-formed token at the wrong point of the exchange.
    #[error("unexpected token: {0}")]
    Unexpected(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    /// The NTSTATUS for the SESSION_SETUP response.
    pub fn nt_status(&self) -> u32 {
        match self {
            AuthError::LogonFailure { .. } | AuthError::Unsupported { .. } => STATUS_LOGON_FAILURE,
            AuthError::AccountDisabled { .. } => STATUS_ACCOUNT_DISABLED,
            AuthError::Spnego(_)
            | AuthError::Ntlmssp(_)
            | AuthError::NoCommonMechanism(_)
            | AuthError::Unexpected(_) => STATUS_INVALID_PARAMETER,
            AuthError::Internal(_) => STATUS_INTERNAL_ERROR,
        }
    }

    fn log(&self) {
        match self {
            AuthError::LogonFailure { who, reason } | AuthError::Unsupported { who, reason } => {
                tracing::warn!(target: "smbd::auth", user = %who.user, domain = %who.domain,
                    workstation = %who.workstation, reason, "logon failed");
            }
            AuthError::AccountDisabled { who } => {
                tracing::warn!(target: "smbd::auth", user = %who.user, domain = %who.domain,
                    workstation = %who.workstation, reason = "account disabled", "logon failed");
            }
            other => {
                tracing::warn!(target: "smbd::auth", error = %other, "session setup refused");
            }
        }
    }
}

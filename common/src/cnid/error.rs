//! Errors a CNID client sees, each with the text a user reads.

use std::path::PathBuf;

use super::proto::{ErrorKind, WireError};
use super::types::Stamp;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CnidError {
    #[error("cnid_metad not running at {}", .0.display())]
    MetadNotRunning(PathBuf),
    #[error("not found")]
    NotFound,
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("volume database is locked: {0}")]
    Locked(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("volume unusable: {0}")]
    Volume(String),
    #[error("cnid_dbd could not start: {0}")]
    Startup(String),
    #[error(
        "the volume's database was replaced (stamp {old} is now {new}); ids held before are void"
    )]
    DatabaseReplaced { old: Stamp, new: Stamp },
    #[error("no answer from the CNID service within {0} s")]
    Timeout(u64),
    #[error("connection to the CNID service lost: {0}")]
    Connection(String),
}

impl From<WireError> for CnidError {
    fn from(e: WireError) -> Self {
        let m = e.message;
        match e.kind {
            ErrorKind::InvalidArgument => CnidError::InvalidArgument(m),
            ErrorKind::PermissionDenied => CnidError::PermissionDenied(m),
            ErrorKind::Locked => CnidError::Locked(m),
            ErrorKind::Refused => CnidError::Refused(m),
            ErrorKind::Database => CnidError::Database(m),
            ErrorKind::Protocol => CnidError::Protocol(m),
            ErrorKind::Volume => CnidError::Volume(m),
            ErrorKind::Startup => CnidError::Startup(m),
        }
    }
}

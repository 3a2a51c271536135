//! Oplock break notifications (MS-SMB2 2.2.23.1, 3.3.4.6): how the disk
//! backend's break reaches the client that holds the oplock.

use std::sync::{Arc, Weak};

use super::Connection;
use crate::ntvfs::{FileId, OplockBreaks, OplockLevel};
use crate::wire::NtStatus;
use crate::wire::header::{Command, Header, Target, flags};

/// Sends breaks for the opens of one tree connect.
pub struct BreakSender {
    pub conn: Weak<Connection>,
    pub session_id: u64,
}

impl OplockBreaks for BreakSender {
    fn send_break(&self, file_id: FileId, level: OplockLevel) {
        let Some(conn) = self.conn.upgrade() else {
            return;
        };
        // Unsolicited: message id all ones, no credits, not signed (as
        // Samba sends it); the client matches it by FileId.
        let mut msg = Vec::with_capacity(64 + 24);
        Header {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command: Command::OPLOCK_BREAK,
            credits: 0,
            flags: flags::SERVER_TO_REDIR,
            next_command: 0,
            message_id: u64::MAX,
            target: Target::Tree(0),
            session_id: self.session_id,
            signature: [0; 16],
        }
        .emit(&mut msg);
        crate::cmd::oplock_break::emit(level, file_id, &mut msg);
        tracing::debug!(target: "smbd::oplock", peer = %conn.peer, file = file_id.volatile, ?level, "oplock break");
        // Called with the file's state locked, maybe on a blocking thread:
        // hand the message to the connection's writer without waiting.
        let conn: Arc<Connection> = conn;
        tokio::spawn(async move { conn.send(msg, None).await });
    }
}

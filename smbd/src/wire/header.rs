//! The 64-byte SMB2 header (MS-SMB2 2.2.1).
//!
//! ```text
//!  0  ProtocolId  0xFE 'S' 'M' 'B'      32 Reserved (sync) | AsyncId (async, 32..40)
//!  4  StructureSize (64)                36 TreeId (sync)
//!  6  CreditCharge                      40 SessionId
//!  8  Status / ChannelSequence          48 Signature (16)
//! 12  Command
//! 14  CreditRequest / CreditResponse
//! 16  Flags
//! 20  NextCommand
//! 24  MessageId
//! ```

use std::ops::Range;

use super::reader::WireError;
use super::status::NtStatus;

pub mod field {
    use super::Range;
    pub const PROTOCOL_ID: Range<usize> = 0..4;
    pub const STRUCTURE_SIZE: Range<usize> = 4..6;
    pub const CREDIT_CHARGE: Range<usize> = 6..8;
    pub const STATUS: Range<usize> = 8..12;
    pub const COMMAND: Range<usize> = 12..14;
    pub const CREDITS: Range<usize> = 14..16;
    pub const FLAGS: Range<usize> = 16..20;
    pub const NEXT_COMMAND: Range<usize> = 20..24;
    pub const MESSAGE_ID: Range<usize> = 24..32;
    pub const ASYNC_ID: Range<usize> = 32..40;
    pub const TREE_ID: Range<usize> = 36..40;
    pub const SESSION_ID: Range<usize> = 40..48;
    pub const SIGNATURE: Range<usize> = 48..64;
}
pub const HEADER_LEN: usize = field::SIGNATURE.end;
pub const PROTOCOL_ID: [u8; 4] = [0xfe, b'S', b'M', b'B'];

pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// SMB2 command codes; an unknown code is kept (and answered with an
/// error), not dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command(pub u16);

impl Command {
    pub const NEGOTIATE: Command = Command(0x0000);
    pub const SESSION_SETUP: Command = Command(0x0001);
    pub const LOGOFF: Command = Command(0x0002);
    pub const TREE_CONNECT: Command = Command(0x0003);
    pub const TREE_DISCONNECT: Command = Command(0x0004);
    pub const CREATE: Command = Command(0x0005);
    pub const CLOSE: Command = Command(0x0006);
    pub const FLUSH: Command = Command(0x0007);
    pub const READ: Command = Command(0x0008);
    pub const WRITE: Command = Command(0x0009);
    pub const LOCK: Command = Command(0x000a);
    pub const IOCTL: Command = Command(0x000b);
    pub const CANCEL: Command = Command(0x000c);
    pub const ECHO: Command = Command(0x000d);
    pub const QUERY_DIRECTORY: Command = Command(0x000e);
    pub const CHANGE_NOTIFY: Command = Command(0x000f);
    pub const QUERY_INFO: Command = Command(0x0010);
    pub const SET_INFO: Command = Command(0x0011);
    pub const OPLOCK_BREAK: Command = Command(0x0012);

    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "NEGOTIATE",
            0x01 => "SESSION_SETUP",
            0x02 => "LOGOFF",
            0x03 => "TREE_CONNECT",
            0x04 => "TREE_DISCONNECT",
            0x05 => "CREATE",
            0x06 => "CLOSE",
            0x07 => "FLUSH",
            0x08 => "READ",
            0x09 => "WRITE",
            0x0a => "LOCK",
            0x0b => "IOCTL",
            0x0c => "CANCEL",
            0x0d => "ECHO",
            0x0e => "QUERY_DIRECTORY",
            0x0f => "CHANGE_NOTIFY",
            0x10 => "QUERY_INFO",
            0x11 => "SET_INFO",
            0x12 => "OPLOCK_BREAK",
            _ => "UNKNOWN",
        }
    }
}

/// Sync requests carry a tree id where async ones carry an async id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Tree(u32),
    Async(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    /// Status in responses; ChannelSequence (low 16 bits) in 3.x requests.
    pub status: NtStatus,
    pub command: Command,
    pub credits: u16,
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    pub target: Target,
    pub session_id: u64,
    pub signature: [u8; 16],
}

impl Header {
    /// Parses the header at the start of `msg` (checked to be an SMB2 one).
    pub fn parse(msg: &[u8]) -> Result<Header, WireError> {
        let h = msg
            .get(..HEADER_LEN)
            .ok_or(WireError::Missing("SMB2 header"))?;
        let u16_at = |r: Range<usize>| u16::from_le_bytes([h[r.start], h[r.start + 1]]);
        let u32_at = |r: Range<usize>| u32::from_le_bytes(h[r].try_into().expect("4 bytes"));
        let u64_at = |r: Range<usize>| u64::from_le_bytes(h[r].try_into().expect("8 bytes"));
        if h[field::PROTOCOL_ID] != PROTOCOL_ID {
            return Err(WireError::Invalid {
                what: "protocol id",
                value: u32_at(field::PROTOCOL_ID) as u64,
                why: "not an SMB2 header",
            });
        }
        if u16_at(field::STRUCTURE_SIZE) != 64 {
            return Err(WireError::Invalid {
                what: "header structure size",
                value: u16_at(field::STRUCTURE_SIZE) as u64,
                why: "must be 64",
            });
        }
        let flags = u32_at(field::FLAGS);
        let target = if flags & flags::ASYNC_COMMAND != 0 {
            Target::Async(u64_at(field::ASYNC_ID))
        } else {
            Target::Tree(u32_at(field::TREE_ID))
        };
        let mut signature = [0u8; 16];
        signature.copy_from_slice(&h[field::SIGNATURE]);
        Ok(Header {
            credit_charge: u16_at(field::CREDIT_CHARGE),
            status: NtStatus(u32_at(field::STATUS)),
            command: Command(u16_at(field::COMMAND)),
            credits: u16_at(field::CREDITS),
            flags,
            next_command: u32_at(field::NEXT_COMMAND),
            message_id: u64_at(field::MESSAGE_ID),
            target,
            session_id: u64_at(field::SESSION_ID),
            signature,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&PROTOCOL_ID); //                      0..4
        out.extend_from_slice(&64u16.to_le_bytes()); //               4..6
        out.extend_from_slice(&self.credit_charge.to_le_bytes()); //  6..8
        out.extend_from_slice(&self.status.0.to_le_bytes()); //       8..12
        out.extend_from_slice(&self.command.0.to_le_bytes()); //     12..14
        out.extend_from_slice(&self.credits.to_le_bytes()); //       14..16
        out.extend_from_slice(&self.flags.to_le_bytes()); //         16..20
        out.extend_from_slice(&self.next_command.to_le_bytes()); //  20..24
        out.extend_from_slice(&self.message_id.to_le_bytes()); //    24..32
        match self.target {
            Target::Async(id) => out.extend_from_slice(&id.to_le_bytes()), // 32..40
            Target::Tree(id) => {
                out.extend_from_slice(&0u32.to_le_bytes()); //       32..36
                out.extend_from_slice(&id.to_le_bytes()); //         36..40
            }
        }
        out.extend_from_slice(&self.session_id.to_le_bytes()); //    40..48
        out.extend_from_slice(&self.signature); //                   48..64
    }

    pub fn tree_id(&self) -> Option<u32> {
        match self.target {
            Target::Tree(t) => Some(t),
            Target::Async(_) => None,
        }
    }
}

/// The most requests one compound may hold.
pub const MAX_COMPOUND: usize = 64;

/// Why a message cannot be split into its requests; each ends the
/// connection (MS-SMB2 3.3.5.2.7 and 3.3.5.2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompoundError {
    #[error("bad SMB2 header: {0}")]
    Header(WireError),
    #[error("client sent a response")]
    Response,
    #[error("bad NextCommand {0}")]
    NextCommand(u32),
    #[error("compound of more than {MAX_COMPOUND} requests")]
    TooMany,
}

/// Splits a message into the requests of its compound: each one's header
/// and where it lies in `msg`. Every NextCommand must be 8-aligned, step
/// past the header it belongs to and stay inside the message, so the walk
/// always moves forward and ends. (A first request marked related is the
/// chain's business: it fails alone, as in Samba.)
pub fn split_compound(msg: &[u8]) -> Result<Vec<(Header, Range<usize>)>, CompoundError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    loop {
        let h = Header::parse(&msg[off..]).map_err(CompoundError::Header)?;
        if h.flags & flags::SERVER_TO_REDIR != 0 {
            return Err(CompoundError::Response);
        }
        let end = match h.next_command as usize {
            0 => msg.len(),
            next if next < HEADER_LEN || !next.is_multiple_of(8) || next > msg.len() - off => {
                return Err(CompoundError::NextCommand(h.next_command));
            }
            next => off + next,
        };
        let last = h.next_command == 0;
        out.push((h, off..end));
        if out.len() > MAX_COMPOUND {
            return Err(CompoundError::TooMany);
        }
        if last {
            return Ok(out);
        }
        off = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// smbclient 4.17's NEGOTIATE request header (message id 0).
    const NEGOTIATE_HDR: [u8; 64] = [
        0xfe, 0x53, 0x4d, 0x42, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parse_emit_round_trip() {
        let h = Header::parse(&NEGOTIATE_HDR).unwrap();
        assert_eq!(h.command, Command::NEGOTIATE);
        assert_eq!(h.credits, 31);
        assert_eq!(h.target, Target::Tree(0));
        let mut out = vec![0xa5];
        h.emit(&mut out);
        assert_eq!(&out[1..], &NEGOTIATE_HDR);
    }

    #[test]
    fn async_header_and_bad_ones() {
        let mut b = NEGOTIATE_HDR;
        b[16] = 0x02; // ASYNC_COMMAND
        b[32..40].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(Header::parse(&b).unwrap().target, Target::Async(7));
        assert!(Header::parse(&b[..63]).is_err());
        let mut bad = NEGOTIATE_HDR;
        bad[0] = 0xff;
        assert!(Header::parse(&bad).is_err());
        let mut bad = NEGOTIATE_HDR;
        bad[4] = 65;
        assert!(Header::parse(&bad).is_err());
    }

    /// `n` copies of NEGOTIATE_HDR chained with NextCommand 64.
    fn chain(n: usize) -> Vec<u8> {
        let mut m = Vec::new();
        for i in 0..n {
            let mut h = NEGOTIATE_HDR;
            if i + 1 < n {
                h[20] = 64; // NextCommand
            }
            m.extend_from_slice(&h);
        }
        m
    }

    #[test]
    fn compounds_split_and_bad_chains() {
        let parts = split_compound(&chain(3)).unwrap();
        assert_eq!(
            parts.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            [0..64, 64..128, 128..192]
        );
        assert_eq!(split_compound(&chain(MAX_COMPOUND)).unwrap().len(), 64);
        // 65 requests: refused, also when the 65th is the last.
        assert_eq!(
            split_compound(&chain(MAX_COMPOUND + 1)),
            Err(CompoundError::TooMany)
        );
        for (next, why) in [
            (68u8, "misaligned"),
            (8, "inside the header"),
            (192, "past the end"),
        ] {
            let mut m = chain(2);
            m[20] = next;
            assert_eq!(
                split_compound(&m),
                Err(CompoundError::NextCommand(next.into())),
                "{why}"
            );
        }
        // NextCommand to the very end: the next header is missing.
        let mut m = chain(2);
        m[64 + 20] = 64;
        assert!(matches!(split_compound(&m), Err(CompoundError::Header(_))));
        let mut m = chain(2);
        m[64 + 16] = 0x01; // SERVER_TO_REDIR
        assert_eq!(split_compound(&m), Err(CompoundError::Response));
    }
}

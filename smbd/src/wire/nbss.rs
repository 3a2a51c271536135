//! NetBIOS session service framing (RFC 1002 4.3) as SMB uses it: on port
//! 445 every message is a SESSION MESSAGE with a 24-bit length; on port
//! 139 the client first sends a SESSION REQUEST with the called and
//! calling names, answered with a POSITIVE SESSION RESPONSE.
//!
//! ```text
//!  0      1      2      3      4
//!  +------+------+------+------+---------------------+
//!  | type | len (24 bits, big-endian on 445)  | data |
//!  +------+------+------+------+---------------------+
//! ```
//! On 139 the length has 17 bits and bit 0 of byte 1 is its top bit; we
//! accept the 24-bit form on both, as Samba does.

pub const HEADER_LEN: usize = 4;

pub mod kind {
    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const SESSION_REQUEST: u8 = 0x81;
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    pub const RETARGET_RESPONSE: u8 = 0x84;
    pub const KEEPALIVE: u8 = 0x85;
}

/// A frame header: its type and payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: u8,
    pub len: usize,
}

impl FrameHeader {
    pub fn parse(b: [u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            kind: b[0],
            len: (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]),
        }
    }

    pub fn emit(kind: u8, len: usize) -> [u8; HEADER_LEN] {
        [kind, (len >> 16) as u8, (len >> 8) as u8, len as u8]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        assert_eq!(
            FrameHeader::parse([0, 0x01, 0x02, 0x03]),
            FrameHeader {
                kind: 0,
                len: 0x010203
            }
        );
        assert_eq!(FrameHeader::emit(0x82, 0), [0x82, 0, 0, 0]);
        assert_eq!(FrameHeader::emit(0, 0x00ffff), [0, 0, 0xff, 0xff]);
    }
}

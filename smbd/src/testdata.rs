//! Real traffic for codec tests: smbclient 4.17 talking to Samba 4.17
//! (smbd/testdata/smbclient-4.17.txt, recorded with tshark).

use crate::wire::header::{Command, HEADER_LEN, Header, flags};

pub struct Captured {
    #[allow(dead_code)]
    pub from_client: bool,
    /// One SMB2 message: header and body (one element of a compound).
    pub msg: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Every SMB2 message of the capture, compounds split, in order.
pub fn messages() -> Vec<Captured> {
    let text = include_str!("../testdata/smbclient-4.17.txt");
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (dir, data) = line.split_once(' ').expect("direction and hex");
        let bytes = hex(data);
        let mut at = 0;
        while at + 4 <= bytes.len() {
            let len = (usize::from(bytes[at + 1]) << 16)
                | (usize::from(bytes[at + 2]) << 8)
                | usize::from(bytes[at + 3]);
            let Some(frame) = bytes.get(at + 4..at + 4 + len) else {
                break;
            };
            let mut off = 0;
            while off + HEADER_LEN <= frame.len() && frame[off] == 0xfe {
                let h = Header::parse(&frame[off..]).expect("captured header");
                let end = if h.next_command == 0 {
                    frame.len()
                } else {
                    off + h.next_command as usize
                };
                out.push(Captured {
                    from_client: dir == "C",
                    msg: frame[off..end].to_vec(),
                });
                if h.next_command == 0 {
                    break;
                }
                off = end;
            }
            at += 4 + len;
        }
    }
    out
}

/// The first captured request (or response) of `cmd`, with its status.
pub fn first(cmd: Command, response: bool) -> Vec<u8> {
    nth(cmd, response, 0)
}

pub fn nth(cmd: Command, response: bool, n: usize) -> Vec<u8> {
    messages()
        .into_iter()
        .filter(|c| {
            let h = Header::parse(&c.msg).expect("header");
            h.command == cmd && (h.flags & flags::SERVER_TO_REDIR != 0) == response
        })
        .nth(n)
        .unwrap_or_else(|| {
            panic!(
                "no {n}th {} {}",
                cmd.name(),
                if response { "response" } else { "request" }
            )
        })
        .msg
}

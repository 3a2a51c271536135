//! The one SMB1 message we answer: a NEGOTIATE from a client that starts
//! with SMB1 and offers SMB2 (MS-SMB2 3.3.5.3.1). We answer in SMB2; a
//! client that offers only SMB1 dialects is refused.
//!
//! ```text
//!  0 Protocol (0xFF 'S' 'M' 'B')  4 Command (0x72)  ...  32 WordCount
//! 33 ByteCount  35 Dialects: 0x02 "name" NUL ...
//! ```

use std::sync::Arc;

use super::{Connection, Outcome};
use crate::cmd::negotiate::dialect;
use crate::wire::NtStatus;
use crate::wire::header::{Command, Header, Target, flags};

const SMB1_NEGOTIATE: u8 = 0x72;

/// The dialect names of an SMB1 NEGOTIATE request.
pub fn dialects(msg: &[u8]) -> Result<Vec<String>, String> {
    if msg.len() < 35 || msg[4] != SMB1_NEGOTIATE {
        return Err("SMB1 request other than NEGOTIATE".into());
    }
    if msg[32] != 0 {
        return Err("SMB1 NEGOTIATE with parameter words".into());
    }
    let count = u16::from_le_bytes([msg[33], msg[34]]) as usize;
    let bytes = msg
        .get(35..35 + count)
        .ok_or("SMB1 NEGOTIATE ByteCount beyond the message")?;
    let mut out = Vec::new();
    for part in bytes.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let name = part
            .strip_prefix(&[0x02])
            .ok_or("SMB1 dialect without its 0x02 marker")?;
        out.push(String::from_utf8_lossy(name).into_owned());
    }
    Ok(out)
}

pub async fn negotiate(conn: &Arc<Connection>, msg: &[u8]) -> Result<(), String> {
    let names = dialects(msg)?;
    let chosen = if names.iter().any(|n| n == "SMB 2.???") {
        dialect::WILDCARD
    } else if names.iter().any(|n| n == "SMB 2.002") {
        dialect::SMB2_02
    } else {
        return Err(format!(
            "client offers only SMB1 dialects {names:?}; SMB1 is not served"
        ));
    };
    let conf = conn.server.conf();
    if chosen == dialect::SMB2_02 && conf.global.server_min_protocol.wire() > dialect::SMB2_02 {
        return Err("client offers SMB 2.002 only, below server min protocol".into());
    }
    conn.credits
        .lock()
        .expect("credits")
        .consume(0, 1)
        .map_err(|e| e.to_string())?;
    let Outcome::Reply { status, body, .. } =
        super::session::answer_negotiate(conn, msg, None, chosen)
    else {
        return Err("negotiation failed".into());
    };
    let granted = conn.credits.lock().expect("credits").grant(1);
    let h = Header {
        credit_charge: 0,
        status,
        command: Command::NEGOTIATE,
        credits: granted,
        flags: flags::SERVER_TO_REDIR,
        next_command: 0,
        message_id: 0,
        target: Target::Tree(0),
        session_id: 0,
        signature: [0; 16],
    };
    let mut out = Vec::new();
    h.emit(&mut out);
    out.extend_from_slice(&body);
    conn.send(out, None).await;
    if status != NtStatus::SUCCESS {
        return Err("negotiation failed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_list() {
        let mut m = vec![0xff, b'S', b'M', b'B', 0x72];
        m.resize(32, 0);
        m.push(0);
        let names = b"\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0";
        m.extend_from_slice(&(names.len() as u16).to_le_bytes());
        m.extend_from_slice(names);
        assert_eq!(
            dialects(&m).unwrap(),
            ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]
        );
        m[33] = 200;
        assert!(dialects(&m).is_err());
    }
}

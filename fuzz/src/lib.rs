//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use smbd::cmd;
use smbd::dcerpc::{RpcSnapshot, ServerInfo, ShareInfo, ShareKind};
use smbd::wire::NtStatus;
use smbd::wire::header::{Command, HEADER_LEN, Header, Target};

/// A whole SMB2 message for a command parser: a fixed request header, then
/// `body`. The parsers read offsets from the start of the header, so the
/// fuzzer only has to find bodies.
pub fn smb2_msg(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER_LEN + body.len());
    Header {
        credit_charge: 1,
        status: NtStatus::SUCCESS,
        command: Command::NEGOTIATE,
        credits: 1,
        flags: 0,
        next_command: 0,
        message_id: 1,
        target: Target::Tree(1),
        session_id: 1,
        signature: [0; 16],
    }
    .emit(&mut msg);
    msg.extend_from_slice(body);
    msg
}

/// Runs the request parser of `h.command` on `msg` (header and body);
/// what the front end does with every element of a compound.
pub fn parse_request(h: &Header, msg: &[u8]) {
    match h.command {
        Command::NEGOTIATE => drop(cmd::negotiate::parse(msg)),
        Command::SESSION_SETUP => drop(cmd::session_setup::parse(msg)),
        Command::LOGOFF => drop(cmd::logoff::parse(msg)),
        Command::TREE_CONNECT => drop(cmd::tree_connect::parse(msg)),
        Command::TREE_DISCONNECT => drop(cmd::tree_disconnect::parse(msg)),
        Command::CREATE => drop(cmd::create::parse(msg)),
        Command::CLOSE => drop(cmd::close::parse(msg)),
        Command::FLUSH => drop(cmd::flush::parse(msg)),
        Command::READ => drop(cmd::read::parse(msg)),
        Command::WRITE => drop(cmd::write::parse(&bytes::Bytes::copy_from_slice(msg))),
        Command::LOCK => drop(cmd::lock::parse(msg)),
        Command::IOCTL => drop(cmd::ioctl::parse(msg)),
        Command::ECHO => drop(cmd::echo::parse(msg)),
        Command::QUERY_DIRECTORY => drop(cmd::query_directory::parse(msg)),
        Command::CHANGE_NOTIFY => drop(cmd::notify::parse(msg)),
        Command::QUERY_INFO => drop(cmd::query_info::parse(msg)),
        Command::SET_INFO => drop(cmd::set_info::parse(msg)),
        Command::OPLOCK_BREAK => drop(cmd::oplock_break::parse(msg)),
        _ => {}
    }
}

/// Splits `data` into pieces, each announced by a little-endian u16
/// length; the last piece takes what is left. For targets that feed a
/// sequence of messages (an authentication exchange, pipe writes).
pub fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [lo, hi, rest @ ..] = data {
        let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        data = tail;
    }
    out
}

/// What srvsvc and wkssvc calls answer from: a server with a few shares.
pub fn snapshot() -> RpcSnapshot {
    let share = |name: &str, kind, hidden| ShareInfo {
        name: name.into(),
        kind,
        comment: format!("{name} comment"),
        path: format!("C:\\srv\\{name}"),
        hidden,
        max_users: None,
        current_users: 1,
    };
    RpcSnapshot {
        server: ServerInfo {
            netbios_name: "FUZZ".into(),
            workgroup: "WORKGROUP".into(),
            comment: "fuzz server".into(),
            version_major: 6,
            version_minor: 1,
            server_type: smbd::dcerpc::SAMBA_SERVER_TYPE,
        },
        shares: vec![
            share("share", ShareKind::Disk, false),
            share("hidden$", ShareKind::Disk, false),
            share("secret", ShareKind::Disk, true),
            share("IPC$", ShareKind::Ipc, false),
            share("printer", ShareKind::Printer, false),
        ],
        user: "fuzz".into(),
    }
}

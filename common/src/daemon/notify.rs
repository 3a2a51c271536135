//! systemd's readiness protocol (sd_notify(3)): one datagram to the socket
//! named by $NOTIFY_SOCKET. Without that variable this does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (for example `"READY=1"`, `"STOPPING=1"`, `"STATUS=..."`).
/// Returns whether a notification socket was there to receive it.
pub fn sd_notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let bytes = path.as_encoded_bytes();
    let addr = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name)?
    } else {
        SocketAddr::from_pathname(std::path::Path::new(&path))?
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

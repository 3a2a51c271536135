//! Which IPv4 interfaces nmbd serves (`interfaces`, `bind interfaces
//! only`), found with getifaddrs, and the two sockets per interface: one
//! bound to the interface address (unicast) and one to its subnet broadcast
//! address.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{FromRawFd, IntoRawFd};

use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, bind, setsockopt, socket, sockopt,
};

const LOG: &str = "nmbd::iface";

/// One IPv4 address of an interface: a subnet nmbd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interface {
    pub name_index: u32,
    pub ip: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub broadcast: Ipv4Addr,
    /// The hardware address, for node status (zeros when there is none).
    pub mac: [u8; 6],
}

impl Interface {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask);
        u32::from(self.ip) & m == u32::from(ip) & m
    }
}

/// An `interfaces` entry: a name ("eth0", "lo"), an address, or
/// address/prefix (or address/netmask).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Name(String),
    Net(Ipv4Addr, Option<u32>),
}

fn pattern(s: &str) -> Option<Pattern> {
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    if let Ok(ip) = addr.parse::<Ipv4Addr>() {
        let mask = match mask {
            None => None,
            Some(m) => Some(match m.parse::<u8>() {
                Ok(p) if p <= 32 => u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0),
                _ => u32::from(m.parse::<Ipv4Addr>().ok()?),
            }),
        };
        return Some(Pattern::Net(ip, mask));
    }
    if addr.contains(':') {
        return None; // IPv6: NetBIOS is IPv4 only
    }
    Some(Pattern::Name(s.to_string()))
}

/// The interfaces to serve now. An empty `interfaces` list means every
/// IPv4 interface but loopback (as Samba).
pub fn scan(interfaces: &[String]) -> Vec<Interface> {
    let patterns: Vec<Pattern> = interfaces.iter().filter_map(|s| pattern(s)).collect();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        tracing::warn!(target: LOG, "getifaddrs failed");
        return Vec::new();
    };
    let addrs: Vec<_> = addrs.collect();
    let mut out = Vec::new();
    for a in &addrs {
        let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) else {
            continue;
        };
        let ip = sin.ip();
        let netmask = a
            .netmask
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .map(|s| s.ip())
            .unwrap_or(Ipv4Addr::BROADCAST);
        let up = a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP);
        if !up {
            continue;
        }
        let wanted = if patterns.is_empty() {
            !ip.is_loopback()
        } else {
            patterns.iter().any(|p| match p {
                Pattern::Name(n) => *n == a.interface_name,
                Pattern::Net(net, None) => *net == ip,
                Pattern::Net(net, Some(m)) => {
                    *net == ip || (u32::from(*net) & m == u32::from(ip) & m)
                }
            })
        };
        if !wanted {
            continue;
        }
        let broadcast = a
            .broadcast
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .map(|s| s.ip())
            .unwrap_or_else(|| Ipv4Addr::from(u32::from(ip) | !u32::from(netmask)));
        let mac = addrs
            .iter()
            .filter(|l| l.interface_name == a.interface_name)
            .find_map(|l| l.address.as_ref()?.as_link_addr()?.addr())
            .unwrap_or([0; 6]);
        let name_index = nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0);
        let iface = Interface {
            name_index,
            ip,
            netmask,
            broadcast,
            mac,
        };
        if !out.contains(&iface) {
            out.push(iface);
        }
    }
    out
}

/// Receive buffer asked for: a burst of a few thousand datagrams (a flood
/// from one host) waits in the kernel instead of pushing out everyone
/// else's. Above `net.core.rmem_max` only with CAP_NET_ADMIN (as root).
const RECV_BUFFER: usize = 4 << 20;

/// A UDP socket with SO_REUSEADDR and SO_BROADCAST bound to `addr`.
pub fn udp_socket(addr: SocketAddrV4) -> std::io::Result<tokio::net::UdpSocket> {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    setsockopt(&fd, sockopt::Broadcast, &true)?;
    if setsockopt(&fd, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
        // Not privileged: as much as the system allows.
        let _ = setsockopt(&fd, sockopt::RcvBuf, &RECV_BUFFER);
    }
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(addr),
    )?;
    // SAFETY: `fd` is a fresh datagram socket we own; ownership moves to
    // the std socket.
    let std = unsafe { std::net::UdpSocket::from_raw_fd(fd.into_raw_fd()) };
    tokio::net::UdpSocket::from_std(std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(pattern("eth0"), Some(Pattern::Name("eth0".into())));
        assert_eq!(
            pattern("10.1.2.3/24"),
            Some(Pattern::Net(Ipv4Addr::new(10, 1, 2, 3), Some(0xffffff00)))
        );
        assert_eq!(
            pattern("10.1.2.3/255.255.0.0"),
            Some(Pattern::Net(Ipv4Addr::new(10, 1, 2, 3), Some(0xffff0000)))
        );
        assert_eq!(pattern("::1"), None);
    }

    #[test]
    fn loopback_by_name() {
        let lo = scan(&["lo".to_string()]);
        assert!(lo.iter().any(|i| i.ip == Ipv4Addr::LOCALHOST));
        assert!(
            lo.iter()
                .all(|i| i.broadcast == Ipv4Addr::new(127, 255, 255, 255))
        );
    }
}

//! Which IPv4 interfaces nmbd serves (`interfaces`, `bind interfaces
//! only`), found with getifaddrs, and the two sockets per interface: one
//! bound to the interface address (unicast) and one to its subnet broadcast
//! address.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::guard::ReaderGate;

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

/// A datagram one of a subnet's sockets received.
#[derive(Debug)]
pub struct Received {
    /// The interface address of the subnet.
    pub subnet: Ipv4Addr,
    /// On the broadcast socket (else the unicast one).
    pub broadcast: bool,
    pub from: SocketAddrV4,
    pub data: Vec<u8>,
}

/// A subnet's two sockets on one port: the unicast one (bound to the
/// interface address; replies and our broadcasts leave through it) and the
/// broadcast one. Their readers hand what arrives to the service's task
/// and stop when this is dropped.
pub struct SubnetSockets {
    pub unicast: Arc<UdpSocket>,
    readers: Vec<JoinHandle<()>>,
}

impl SubnetSockets {
    /// Fails when the unicast socket cannot be bound; a broadcast address
    /// that cannot be bound is logged (`service` names what goes unheard).
    pub fn open<T: Send + 'static>(
        i: &Interface,
        port: u16,
        service: &str,
        tx: mpsc::Sender<T>,
        wrap: fn(Received) -> T,
    ) -> std::io::Result<SubnetSockets> {
        let unicast = Arc::new(udp_socket(SocketAddrV4::new(i.ip, port))?);
        let mut readers = vec![spawn_reader(unicast.clone(), i.ip, false, tx.clone(), wrap)];
        if i.broadcast != i.ip {
            match udp_socket(SocketAddrV4::new(i.broadcast, port)) {
                Ok(b) => readers.push(spawn_reader(Arc::new(b), i.ip, true, tx, wrap)),
                Err(e) => {
                    tracing::warn!(target: LOG, subnet = %i.ip, "cannot bind the broadcast address {}:{port}: {e}; {service} broadcasts will not be heard", i.broadcast)
                }
            }
        }
        Ok(SubnetSockets { unicast, readers })
    }
}

impl Drop for SubnetSockets {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

fn spawn_reader<T: Send + 'static>(
    sock: Arc<UdpSocket>,
    subnet: Ipv4Addr,
    broadcast: bool,
    tx: mpsc::Sender<T>,
    wrap: fn(Received) -> T,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        let mut gate = ReaderGate::new(Instant::now());
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, std::net::SocketAddr::V4(from))) => {
                    let crowded = tx.capacity() < tx.max_capacity() / 2;
                    if !gate.pass(*from.ip(), Instant::now(), crowded) {
                        continue;
                    }
                    // A full queue means we are flooded: drop.
                    let _ = tx.try_send(wrap(Received {
                        subnet,
                        broadcast,
                        from,
                        data: buf[..n].to_vec(),
                    }));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(target: LOG, subnet = %subnet, "recv: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
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

//! What every connection of one smbd shares: the configuration (swapped on
//! reload), the password database, the disk backend's open-file table, the
//! server's identity; and the listeners.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use common::smbconf::SmbConf;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::PassDb;
use crate::ntvfs::disk::DiskContext;

/// Limits that protect the server from a single client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_sessions_per_connection: usize,
    pub max_trees_per_session: usize,
    pub max_opens_per_tree: usize,
    pub max_pending_per_connection: usize,
    /// How long a connection may sit before its first NEGOTIATE.
    pub negotiate_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_sessions_per_connection: 64,
            max_trees_per_session: 256,
            max_opens_per_tree: 16384,
            max_pending_per_connection: 8192,
            negotiate_timeout: Duration::from_secs(60),
        }
    }
}

/// The password database, reloaded when its file changes.
pub struct Passwords {
    path: PathBuf,
    current: RwLock<(Arc<PassDb>, Option<SystemTime>)>,
}

impl Passwords {
    pub fn new(path: PathBuf) -> Passwords {
        let (db, mtime) = Self::read(&path);
        Passwords {
            path,
            current: RwLock::new((Arc::new(db), mtime)),
        }
    }

    fn read(path: &PathBuf) -> (PassDb, Option<SystemTime>) {
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        match PassDb::load(path) {
            Ok(db) => (db, mtime),
            Err(e) => {
                tracing::error!(target: "smbd::auth", "password database: {e}");
                (PassDb::empty(path), mtime)
            }
        }
    }

    /// The current database (re-read when the file's mtime changed).
    pub fn get(&self) -> Arc<PassDb> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        {
            let cur = self.current.read().expect("passwords");
            if cur.1 == mtime {
                return cur.0.clone();
            }
        }
        let (db, mtime) = Self::read(&self.path);
        let db = Arc::new(db);
        *self.current.write().expect("passwords") = (db.clone(), mtime);
        db
    }
}

/// Where an authenticated session lives and whose it is.
pub struct SessionRef {
    pub conn: Weak<crate::conn::Connection>,
    pub user: String,
}

pub struct Server {
    conf: RwLock<Arc<SmbConf>>,
    pub passwords: Passwords,
    pub disk: Arc<DiskContext>,
    pub guid: [u8; 16],
    pub start_time: u64,
    pub limits: Limits,
    next_session: AtomicU64,
    pub connections: AtomicUsize,
    /// Every authenticated session of the server, so a client that
    /// reconnects (SESSION_SETUP with PreviousSessionId) can end its old one
    /// wherever it lives.
    pub sessions: Mutex<HashMap<u64, SessionRef>>,
    /// Tells every connection to finish.
    pub shutdown: watch::Sender<bool>,
}

impl Server {
    pub fn new(conf: SmbConf, limits: Limits) -> Arc<Server> {
        let mut guid = [0u8; 16];
        let _ = getrandom::fill(&mut guid);
        let passdb = conf.global.private_dir.join("smbpasswd");
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Arc::new(Server {
            conf: RwLock::new(Arc::new(conf)),
            passwords: Passwords::new(passdb),
            disk: Arc::new(DiskContext::new()),
            guid,
            start_time: crate::wire::time::now(),
            limits,
            // Session ids fit in 32 bits, as Samba's do (smbtorture's
            // session-id test keeps one in a 32-bit variable).
            next_session: AtomicU64::new(
                u64::from(u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]) >> 1) | 1,
            ),
            connections: AtomicUsize::new(0),
            sessions: Mutex::new(HashMap::new()),
            shutdown: watch::channel(false).0,
        })
    }

    pub fn conf(&self) -> Arc<SmbConf> {
        self.conf.read().expect("conf").clone()
    }

    pub fn set_conf(&self, conf: SmbConf) {
        *self.conf.write().expect("conf") = Arc::new(conf);
    }

    pub fn new_session_id(&self) -> u64 {
        // Never 0 (no session) and never past 32 bits.
        loop {
            let id = self.next_session.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
            if id != 0 && id != 0xffff_ffff {
                return id;
            }
        }
    }
}

/// The addresses to listen on: every port of `smb ports` on the configured
/// interfaces when `bind interfaces only`, else on all addresses.
pub fn listen_addrs(conf: &SmbConf) -> Result<Vec<SocketAddr>, String> {
    let g = &conf.global;
    let ips: Vec<IpAddr> = if g.bind_interfaces_only && !g.interfaces.is_empty() {
        let mut ips = Vec::new();
        for i in &g.interfaces {
            let spec = i.split('/').next().unwrap_or(i);
            if let Ok(ip) = spec.parse::<IpAddr>() {
                ips.push(ip);
                continue;
            }
            let found = crate::server::interface_addrs(spec);
            if found.is_empty() {
                return Err(format!("interface {i:?} has no address"));
            }
            ips.extend(found);
        }
        ips
    } else {
        vec![IpAddr::from([0u8; 16])]
    };
    let mut out = Vec::new();
    for port in &g.smb_ports {
        for ip in &ips {
            out.push(SocketAddr::new(*ip, *port));
        }
    }
    Ok(out)
}

/// Addresses of the network interface named `name` ("lo", "eth0").
pub fn interface_addrs(name: &str) -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter(|a| a.interface_name == name)
        .filter_map(|a| {
            let s = a.address?;
            if let Some(v4) = s.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        })
        .collect()
}

/// Binds every listening socket (IPv6 wildcard also takes IPv4).
pub async fn bind(addrs: &[SocketAddr]) -> Result<Vec<(TcpListener, u16)>, String> {
    let mut out = Vec::new();
    for a in addrs {
        let sock = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(|e| format!("socket for {a}: {e}"))?;
        sock.set_reuseaddr(true).map_err(|e| format!("{a}: {e}"))?;
        sock.bind(*a)
            .map_err(|e| format!("cannot listen on {a}: {e}"))?;
        let l = sock
            .listen(1024)
            .map_err(|e| format!("cannot listen on {a}: {e}"))?;
        out.push((l, a.port()));
    }
    Ok(out)
}

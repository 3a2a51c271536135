//! smb.conf as Samba's admins write it: the subset smbd and nmbd honour
//! (DESIGN.md, "smb.conf subset both daemons honour"), read strictly into
//! typed structs.
//!
//! ```text
//! ; comment lines start with ; or #
//! [global]
//!   workgroup = TESTGRP
//!   smb ports = 4450 4451
//!   server string = a value continued \
//!                   on the next line
//!   # relative to this file's directory
//!   include = shares.conf
//! [share]
//!   path = /srv/share
//!   valid users = alice, @staff, "Domain Users"
//! ```
//!
//! What Samba does, we do: parameter names ignore case and blanks
//! ("NetBIOS Name" is "netbiosname"; we also ignore underscores, which Samba
//! does not); parameters before the first section are global; a section
//! header inside an included file stays in force after the include (as in
//! Samba, which then warns about global parameters in a share section);
//! share-level parameters in `[global]` are the defaults of every share
//! defined after them; values are taken literally, quotes included, except
//! in lists, where `"..."` groups words; `#` after a value is part of the
//! value.
//!
//! Stricter than Samba: a bad value is an error naming file, line,
//! parameter and what is accepted, and nothing of the configuration is used
//! (Samba ignores the line); so is a line that is neither a comment, a
//! section header nor `name = value` (Samba skips it silently, and a
//! forgotten `=` in `valid users alice` would open a share to everyone), a
//! share without a path (Samba makes it unavailable), and a missing include
//! file (Samba skips it). Relative include names are relative to the
//! including file's directory (Samba: the daemon's working directory).
//! An unknown parameter is a warning naming file and line, as in `testparm`.
//! Print shares (`[printers]`, `printable = yes`) are not served: they are
//! left out with a warning.

use std::fmt;
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Where smbd and nmbd look without `-s`.
pub const DEFAULT_PATH: &str = "/etc/samba/smb.conf";
/// Per file read (the main file and each include); a larger file is refused.
pub const MAX_FILE_SIZE: u64 = 1 << 20;
/// Includes nested deeper than this are refused.
pub const MAX_INCLUDE_DEPTH: usize = 10;
/// NetBIOS names (and workgroups) have at most 15 characters; the 16th byte
/// on the wire is the name type.
pub const MAX_NETBIOS_NAME: usize = 15;

/// SMB2/3 dialects, ordered; the value is the dialect revision on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u16)]
pub enum Dialect {
    Smb2_02 = 0x0202,
    Smb2_10 = 0x0210,
    Smb3_00 = 0x0300,
    Smb3_02 = 0x0302,
    Smb3_11 = 0x0311,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Smb2_02,
        Dialect::Smb2_10,
        Dialect::Smb3_00,
        Dialect::Smb3_02,
        Dialect::Smb3_11,
    ];

    /// The DialectRevision of SMB2 NEGOTIATE.
    pub fn wire(self) -> u16 {
        self as u16
    }

    pub fn from_wire(revision: u16) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.wire() == revision)
    }

    /// Samba's spelling, as in `server max protocol = SMB3_11`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Smb2_02 => "SMB2_02",
            Dialect::Smb2_10 => "SMB2_10",
            Dialect::Smb3_00 => "SMB3_00",
            Dialect::Smb3_02 => "SMB3_02",
            Dialect::Smb3_11 => "SMB3_11",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `map to guest`: when a failed logon becomes a guest session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapToGuest {
    Never,
    /// The user name does not exist.
    BadUser,
    /// The user exists but the password is wrong (a bad idea; Samba has it).
    BadPassword,
    /// Authenticated, but no Unix account (domain setups).
    BadUid,
}

/// `server signing`. SMB2 cannot switch signing off: `Disabled` and `Auto`
/// both sign when the client asks; only `Mandatory` requires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerSigning {
    /// default, auto, enabled, if_required, desired, yes, true, on, 1.
    Auto,
    /// mandatory, required, force, forced, enforced.
    Mandatory,
    /// disabled, off, no, false, 0.
    Disabled,
}

/// `smb encrypt` (`server smb encrypt`), globally and per share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmbEncrypt {
    /// off, disabled, no, false, 0: encryption not offered.
    Off,
    /// default, if_required, auto, enabled, yes, true, on, 1: offered, the
    /// client decides.
    Default,
    /// desired: turned on for every client that supports it.
    Desired,
    /// required, mandatory, force, forced, enforced: clients that cannot
    /// encrypt are refused.
    Required,
}

/// `preferred master`, `domain master`: yes, no or auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoolAuto {
    No,
    Yes,
    Auto,
}

/// An entry of `valid users` / `invalid users`. `@name` and `+name` are
/// Unix groups; anything else a user name. Samba's `%` substitutions (as in
/// `valid users = %S`) are kept as written, for the user of the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserOrGroup {
    User(String),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Global {
    /// Upper case, 1 to 15 characters.
    pub workgroup: String,
    /// Upper case, 1 to 15 characters. Default: the first label of the host
    /// name, upper case, cut to 15 characters.
    pub netbios_name: String,
    pub netbios_aliases: Vec<String>,
    /// Default "File server" (Samba's is "Samba %v"). `%` substitutions are
    /// kept as written.
    pub server_string: String,
    /// Interface names, addresses, address/mask, as written.
    pub interfaces: Vec<String>,
    pub bind_interfaces_only: bool,
    pub smb_ports: Vec<u16>,
    pub nbt_port: u16,
    pub dgram_port: u16,
    pub disable_netbios: bool,
    pub state_directory: PathBuf,
    pub lock_directory: PathBuf,
    pub cache_directory: PathBuf,
    pub pid_directory: PathBuf,
    pub private_dir: PathBuf,
    /// 0 to 10.
    pub log_level: u8,
    pub log_file: Option<PathBuf>,
    pub map_to_guest: MapToGuest,
    pub guest_account: String,
    pub server_min_protocol: Dialect,
    pub server_max_protocol: Dialect,
    pub server_signing: ServerSigning,
    /// As set in `[global]`: applies to sessions. Each share has its own.
    pub smb_encrypt: SmbEncrypt,
    pub os_level: u8,
    pub local_master: bool,
    pub preferred_master: BoolAuto,
    pub domain_master: BoolAuto,
    pub wins_support: bool,
    pub wins_server: Vec<Ipv4Addr>,
    pub browse_list: bool,
    /// nmbd (ours, not Samba's): seconds between the checks a browser that
    /// is not the local master makes that `WORKGROUP<1d>` still answers
    /// (Samba's browser_gone check, fixed there at 300). 10 to 3600.
    pub browser_check_interval: u32,
    /// smbd, read at start-up: the most files and directories one client
    /// connection may have open (Samba's name; there it is per smbd
    /// process, which is one client). Default 16384.
    pub max_open_files: u32,
    /// smbd, read at start-up: the most requests one connection may have
    /// in flight (received, not yet answered), waiting ones such as
    /// CHANGE_NOTIFY included; more ends the connection. Default 8192.
    pub max_pending_requests: u32,
    /// smbd, read at start-up: seconds a client may stall before it is
    /// dropped: from connecting to its NEGOTIATE, in the middle of a
    /// message it started to send, and while a response waits for it to
    /// read. Default 60.
    pub stall_timeout: u32,
}

impl Default for Global {
    /// Samba 4.17's defaults, but for `server string`.
    fn default() -> Self {
        Global {
            workgroup: "WORKGROUP".into(),
            netbios_name: host_netbios_name(),
            netbios_aliases: Vec::new(),
            server_string: "File server".into(),
            interfaces: Vec::new(),
            bind_interfaces_only: false,
            smb_ports: vec![445, 139],
            nbt_port: 137,
            dgram_port: 138,
            disable_netbios: false,
            state_directory: "/var/lib/samba".into(),
            lock_directory: "/run/samba".into(),
            cache_directory: "/var/cache/samba".into(),
            pid_directory: "/run/samba".into(),
            private_dir: "/var/lib/samba/private".into(),
            log_level: 0,
            log_file: None,
            map_to_guest: MapToGuest::Never,
            guest_account: "nobody".into(),
            server_min_protocol: Dialect::Smb2_02,
            server_max_protocol: Dialect::Smb3_11,
            server_signing: ServerSigning::Auto,
            smb_encrypt: SmbEncrypt::Default,
            os_level: 20,
            local_master: true,
            preferred_master: BoolAuto::Auto,
            domain_master: BoolAuto::Auto,
            wins_support: false,
            wins_server: Vec::new(),
            browse_list: true,
            browser_check_interval: 300,
            max_open_files: 16384,
            max_pending_requests: 8192,
            stall_timeout: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// As written in its first section header.
    pub name: String,
    /// Always `Some` but for `[homes]`, where `None` means the home
    /// directory of the connecting user. Absolute, or starting with a `%`
    /// substitution (kept as written).
    pub path: Option<PathBuf>,
    pub comment: String,
    pub read_only: bool,
    pub guest_ok: bool,
    /// Empty: everyone (who is not in `invalid_users`).
    pub valid_users: Vec<UserOrGroup>,
    pub invalid_users: Vec<UserOrGroup>,
    pub force_user: Option<String>,
    pub force_group: Option<String>,
    pub browseable: bool,
    pub create_mask: u32,
    pub directory_mask: u32,
    pub wide_links: bool,
    pub smb_encrypt: SmbEncrypt,
    /// false: the share is configured but refuses connections.
    pub available: bool,
}

impl Share {
    /// Samba 4.17's defaults.
    fn new(name: &str) -> Share {
        Share {
            name: name.to_string(),
            path: None,
            comment: String::new(),
            read_only: true,
            guest_ok: false,
            valid_users: Vec::new(),
            invalid_users: Vec::new(),
            force_user: None,
            force_group: None,
            browseable: true,
            create_mask: 0o744,
            directory_mask: 0o755,
            wide_links: false,
            smb_encrypt: SmbEncrypt::Default,
            available: true,
        }
    }

    pub fn is_homes(&self) -> bool {
        self.name.eq_ignore_ascii_case("homes")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmbConf {
    pub global: Global,
    /// In the order of their first section header.
    pub shares: Vec<Share>,
    /// Every file read (the main file and its includes, each once) with its
    /// modification time, so a daemon can notice a change without SIGHUP.
    pub sources: Vec<(PathBuf, Option<SystemTime>)>,
}

impl Default for SmbConf {
    fn default() -> Self {
        default_conf()
    }
}

impl SmbConf {
    /// Share names are case-insensitive.
    pub fn share(&self, name: &str) -> Option<&Share> {
        self.shares.iter().find(|s| same_share_name(&s.name, name))
    }

    /// Whether a file of [`SmbConf::sources`] has a different modification
    /// time now, or has gone or appeared.
    pub fn changed_on_disk(&self) -> bool {
        sources_changed(&self.sources)
    }
}

/// Whether a file of `sources` (as in [`SmbConf::sources`]) has a
/// different modification time now, or has gone or appeared.
pub fn sources_changed(sources: &[(PathBuf, Option<SystemTime>)]) -> bool {
    sources.iter().any(|(path, mtime)| modified(path) != *mtime)
}

/// A file's modification time now; None when it cannot be read.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn same_share_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// The built-in configuration: Samba's defaults and no shares.
pub fn default_conf() -> SmbConf {
    SmbConf {
        global: Global::default(),
        shares: Vec::new(),
        sources: Vec::new(),
    }
}

/// Where a parameter was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        file: PathBuf,
        line: usize,
    },
    /// A `--option` of the command line.
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line } => write!(f, "{}:{line}", file.display()),
            Origin::CommandLine => f.write_str("--option"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfError {
    /// The main file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The main file is not something to read a configuration from.
    #[error("{}: {why}", path.display())]
    File { path: PathBuf, why: String },
    /// An `include` that could not be read, loops or nests too deep.
    #[error("{origin}: include {}: {why}", path.display())]
    Include {
        origin: Origin,
        path: PathBuf,
        why: String,
    },
    #[error("{origin}: {why}")]
    Syntax { origin: Origin, why: String },
    #[error("{origin}: invalid value {value:?} for {param}: {accepted}")]
    Value {
        origin: Origin,
        param: &'static str,
        value: String,
        accepted: String,
    },
    /// A configuration whose lines are each fine but that does not hold
    /// together (a share without a path, min protocol above max).
    #[error("{origin}: {why}")]
    Invalid { origin: Origin, why: String },
}

/// Reads `path` and its includes, then applies `overrides` (each
/// `name=value`, from `--option`) as if written in `[global]` after the
/// file. Nothing is returned unless all of it is valid.
pub fn load(path: &Path, overrides: &[String]) -> Result<(SmbConf, Vec<Warning>), ConfError> {
    let (bytes, mtime) = read_file(path).map_err(|e| match e {
        ReadError::Io(source) => ConfError::Io {
            path: path.to_owned(),
            source,
        },
        ReadError::Bad(why) => ConfError::File {
            path: path.to_owned(),
            why,
        },
    })?;
    let mut loader = Loader::new();
    loader.sources.push((path.to_owned(), mtime));
    loader.run_file(&bytes, path)?;
    loader.apply_overrides(overrides)?;
    loader.finish()
}

/// Parses the text of an smb.conf; `file` names it in messages, and its
/// directory is where relative includes are looked for (includes are read
/// from disk and listed in `sources`; `file` itself is not).
pub fn parse(text: &str, file: &Path) -> Result<(SmbConf, Vec<Warning>), ConfError> {
    let mut loader = Loader::new();
    loader.run_file(text.as_bytes(), file)?;
    loader.finish()
}

// ---------------------------------------------------------------------------
// Reading files

enum ReadError {
    Io(std::io::Error),
    Bad(String),
}

/// The bytes of a regular file of at most MAX_FILE_SIZE, and its mtime.
/// O_NONBLOCK so that a FIFO named by mistake does not hang the daemon.
fn read_file(path: &Path) -> Result<(Vec<u8>, Option<SystemTime>), ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::Bad("is not a regular file".into()));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(ReadError::Bad(format!(
            "is {} bytes; a configuration file is at most {MAX_FILE_SIZE}",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::Bad(format!(
            "grew beyond {MAX_FILE_SIZE} bytes while being read"
        )));
    }
    Ok((bytes, meta.modified().ok()))
}

/// The host name's first label as a NetBIOS name (Samba's default).
fn host_netbios_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf, which is
    // valid and writable for that length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if r == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    netbios_from_host(&host)
}

fn netbios_from_host(host: &str) -> String {
    let name: String = host
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|&c| c.is_ascii_graphic() && !NETBIOS_FORBIDDEN.contains(c) && c != '.')
        .take(MAX_NETBIOS_NAME)
        .collect::<String>()
        .to_ascii_uppercase();
    if name.is_empty() {
        "LOCALHOST".into()
    } else {
        name
    }
}

// ---------------------------------------------------------------------------
// Parameters

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    // global
    Workgroup,
    NetbiosName,
    NetbiosAliases,
    ServerString,
    Interfaces,
    BindInterfacesOnly,
    SmbPorts,
    NbtPort,
    DgramPort,
    DisableNetbios,
    StateDirectory,
    LockDirectory,
    CacheDirectory,
    PidDirectory,
    PrivateDir,
    LogLevel,
    LogFile,
    MapToGuest,
    GuestAccount,
    ServerMinProtocol,
    ServerMaxProtocol,
    ServerSigning,
    OsLevel,
    LocalMaster,
    PreferredMaster,
    DomainMaster,
    WinsSupport,
    WinsServer,
    BrowseList,
    BrowserCheckInterval,
    MaxOpenFiles,
    MaxPendingRequests,
    StallTimeout,
    // share (in [global]: the default of every share)
    Path,
    Comment,
    ReadOnly,
    GuestOk,
    ValidUsers,
    InvalidUsers,
    ForceUser,
    ForceGroup,
    Browseable,
    CreateMask,
    DirectoryMask,
    WideLinks,
    SmbEncrypt,
    Available,
    Printable,
    // anywhere
    Include,
}

/// A name as looked up: the parameter, and whether it is an inverse
/// synonym (`writeable` is `read only` inverted).
#[derive(Debug, Clone, Copy)]
struct Key {
    param: Param,
    name: &'static str,
    inverted: bool,
}

/// Every accepted spelling (Samba's synonyms included). Names are compared
/// without case, blanks and underscores.
const NAMES: &[(&str, Param, bool)] = &[
    ("workgroup", Param::Workgroup, false),
    ("netbios name", Param::NetbiosName, false),
    ("netbios aliases", Param::NetbiosAliases, false),
    ("server string", Param::ServerString, false),
    ("interfaces", Param::Interfaces, false),
    ("bind interfaces only", Param::BindInterfacesOnly, false),
    ("smb ports", Param::SmbPorts, false),
    ("nbt port", Param::NbtPort, false),
    ("dgram port", Param::DgramPort, false),
    ("disable netbios", Param::DisableNetbios, false),
    ("state directory", Param::StateDirectory, false),
    ("lock directory", Param::LockDirectory, false),
    ("lock dir", Param::LockDirectory, false),
    ("cache directory", Param::CacheDirectory, false),
    ("pid directory", Param::PidDirectory, false),
    ("private dir", Param::PrivateDir, false),
    ("private directory", Param::PrivateDir, false),
    ("log level", Param::LogLevel, false),
    ("debug level", Param::LogLevel, false),
    ("log file", Param::LogFile, false),
    ("map to guest", Param::MapToGuest, false),
    ("guest account", Param::GuestAccount, false),
    ("server min protocol", Param::ServerMinProtocol, false),
    ("min protocol", Param::ServerMinProtocol, false),
    ("server max protocol", Param::ServerMaxProtocol, false),
    ("max protocol", Param::ServerMaxProtocol, false),
    ("protocol", Param::ServerMaxProtocol, false),
    ("server signing", Param::ServerSigning, false),
    ("os level", Param::OsLevel, false),
    ("browser check interval", Param::BrowserCheckInterval, false),
    ("local master", Param::LocalMaster, false),
    ("preferred master", Param::PreferredMaster, false),
    ("prefered master", Param::PreferredMaster, false),
    ("domain master", Param::DomainMaster, false),
    ("wins support", Param::WinsSupport, false),
    ("wins server", Param::WinsServer, false),
    ("browse list", Param::BrowseList, false),
    ("max open files", Param::MaxOpenFiles, false),
    ("max pending requests", Param::MaxPendingRequests, false),
    ("stall timeout", Param::StallTimeout, false),
    ("path", Param::Path, false),
    ("directory", Param::Path, false),
    ("comment", Param::Comment, false),
    ("read only", Param::ReadOnly, false),
    ("writeable", Param::ReadOnly, true),
    ("writable", Param::ReadOnly, true),
    ("write ok", Param::ReadOnly, true),
    ("guest ok", Param::GuestOk, false),
    ("public", Param::GuestOk, false),
    ("valid users", Param::ValidUsers, false),
    ("invalid users", Param::InvalidUsers, false),
    ("force user", Param::ForceUser, false),
    ("force group", Param::ForceGroup, false),
    ("group", Param::ForceGroup, false),
    ("browseable", Param::Browseable, false),
    ("browsable", Param::Browseable, false),
    ("create mask", Param::CreateMask, false),
    ("create mode", Param::CreateMask, false),
    ("directory mask", Param::DirectoryMask, false),
    ("directory mode", Param::DirectoryMask, false),
    ("wide links", Param::WideLinks, false),
    ("smb encrypt", Param::SmbEncrypt, false),
    ("server smb encrypt", Param::SmbEncrypt, false),
    ("available", Param::Available, false),
    ("printable", Param::Printable, false),
    ("print ok", Param::Printable, false),
    ("include", Param::Include, false),
];

/// Lower case, without blanks and underscores.
fn fold_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn lookup(name: &str) -> Option<Key> {
    let folded = fold_name(name);
    NAMES
        .iter()
        .find(|(n, _, _)| fold_name(n) == folded)
        .map(|&(name, param, inverted)| Key {
            param,
            name,
            inverted,
        })
}

impl Param {
    fn is_global(self) -> bool {
        matches!(
            self,
            Param::Workgroup
                | Param::NetbiosName
                | Param::NetbiosAliases
                | Param::ServerString
                | Param::Interfaces
                | Param::BindInterfacesOnly
                | Param::SmbPorts
                | Param::NbtPort
                | Param::DgramPort
                | Param::DisableNetbios
                | Param::StateDirectory
                | Param::LockDirectory
                | Param::CacheDirectory
                | Param::PidDirectory
                | Param::PrivateDir
                | Param::LogLevel
                | Param::LogFile
                | Param::MapToGuest
                | Param::GuestAccount
                | Param::ServerMinProtocol
                | Param::ServerMaxProtocol
                | Param::ServerSigning
                | Param::OsLevel
                | Param::LocalMaster
                | Param::PreferredMaster
                | Param::DomainMaster
                | Param::WinsSupport
                | Param::WinsServer
                | Param::BrowseList
                | Param::BrowserCheckInterval
                | Param::MaxOpenFiles
                | Param::MaxPendingRequests
                | Param::StallTimeout
        )
    }
}

// ---------------------------------------------------------------------------
// Values. Each checker returns what is accepted as its error.

const BOOLEAN: &str = "yes, no, true, false, on, off, 1 or 0";

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(BOOLEAN.into()),
    }
}

/// An enumerated value as Samba compares it: without case and blanks.
fn word(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn number(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let accepted = || format!("a whole number from {min} to {max}");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(accepted());
    }
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(accepted()),
    }
}

fn port(value: &str) -> Result<u16, String> {
    number(value, 1, 65535)
        .map(|n| n as u16)
        .map_err(|_| "a port number from 1 to 65535".into())
}

fn octal_mode(value: &str) -> Result<u32, String> {
    let accepted = || "an octal mode from 0000 to 7777, such as 0744".to_string();
    if value.is_empty() || value.len() > 5 || !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(accepted());
    }
    match u32::from_str_radix(value, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(accepted()),
    }
}

/// An absolute path, or one starting with a `%` substitution (`%H`).
fn abs_path(value: &str) -> Result<PathBuf, String> {
    if value.starts_with('/') || value.starts_with('%') {
        if value.contains('\0') {
            return Err("a path without NUL characters".into());
        }
        return Ok(PathBuf::from(value));
    }
    if value.starts_with('"') || value.starts_with('\'') {
        return Err("an absolute path, without quotes (Samba takes quotes literally)".into());
    }
    Err("an absolute path".into())
}

/// Characters no NetBIOS name may contain.
const NETBIOS_FORBIDDEN: &str = "\\/:*?\"<>|";

fn netbios_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NETBIOS_NAME
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '.' && !NETBIOS_FORBIDDEN.contains(c));
    if ok {
        Ok(value.to_ascii_uppercase())
    } else {
        Err(format!(
            "1 to {MAX_NETBIOS_NAME} ASCII characters without blanks, dots or any of {NETBIOS_FORBIDDEN}"
        ))
    }
}

fn workgroup(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NETBIOS_NAME
        && value
            .chars()
            .all(|c| (c.is_ascii_graphic() || c == ' ') && !NETBIOS_FORBIDDEN.contains(c));
    if ok {
        Ok(value.to_ascii_uppercase())
    } else {
        Err(format!(
            "1 to {MAX_NETBIOS_NAME} ASCII characters without any of {NETBIOS_FORBIDDEN}"
        ))
    }
}

/// Samba's lists: items separated by blanks, commas or semicolons; a `"`
/// starts or ends a quoted part, in which separators are ordinary
/// characters; the quotes themselves are dropped.
fn list(value: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut started = false;
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if !quoted && (c.is_whitespace() || c == ',' || c == ';') => {
                if started {
                    items.push(std::mem::take(&mut item));
                    started = false;
                }
            }
            c => {
                item.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return Err(
            "a list separated by blanks or commas, with \"...\" around items that contain blanks (a closing \" is missing)"
                .into(),
        );
    }
    if started {
        items.push(item);
    }
    Ok(items)
}

fn users(value: &str) -> Result<Vec<UserOrGroup>, String> {
    let accepted =
        "user names, and groups as @name or +name (NIS netgroups, &name, are not supported)";
    let mut out = Vec::new();
    for item in list(value)? {
        let group = item.trim_start_matches(['@', '+', '&']);
        let prefix = &item[..item.len() - group.len()];
        if prefix.contains('&') || (!prefix.is_empty() && group.is_empty()) {
            return Err(accepted.into());
        }
        out.push(if prefix.is_empty() {
            UserOrGroup::User(item)
        } else {
            UserOrGroup::Group(group.to_string())
        });
    }
    Ok(out)
}

fn signing(value: &str) -> Result<ServerSigning, String> {
    match word(value).as_str() {
        "default" | "auto" | "enabled" | "if_required" | "desired" | "yes" | "true" | "on"
        | "1" => Ok(ServerSigning::Auto),
        "mandatory" | "required" | "force" | "forced" | "enforced" => {
            Ok(ServerSigning::Mandatory)
        }
        "disabled" | "off" | "no" | "false" | "0" => Ok(ServerSigning::Disabled),
        _ => Err("default, auto, if_required, enabled, desired, mandatory, required, disabled or off (or a boolean)".into()),
    }
}

fn encrypt(value: &str) -> Result<SmbEncrypt, String> {
    match word(value).as_str() {
        "off" | "disabled" | "no" | "false" | "0" => Ok(SmbEncrypt::Off),
        "default" | "if_required" | "auto" | "enabled" | "yes" | "true" | "on" | "1" => {
            Ok(SmbEncrypt::Default)
        }
        "desired" => Ok(SmbEncrypt::Desired),
        "required" | "mandatory" | "force" | "forced" | "enforced" => Ok(SmbEncrypt::Required),
        _ => Err("off, disabled, default, if_required, auto, enabled, desired, required or mandatory (or a boolean)".into()),
    }
}

fn bool_auto(value: &str) -> Result<BoolAuto, String> {
    // Samba's enum_bool_auto: not on/off.
    match word(value).as_str() {
        "yes" | "true" | "1" => Ok(BoolAuto::Yes),
        "no" | "false" | "0" => Ok(BoolAuto::No),
        "auto" => Ok(BoolAuto::Auto),
        _ => Err("auto, yes, no, true, false, 1 or 0".into()),
    }
}

fn map_to_guest(value: &str) -> Result<MapToGuest, String> {
    match word(value).as_str() {
        "never" => Ok(MapToGuest::Never),
        "baduser" => Ok(MapToGuest::BadUser),
        "badpassword" => Ok(MapToGuest::BadPassword),
        "baduid" => Ok(MapToGuest::BadUid),
        _ => Err("Never, Bad User, Bad Password or Bad Uid".into()),
    }
}

const PROTOCOLS: &str =
    "SMB2_02, SMB2_10, SMB2 (= SMB2_10), SMB3_00, SMB3_02, SMB3_11, SMB3 (= SMB3_11) or default";

/// Samba's table: "SMB2" is SMB2_10 and "SMB3" is SMB3_11, for min and max
/// alike. `None`: an SMB1 protocol.
fn protocol(value: &str, default: Dialect) -> Result<Option<Dialect>, String> {
    Ok(Some(match word(value).as_str() {
        "default" => default,
        "smb2_02" => Dialect::Smb2_02,
        "smb2_10" | "smb2" => Dialect::Smb2_10,
        "smb3_00" => Dialect::Smb3_00,
        "smb3_02" => Dialect::Smb3_02,
        "smb3_11" | "smb3" => Dialect::Smb3_11,
        "nt1" | "lanman1" | "lanman2" | "core" | "coreplus" | "core+" => return Ok(None),
        _ => return Err(PROTOCOLS.into()),
    }))
}

/// `log level`: a number, optionally followed by Samba's per-class
/// `class:level` entries, which are ignored with a note.
fn log_level(value: &str, notes: &mut Vec<String>) -> Result<u8, String> {
    let accepted = || {
        "a number from 0 to 10, optionally followed by Samba's class:level entries (ignored)"
            .to_string()
    };
    let mut words = value.split(|c: char| c.is_whitespace() || c == ',');
    let first = words
        .by_ref()
        .find(|w| !w.is_empty())
        .ok_or_else(accepted)?
        .to_ascii_lowercase();
    let level = first.strip_prefix("all:").unwrap_or(&first);
    let level = number(level, 0, 10).map_err(|_| accepted())? as u8;
    let rest: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
    if !rest.is_empty() {
        notes.push(format!(
            "per-class log levels are not supported; {:?} ignored, log level {level} applies to everything",
            rest.join(" ")
        ));
    }
    Ok(level)
}

// ---------------------------------------------------------------------------
// Share settings as layers: [global] defaults, --option, the share's own.

#[derive(Debug, Clone, Default)]
struct ShareLayer {
    path: Option<PathBuf>,
    comment: Option<String>,
    read_only: Option<bool>,
    guest_ok: Option<bool>,
    valid_users: Option<Vec<UserOrGroup>>,
    invalid_users: Option<Vec<UserOrGroup>>,
    force_user: Option<Option<String>>,
    force_group: Option<Option<String>>,
    browseable: Option<bool>,
    create_mask: Option<u32>,
    directory_mask: Option<u32>,
    wide_links: Option<bool>,
    smb_encrypt: Option<SmbEncrypt>,
    available: Option<bool>,
    printable: Option<bool>,
}

fn over<T: Clone>(low: &mut Option<T>, high: &Option<T>) {
    if high.is_some() {
        low.clone_from(high);
    }
}

impl ShareLayer {
    /// Settings of `high` replace those of `self`.
    fn overlay(&mut self, high: &ShareLayer) {
        over(&mut self.path, &high.path);
        over(&mut self.comment, &high.comment);
        over(&mut self.read_only, &high.read_only);
        over(&mut self.guest_ok, &high.guest_ok);
        over(&mut self.valid_users, &high.valid_users);
        over(&mut self.invalid_users, &high.invalid_users);
        over(&mut self.force_user, &high.force_user);
        over(&mut self.force_group, &high.force_group);
        over(&mut self.browseable, &high.browseable);
        over(&mut self.create_mask, &high.create_mask);
        over(&mut self.directory_mask, &high.directory_mask);
        over(&mut self.wide_links, &high.wide_links);
        over(&mut self.smb_encrypt, &high.smb_encrypt);
        over(&mut self.available, &high.available);
        over(&mut self.printable, &high.printable);
    }

    fn apply(&mut self, key: Key, value: &str) -> Result<(), String> {
        let flag = |v: &str| boolean(v).map(|b| b != key.inverted);
        let name = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key.param {
            Param::Path => self.path = Some(abs_path(value)?),
            Param::Comment => self.comment = Some(value.to_string()),
            Param::ReadOnly => self.read_only = Some(flag(value)?),
            Param::GuestOk => self.guest_ok = Some(flag(value)?),
            Param::ValidUsers => self.valid_users = Some(users(value)?),
            Param::InvalidUsers => self.invalid_users = Some(users(value)?),
            Param::ForceUser => self.force_user = Some(name(value)),
            Param::ForceGroup => self.force_group = Some(name(value)),
            Param::Browseable => self.browseable = Some(flag(value)?),
            Param::CreateMask => self.create_mask = Some(octal_mode(value)?),
            Param::DirectoryMask => self.directory_mask = Some(octal_mode(value)?),
            Param::WideLinks => self.wide_links = Some(flag(value)?),
            Param::SmbEncrypt => self.smb_encrypt = Some(encrypt(value)?),
            Param::Available => self.available = Some(flag(value)?),
            Param::Printable => self.printable = Some(flag(value)?),
            _ => {}
        }
        Ok(())
    }

    fn resolve(self, name: &str) -> Share {
        let d = Share::new(name);
        Share {
            name: d.name,
            path: self.path,
            comment: self.comment.unwrap_or(d.comment),
            read_only: self.read_only.unwrap_or(d.read_only),
            guest_ok: self.guest_ok.unwrap_or(d.guest_ok),
            valid_users: self.valid_users.unwrap_or(d.valid_users),
            invalid_users: self.invalid_users.unwrap_or(d.invalid_users),
            force_user: self.force_user.unwrap_or(d.force_user),
            force_group: self.force_group.unwrap_or(d.force_group),
            browseable: self.browseable.unwrap_or(d.browseable),
            create_mask: self.create_mask.unwrap_or(d.create_mask),
            directory_mask: self.directory_mask.unwrap_or(d.directory_mask),
            wide_links: self.wide_links.unwrap_or(d.wide_links),
            smb_encrypt: self.smb_encrypt.unwrap_or(d.smb_encrypt),
            available: self.available.unwrap_or(d.available),
        }
    }
}

fn apply_global(
    g: &mut Global,
    key: Key,
    value: &str,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let flag = |v: &str| boolean(v).map(|b| b != key.inverted);
    match key.param {
        Param::Workgroup => g.workgroup = workgroup(value)?,
        Param::NetbiosName => g.netbios_name = netbios_name(value)?,
        Param::NetbiosAliases => {
            g.netbios_aliases = list(value)?
                .iter()
                .map(|a| netbios_name(a))
                .collect::<Result<_, _>>()
                .map_err(|a| format!("a list of NetBIOS names, each {a}"))?
        }
        Param::ServerString => g.server_string = value.to_string(),
        Param::Interfaces => g.interfaces = list(value)?,
        Param::BindInterfacesOnly => g.bind_interfaces_only = flag(value)?,
        Param::SmbPorts => {
            let mut ports = Vec::new();
            for p in list(value)? {
                let p = port(&p).map_err(|_| "one or more port numbers from 1 to 65535")?;
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            if ports.is_empty() {
                return Err("one or more port numbers from 1 to 65535".into());
            }
            g.smb_ports = ports;
        }
        Param::NbtPort => g.nbt_port = port(value)?,
        Param::DgramPort => g.dgram_port = port(value)?,
        Param::DisableNetbios => g.disable_netbios = flag(value)?,
        Param::StateDirectory => g.state_directory = abs_path(value)?,
        Param::LockDirectory => g.lock_directory = abs_path(value)?,
        Param::CacheDirectory => g.cache_directory = abs_path(value)?,
        Param::PidDirectory => g.pid_directory = abs_path(value)?,
        Param::PrivateDir => g.private_dir = abs_path(value)?,
        Param::LogLevel => g.log_level = log_level(value, notes)?,
        Param::LogFile => {
            g.log_file = if value.is_empty() {
                None
            } else {
                Some(abs_path(value)?)
            }
        }
        Param::MapToGuest => g.map_to_guest = map_to_guest(value)?,
        Param::GuestAccount => {
            if value.is_empty() {
                return Err("a user name".into());
            }
            g.guest_account = value.to_string();
        }
        Param::ServerMinProtocol => {
            g.server_min_protocol = match protocol(value, Dialect::Smb2_02)? {
                Some(d) => d,
                None => {
                    notes.push(format!(
                        "SMB1 ({value}) is not served; server min protocol is {}",
                        Dialect::Smb2_02
                    ));
                    Dialect::Smb2_02
                }
            }
        }
        Param::ServerMaxProtocol => {
            g.server_max_protocol = protocol(value, Dialect::Smb3_11)?
                .ok_or_else(|| format!("{PROTOCOLS} (SMB1 is not served)"))?
        }
        Param::ServerSigning => g.server_signing = signing(value)?,
        Param::OsLevel => g.os_level = number(value, 0, 255)? as u8,
        Param::BrowserCheckInterval => g.browser_check_interval = number(value, 10, 3600)? as u32,
        Param::LocalMaster => g.local_master = flag(value)?,
        Param::PreferredMaster => g.preferred_master = bool_auto(value)?,
        Param::DomainMaster => g.domain_master = bool_auto(value)?,
        Param::WinsSupport => g.wins_support = flag(value)?,
        Param::WinsServer => {
            g.wins_server = list(value)?
                .iter()
                .map(|a| a.parse::<Ipv4Addr>())
                .collect::<Result<_, _>>()
                .map_err(|_| "a list of IPv4 addresses")?
        }
        Param::BrowseList => g.browse_list = flag(value)?,
        Param::MaxOpenFiles => g.max_open_files = number(value, 1, 1 << 20)? as u32,
        Param::MaxPendingRequests => g.max_pending_requests = number(value, 1, 1 << 20)? as u32,
        Param::StallTimeout => g.stall_timeout = number(value, 1, 86400)? as u32,
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The loader

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Global,
    Share(usize),
    CommandLine,
}

struct Draft {
    name: String,
    /// Its first section header.
    origin: Origin,
    /// The [global] defaults when the share was first defined.
    inherited: ShareLayer,
    own: ShareLayer,
}

struct Loader {
    global: Global,
    /// Counts settings, to tell which of two conflicting ones came later.
    seq: usize,
    min_protocol_at: Option<(usize, Origin)>,
    max_protocol_at: Option<(usize, Origin)>,
    wins_support_at: Option<(usize, Origin)>,
    wins_server_at: Option<(usize, Origin)>,
    defaults: ShareLayer,
    cmdline: ShareLayer,
    shares: Vec<Draft>,
    target: Target,
    warnings: Vec<Warning>,
    sources: Vec<(PathBuf, Option<SystemTime>)>,
    /// The files being read, outermost first, canonical where possible.
    stack: Vec<PathBuf>,
}

/// A line of the file, decoded; `None` if it is not UTF-8.
fn decode(raw: &[u8]) -> Option<&str> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    std::str::from_utf8(raw).ok()
}

fn is_comment(raw: &[u8]) -> bool {
    let start = raw.iter().position(|b| !b.is_ascii_whitespace());
    matches!(start.map(|i| raw[i]), Some(b'#' | b';'))
}

impl Loader {
    fn new() -> Loader {
        Loader {
            global: Global::default(),
            seq: 0,
            min_protocol_at: None,
            max_protocol_at: None,
            wins_support_at: None,
            wins_server_at: None,
            defaults: ShareLayer::default(),
            cmdline: ShareLayer::default(),
            shares: Vec::new(),
            target: Target::Global,
            warnings: Vec::new(),
            sources: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn warn(&mut self, origin: &Origin, message: String) {
        self.warnings.push(Warning {
            origin: origin.clone(),
            message,
        });
    }

    fn run_file(&mut self, bytes: &[u8], file: &Path) -> Result<(), ConfError> {
        self.stack
            .push(std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned()));
        let r = self.run_lines(bytes, file);
        self.stack.pop();
        r
    }

    fn run_lines(&mut self, bytes: &[u8], file: &Path) -> Result<(), ConfError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let not_utf8 = |line| ConfError::Syntax {
            origin: Origin::File {
                file: file.to_owned(),
                line,
            },
            why: "line is not valid UTF-8".into(),
        };
        let mut lines = bytes.split(|&b| b == b'\n').enumerate();
        while let Some((idx, raw)) = lines.next() {
            let line = idx + 1;
            // Comments end at their line, even after a backslash (as in
            // Samba), and need not be UTF-8.
            if is_comment(raw) {
                continue;
            }
            let mut text = decode(raw)
                .ok_or_else(|| not_utf8(line))?
                .trim()
                .to_string();
            while text.ends_with('\\') {
                text.pop();
                let Some((next_idx, next)) = lines.next() else {
                    break;
                };
                let next = decode(next).ok_or_else(|| not_utf8(next_idx + 1))?;
                text.push_str(next.trim());
            }
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let origin = Origin::File {
                file: file.to_owned(),
                line,
            };
            if let Some(header) = text.strip_prefix('[') {
                self.section(header, &origin)?;
                continue;
            }
            let Some((name, value)) = text.split_once('=') else {
                return Err(ConfError::Syntax {
                    origin,
                    why: format!(
                        "expected \"name = value\", a [section] or a comment, found {text:?}"
                    ),
                });
            };
            self.set(name.trim(), value.trim(), &origin, Some(file))?;
        }
        Ok(())
    }

    fn section(&mut self, header: &str, origin: &Origin) -> Result<(), ConfError> {
        let Some((name, rest)) = header.split_once(']') else {
            return Err(ConfError::Syntax {
                origin: origin.clone(),
                why: "section header without a closing ]".into(),
            });
        };
        let name = name.trim();
        if !rest.trim().is_empty() {
            self.warn(
                origin,
                format!("text after [{name}] ignored: {:?}", rest.trim()),
            );
        }
        if name.eq_ignore_ascii_case("global") || name.eq_ignore_ascii_case("globals") {
            self.target = Target::Global;
            return Ok(());
        }
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(ConfError::Syntax {
                origin: origin.clone(),
                why: format!(
                    "invalid share name [{name}]: a share name is not empty and has no / \\ or control characters"
                ),
            });
        }
        if let Some(i) = self
            .shares
            .iter()
            .position(|d| same_share_name(&d.name, name))
        {
            let first = self.shares[i].origin.clone();
            self.warn(
                origin,
                format!(
                    "share [{name}] already defined at {first}; the two are merged, later values win"
                ),
            );
            self.target = Target::Share(i);
            return Ok(());
        }
        self.shares.push(Draft {
            name: name.to_string(),
            origin: origin.clone(),
            inherited: self.defaults.clone(),
            own: ShareLayer::default(),
        });
        self.target = Target::Share(self.shares.len() - 1);
        Ok(())
    }

    /// `dir_of`: the file the line is in; `None` for --option.
    fn set(
        &mut self,
        name: &str,
        value: &str,
        origin: &Origin,
        dir_of: Option<&Path>,
    ) -> Result<(), ConfError> {
        if name.is_empty() {
            return Err(ConfError::Syntax {
                origin: origin.clone(),
                why: "a parameter name is missing before =".into(),
            });
        }
        let Some(key) = lookup(name) else {
            self.warn(origin, format!("unknown parameter {name:?} ignored"));
            return Ok(());
        };
        let bad = |accepted: String| ConfError::Value {
            origin: origin.clone(),
            param: key.name,
            value: value.to_string(),
            accepted,
        };
        if key.param == Param::Include {
            let Some(file) = dir_of else {
                return Err(bad("nothing: include is only read in files".into()));
            };
            return self.include(value, origin, file);
        }
        let mut notes = Vec::new();
        match (key.param.is_global(), self.target) {
            (true, Target::Share(i)) => {
                let share = self.shares[i].name.clone();
                self.warn(
                    origin,
                    format!("global parameter {:?} in share [{share}] ignored", key.name),
                );
            }
            (true, _) => {
                apply_global(&mut self.global, key, value, &mut notes).map_err(bad)?;
                self.seq += 1;
                let at = Some((self.seq, origin.clone()));
                match key.param {
                    Param::ServerMinProtocol => self.min_protocol_at = at,
                    Param::ServerMaxProtocol => self.max_protocol_at = at,
                    Param::WinsSupport => self.wins_support_at = at,
                    Param::WinsServer => self.wins_server_at = at,
                    _ => {}
                }
            }
            (false, Target::Share(i)) => self.shares[i].own.apply(key, value).map_err(bad)?,
            (false, Target::Global | Target::CommandLine) => {
                let layer = if self.target == Target::Global {
                    &mut self.defaults
                } else {
                    &mut self.cmdline
                };
                layer.apply(key, value).map_err(bad)?;
                if let (Param::SmbEncrypt, Some(e)) = (key.param, layer.smb_encrypt) {
                    self.global.smb_encrypt = e;
                }
                if self.target == Target::Global && !self.shares.is_empty() {
                    notes.push(format!(
                        "{:?} in [global] after share sections is the default only of the shares defined after this line (as in Samba)",
                        key.name
                    ));
                }
            }
        }
        for note in notes {
            self.warn(origin, note);
        }
        Ok(())
    }

    fn include(&mut self, value: &str, origin: &Origin, from: &Path) -> Result<(), ConfError> {
        if value.is_empty() {
            return Err(ConfError::Value {
                origin: origin.clone(),
                param: "include",
                value: value.to_string(),
                accepted: "a file name".into(),
            });
        }
        if value.contains('%') {
            self.warn(
                origin,
                format!(
                    "include {value:?} ignored: % substitutions (per client) are not supported"
                ),
            );
            return Ok(());
        }
        let path = match from.parent() {
            Some(dir) => dir.join(value),
            None => PathBuf::from(value),
        };
        let fail = |why: String| ConfError::Include {
            origin: origin.clone(),
            path: path.clone(),
            why,
        };
        let canonical = std::fs::canonicalize(&path).map_err(|e| fail(e.to_string()))?;
        if let Some(i) = self.stack.iter().position(|p| *p == canonical) {
            let chain: Vec<String> = self.stack[i..]
                .iter()
                .chain([&canonical])
                .map(|p| p.display().to_string())
                .collect();
            return Err(fail(format!("include loop: {}", chain.join(" -> "))));
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(fail(format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep"
            )));
        }
        let (bytes, mtime) = read_file(&path).map_err(|e| match e {
            ReadError::Io(e) => fail(e.to_string()),
            ReadError::Bad(why) => fail(why),
        })?;
        if !self.sources.iter().any(|(p, _)| *p == path) {
            self.sources.push((path.clone(), mtime));
        }
        self.run_file(&bytes, &path)
    }

    fn apply_overrides(&mut self, overrides: &[String]) -> Result<(), ConfError> {
        self.target = Target::CommandLine;
        for o in overrides {
            let Some((name, value)) = o.split_once('=') else {
                return Err(ConfError::Syntax {
                    origin: Origin::CommandLine,
                    why: format!("expected name=value, found {o:?}"),
                });
            };
            self.set(name.trim(), value.trim(), &Origin::CommandLine, None)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(SmbConf, Vec<Warning>), ConfError> {
        let g = &self.global;
        if g.server_min_protocol > g.server_max_protocol {
            let at = |o: &Option<(usize, Origin)>| {
                o.as_ref()
                    .map_or("the default".into(), |(_, o)| o.to_string())
            };
            let origin = later(&self.min_protocol_at, &self.max_protocol_at);
            return Err(ConfError::Invalid {
                origin,
                why: format!(
                    "server min protocol {} ({}) is above server max protocol {} ({})",
                    g.server_min_protocol,
                    at(&self.min_protocol_at),
                    g.server_max_protocol,
                    at(&self.max_protocol_at)
                ),
            });
        }
        if g.wins_support && !g.wins_server.is_empty() {
            return Err(ConfError::Invalid {
                origin: later(&self.wins_support_at, &self.wins_server_at),
                why: "wins support = yes and wins server cannot both be set: a WINS server is not a client of another".into(),
            });
        }
        let mut shares = Vec::new();
        for draft in std::mem::take(&mut self.shares) {
            let mut layer = draft.inherited;
            layer.overlay(&self.cmdline);
            layer.overlay(&draft.own);
            if layer.printable == Some(true) || draft.name.eq_ignore_ascii_case("printers") {
                self.warn(
                    &draft.origin,
                    format!(
                        "[{}]: print shares are not served; share ignored",
                        draft.name
                    ),
                );
                continue;
            }
            let share = layer.resolve(&draft.name);
            if share.path.is_none() && !share.is_homes() {
                return Err(ConfError::Invalid {
                    origin: draft.origin,
                    why: format!("share [{}] has no path", draft.name),
                });
            }
            shares.push(share);
        }
        Ok((
            SmbConf {
                global: self.global,
                shares,
                sources: self.sources,
            },
            self.warnings,
        ))
    }
}

/// Of two settings that conflict, the later one (defaults never conflict,
/// so one of them is set).
fn later(a: &Option<(usize, Origin)>, b: &Option<(usize, Origin)>) -> Origin {
    [a, b]
        .into_iter()
        .flatten()
        .max_by_key(|(seq, _)| *seq)
        .map_or(Origin::CommandLine, |(_, o)| o.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/samba/smb.conf";

    fn p(text: &str) -> Result<(SmbConf, Vec<Warning>), ConfError> {
        parse(text, Path::new(FILE))
    }

    fn ok(text: &str) -> SmbConf {
        let (c, w) = p(text).unwrap();
        assert!(w.is_empty(), "unexpected warnings: {w:?}");
        c
    }

    fn err(text: &str) -> String {
        p(text).unwrap_err().to_string()
    }

    fn warnings(text: &str) -> Vec<String> {
        p(text).unwrap().1.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn empty_file_gives_samba_defaults() {
        let c = ok("");
        assert_eq!(c, default_conf());
        assert!(c.shares.is_empty() && c.sources.is_empty());
        let g = &c.global;
        assert_eq!(g.workgroup, "WORKGROUP");
        assert_eq!(g.netbios_name, host_netbios_name());
        assert!(!g.netbios_name.is_empty() && g.netbios_name.len() <= 15);
        assert!(g.netbios_aliases.is_empty());
        assert_eq!(g.server_string, "File server");
        assert!(g.interfaces.is_empty());
        assert!(!g.bind_interfaces_only);
        assert_eq!(g.smb_ports, [445, 139]);
        assert_eq!((g.nbt_port, g.dgram_port), (137, 138));
        assert!(!g.disable_netbios);
        assert_eq!(g.state_directory, Path::new("/var/lib/samba"));
        assert_eq!(g.lock_directory, Path::new("/run/samba"));
        assert_eq!(g.cache_directory, Path::new("/var/cache/samba"));
        assert_eq!(g.pid_directory, Path::new("/run/samba"));
        assert_eq!(g.private_dir, Path::new("/var/lib/samba/private"));
        assert_eq!(g.log_level, 0);
        assert_eq!(g.log_file, None);
        assert_eq!(g.map_to_guest, MapToGuest::Never);
        assert_eq!(g.guest_account, "nobody");
        assert_eq!(g.server_min_protocol, Dialect::Smb2_02);
        assert_eq!(g.server_max_protocol, Dialect::Smb3_11);
        assert_eq!(g.server_signing, ServerSigning::Auto);
        assert_eq!(g.smb_encrypt, SmbEncrypt::Default);
        assert_eq!(g.os_level, 20);
        assert!(g.local_master);
        assert_eq!(g.preferred_master, BoolAuto::Auto);
        assert_eq!(g.domain_master, BoolAuto::Auto);
        assert!(!g.wins_support);
        assert!(g.wins_server.is_empty());
        assert!(g.browse_list);
        assert_eq!(g.max_open_files, 16384);
        assert_eq!(g.max_pending_requests, 8192);
        assert_eq!(g.stall_timeout, 60);
        assert_eq!(SmbConf::default(), c);
    }

    #[test]
    fn share_defaults() {
        let c = ok("[data]\npath = /srv/data\n");
        let s = c.share("data").unwrap();
        assert_eq!(s.path.as_deref(), Some(Path::new("/srv/data")));
        assert_eq!(s.comment, "");
        assert!(s.read_only);
        assert!(!s.guest_ok);
        assert!(s.valid_users.is_empty() && s.invalid_users.is_empty());
        assert_eq!((&s.force_user, &s.force_group), (&None, &None));
        assert!(s.browseable);
        assert_eq!(s.create_mask, 0o744);
        assert_eq!(s.directory_mask, 0o755);
        assert!(!s.wide_links);
        assert_eq!(s.smb_encrypt, SmbEncrypt::Default);
        assert!(s.available);
    }

    #[test]
    fn netbios_name_from_host_name() {
        assert_eq!(netbios_from_host("fileserv.example.com"), "FILESERV");
        assert_eq!(
            netbios_from_host("a-very-long-host-name-indeed"),
            "A-VERY-LONG-HOS"
        );
        assert_eq!(netbios_from_host(""), "LOCALHOST");
        assert_eq!(netbios_from_host("a:b*c"), "ABC");
    }

    /// The reference smbd configuration of reference/peers.md.
    const PEERS: &str = "\
[global]
  workgroup = TESTGRP
  netbios name = REFSRV
  smb ports = 4450
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  state directory = /tmp/t/state
  cache directory = /tmp/t/cache
  lock directory = /tmp/t/lock
  private dir = /tmp/t/priv
  pid directory = /tmp/t/run
  map to guest = bad user
[share]
  path = /tmp/t/share
  read only = no
  guest ok = yes
";

    #[test]
    fn the_peers_reference_file() {
        let c = ok(PEERS);
        let g = &c.global;
        assert_eq!(g.workgroup, "TESTGRP");
        assert_eq!(g.netbios_name, "REFSRV");
        assert_eq!(g.smb_ports, [4450]);
        assert_eq!(g.interfaces, ["lo"]);
        assert!(g.bind_interfaces_only);
        assert!(g.disable_netbios);
        assert_eq!(g.state_directory, Path::new("/tmp/t/state"));
        assert_eq!(g.cache_directory, Path::new("/tmp/t/cache"));
        assert_eq!(g.lock_directory, Path::new("/tmp/t/lock"));
        assert_eq!(g.private_dir, Path::new("/tmp/t/priv"));
        assert_eq!(g.pid_directory, Path::new("/tmp/t/run"));
        assert_eq!(g.map_to_guest, MapToGuest::BadUser);
        assert_eq!(c.shares.len(), 1);
        let s = &c.shares[0];
        assert_eq!(s.name, "share");
        assert_eq!(s.path.as_deref(), Some(Path::new("/tmp/t/share")));
        assert!(!s.read_only);
        assert!(s.guest_ok);
    }

    #[test]
    fn the_nmbd_namespace_recipe() {
        let c = ok(
            "[global]\ninterfaces = eth0\nbind interfaces only = yes\nos level = 22\n\
                    local master = yes\npreferred master = yes\nworkgroup = testgrp\n\
                    nbt port = 1137\ndgram port = 1138\nwins support = yes\n",
        );
        let g = &c.global;
        assert_eq!(g.os_level, 22);
        assert!(g.local_master);
        assert_eq!(g.preferred_master, BoolAuto::Yes);
        assert_eq!(g.workgroup, "TESTGRP");
        assert_eq!((g.nbt_port, g.dgram_port), (1137, 1138));
        assert!(g.wins_support);
    }

    #[test]
    fn smbd_limits() {
        let g = ok("max open files = 40
max pending requests = 50
stall timeout = 2
")
        .global;
        assert_eq!(
            (g.max_open_files, g.max_pending_requests, g.stall_timeout),
            (40, 50, 2)
        );
        for bad in [
            "max open files = 0",
            "max pending requests = lots",
            "stall timeout = 0",
            "stall timeout = 100000",
        ] {
            assert!(err(bad).contains("a whole number"), "{bad}");
        }
    }

    #[test]
    fn names_ignore_case_blanks_and_underscores() {
        for line in [
            "netbios name = x1",
            "netbiosname = x1",
            "NetBIOS Name = x1",
            "  netbios_name=x1  ",
            "NETBIOS    NAME\t=\tx1",
        ] {
            assert_eq!(ok(line).global.netbios_name, "X1", "{line}");
        }
    }

    #[test]
    fn synonyms_and_inverse_booleans() {
        let c = ok(
            "[global]\nlock dir = /l\nprivate directory = /p\ndebug level = 2\n\
                    min protocol = SMB3_00\nmax protocol = SMB3_02\nprint ok = no\n\
                    [a]\ndirectory = /a\nwriteable = yes\npublic = yes\nbrowsable = no\n\
                    create mode = 0600\ndirectory mode = 700\n\
                    [b]\npath = /b\nwritable = no\n\
                    [c]\npath = /c\nwrite ok = 1\nread only = yes\n\
                    [d]\npath = /d\nread only = no\n",
        );
        let a = c.share("a").unwrap();
        assert_eq!(a.path.as_deref(), Some(Path::new("/a")));
        assert!(!a.read_only && a.guest_ok && !a.browseable);
        assert_eq!((a.create_mask, a.directory_mask), (0o600, 0o700));
        assert!(c.share("b").unwrap().read_only);
        // The later of two spellings of one parameter wins.
        assert!(c.share("c").unwrap().read_only);
        assert!(!c.share("d").unwrap().read_only);
        let g = &c.global;
        assert_eq!(g.lock_directory, Path::new("/l"));
        assert_eq!(g.private_dir, Path::new("/p"));
        assert_eq!(g.log_level, 2);
        assert_eq!(g.server_min_protocol, Dialect::Smb3_00);
        assert_eq!(g.server_max_protocol, Dialect::Smb3_02);
        assert_eq!(
            ok("protocol = SMB2_10").global.server_max_protocol,
            Dialect::Smb2_10
        );
    }

    #[test]
    fn booleans_and_enumerations() {
        for (v, b) in [
            ("yes", true),
            ("True", true),
            ("ON", true),
            ("1", true),
            ("no", false),
            ("FALSE", false),
            ("Off", false),
            ("0", false),
        ] {
            assert_eq!(
                ok(&format!("browse list = {v}")).global.browse_list,
                b,
                "{v}"
            );
        }
        let g = ok("map to guest = BadPassword\nserver signing = required\n\
                    smb encrypt = desired\ndomain master = AUTO\npreferred master = no\n")
        .global;
        assert_eq!(g.map_to_guest, MapToGuest::BadPassword);
        assert_eq!(g.server_signing, ServerSigning::Mandatory);
        assert_eq!(g.smb_encrypt, SmbEncrypt::Desired);
        assert_eq!(g.domain_master, BoolAuto::Auto);
        assert_eq!(g.preferred_master, BoolAuto::No);
        for (v, s) in [
            ("default", ServerSigning::Auto),
            ("auto", ServerSigning::Auto),
            ("if_required", ServerSigning::Auto),
            ("enabled", ServerSigning::Auto),
            ("mandatory", ServerSigning::Mandatory),
            ("disabled", ServerSigning::Disabled),
            ("off", ServerSigning::Disabled),
        ] {
            assert_eq!(signing(v), Ok(s), "{v}");
        }
        for (v, e) in [
            ("off", SmbEncrypt::Off),
            ("disabled", SmbEncrypt::Off),
            ("if_required", SmbEncrypt::Default),
            ("auto", SmbEncrypt::Default),
            ("default", SmbEncrypt::Default),
            ("enabled", SmbEncrypt::Default),
            ("desired", SmbEncrypt::Desired),
            ("required", SmbEncrypt::Required),
            ("mandatory", SmbEncrypt::Required),
        ] {
            assert_eq!(encrypt(v), Ok(e), "{v}");
        }
        assert_eq!(map_to_guest("bad uid"), Ok(MapToGuest::BadUid));
        assert_eq!(map_to_guest("Never"), Ok(MapToGuest::Never));
    }

    #[test]
    fn continuation_lines() {
        let c = ok(
            "[global]\nserver string = multi \\\n     line\nnetbios aliases = ONE \\\n\
                    TWO \\\n  THREE\nworkgroup = \\\nWG\n[s]\npath = /\\\nsrv\n",
        );
        assert_eq!(c.global.server_string, "multi line");
        assert_eq!(c.global.netbios_aliases, ["ONE", "TWO", "THREE"]);
        assert_eq!(c.global.workgroup, "WG");
        assert_eq!(c.shares[0].path.as_deref(), Some(Path::new("/srv")));
        // A continued line is reported at the line it starts on.
        let e = err("\nos level = \\\n 9\\\n99\n");
        assert!(
            e.starts_with("/etc/samba/smb.conf:2: invalid value \"999\""),
            "{e}"
        );
        // A backslash on the last line continues into nothing.
        assert_eq!(ok("workgroup = WG\\").global.workgroup, "WG");
    }

    #[test]
    fn comments_and_blank_lines() {
        let c = ok("# a comment\n; another\n   # indented\n\n\t\n[global]\n\
                    # a comment ending in a backslash does not continue \\\n\
                    workgroup = KEPT\r\nserver string = a # not a comment\n");
        assert_eq!(c.global.workgroup, "KEPT");
        assert_eq!(c.global.server_string, "a # not a comment");
    }

    #[test]
    fn parameters_before_any_section_are_global() {
        assert_eq!(
            ok("workgroup = early\n[s]\npath=/s\n").global.workgroup,
            "EARLY"
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            err("[global]\nvalid users alice\n"),
            "/etc/samba/smb.conf:2: expected \"name = value\", a [section] or a comment, found \"valid users alice\""
        );
        assert_eq!(
            err("[data\npath = /x\n"),
            "/etc/samba/smb.conf:1: section header without a closing ]"
        );
        assert_eq!(
            err("= x\n"),
            "/etc/samba/smb.conf:1: a parameter name is missing before ="
        );
        assert!(err("[]\n").contains(":1: invalid share name []"));
        assert!(err("[a/b]\n").contains("invalid share name [a/b]"));
        assert_eq!(
            warnings("[s] trailing\npath = /s\n"),
            ["/etc/samba/smb.conf:1: text after [s] ignored: \"trailing\""]
        );
    }

    #[test]
    fn unknown_parameters_warn_with_file_and_line() {
        let (c, w) = p("[global]\nfoo = 1\n[s]\npath = /s\n  Some Thing = x\n").unwrap();
        assert_eq!(c.shares.len(), 1);
        let w: Vec<String> = w.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "/etc/samba/smb.conf:2: unknown parameter \"foo\" ignored",
                "/etc/samba/smb.conf:5: unknown parameter \"Some Thing\" ignored",
            ]
        );
    }

    #[test]
    fn bad_values_name_file_line_parameter_and_what_is_accepted() {
        let f = "/etc/samba/smb.conf";
        for (text, msg) in [
            (
                "[s]\npath = /s\nread only = maybe\n",
                format!(
                    "{f}:3: invalid value \"maybe\" for read only: yes, no, true, false, on, off, 1 or 0"
                ),
            ),
            (
                "[s]\npath = /s\nwriteable = maybe\n",
                format!(
                    "{f}:3: invalid value \"maybe\" for writeable: yes, no, true, false, on, off, 1 or 0"
                ),
            ),
            (
                "os level = 300",
                format!("{f}:1: invalid value \"300\" for os level: a whole number from 0 to 255"),
            ),
            (
                "netbios name = averyveryverylongname1",
                format!(
                    "{f}:1: invalid value \"averyveryverylongname1\" for netbios name: 1 to 15 ASCII characters without blanks, dots or any of \\/:*?\"<>|"
                ),
            ),
            (
                "workgroup = sixteen-chars-wg",
                format!(
                    "{f}:1: invalid value \"sixteen-chars-wg\" for workgroup: 1 to 15 ASCII characters without any of \\/:*?\"<>|"
                ),
            ),
            (
                "[s]\npath=/s\ncreate mask = 999",
                format!(
                    "{f}:3: invalid value \"999\" for create mask: an octal mode from 0000 to 7777, such as 0744"
                ),
            ),
            (
                "map to guest = bad_uid",
                format!(
                    "{f}:1: invalid value \"bad_uid\" for map to guest: Never, Bad User, Bad Password or Bad Uid"
                ),
            ),
            (
                "preferred master = on",
                format!(
                    "{f}:1: invalid value \"on\" for preferred master: auto, yes, no, true, false, 1 or 0"
                ),
            ),
            (
                "smb ports = 445 0",
                format!(
                    "{f}:1: invalid value \"445 0\" for smb ports: one or more port numbers from 1 to 65535"
                ),
            ),
            (
                "smb ports =",
                format!(
                    "{f}:1: invalid value \"\" for smb ports: one or more port numbers from 1 to 65535"
                ),
            ),
            (
                "nbt port = 99999",
                format!(
                    "{f}:1: invalid value \"99999\" for nbt port: a port number from 1 to 65535"
                ),
            ),
            (
                "wins server = 10.0.0.1 tag:10.0.0.2",
                format!(
                    "{f}:1: invalid value \"10.0.0.1 tag:10.0.0.2\" for wins server: a list of IPv4 addresses"
                ),
            ),
            (
                "state directory = var/lib",
                format!("{f}:1: invalid value \"var/lib\" for state directory: an absolute path"),
            ),
            (
                "[s]\npath = \"/srv/my share\"",
                format!(
                    "{f}:2: invalid value \"\\\"/srv/my share\\\"\" for path: an absolute path, without quotes (Samba takes quotes literally)"
                ),
            ),
            (
                "log level = verbose",
                format!(
                    "{f}:1: invalid value \"verbose\" for log level: a number from 0 to 10, optionally followed by Samba's class:level entries (ignored)"
                ),
            ),
            (
                "server signing = bogus",
                format!(
                    "{f}:1: invalid value \"bogus\" for server signing: default, auto, if_required, enabled, desired, mandatory, required, disabled or off (or a boolean)"
                ),
            ),
            (
                "server max protocol = NT1",
                format!(
                    "{f}:1: invalid value \"NT1\" for server max protocol: {PROTOCOLS} (SMB1 is not served)"
                ),
            ),
            (
                "server min protocol = SMB4",
                format!("{f}:1: invalid value \"SMB4\" for server min protocol: {PROTOCOLS}"),
            ),
            (
                "netbios aliases = ONE my.alias",
                format!(
                    "{f}:1: invalid value \"ONE my.alias\" for netbios aliases: a list of NetBIOS names, each 1 to 15 ASCII characters without blanks, dots or any of \\/:*?\"<>|"
                ),
            ),
            (
                "[s]\npath=/s\nvalid users = &netgroup",
                format!(
                    "{f}:3: invalid value \"&netgroup\" for valid users: user names, and groups as @name or +name (NIS netgroups, &name, are not supported)"
                ),
            ),
            (
                "guest account =",
                format!("{f}:1: invalid value \"\" for guest account: a user name"),
            ),
        ] {
            assert_eq!(err(text), msg, "{text}");
        }
    }

    #[test]
    fn a_bad_value_fails_the_whole_load() {
        // Everything before and after the bad line is valid; nothing is used.
        assert!(
            p("workgroup = A\n[s]\npath = /s\nbrowseable = perhaps\n[t]\npath = /t\n").is_err()
        );
    }

    #[test]
    fn global_parameter_in_a_share_is_ignored_with_a_warning() {
        let (c, w) = p("[global]\nworkgroup = GOOD\n[s]\npath = /s\nworkgroup = BAD\n").unwrap();
        assert_eq!(c.global.workgroup, "GOOD");
        assert_eq!(
            w[0].to_string(),
            "/etc/samba/smb.conf:5: global parameter \"workgroup\" in share [s] ignored"
        );
        // Even an invalid one: it is not looked at.
        assert!(p("[s]\npath = /s\nos level = lots\n").is_ok());
    }

    #[test]
    fn share_parameters_in_global_are_defaults_of_every_share() {
        let c = ok(
            "[global]\nread only = no\nguest ok = yes\nvalid users = @staff\n\
                    create mask = 0600\npath = /srv/default\nsmb encrypt = required\n\
                    [a]\npath = /a\n[b]\nread only = yes\nguest ok = no\n",
        );
        let a = c.share("a").unwrap();
        assert!(!a.read_only && a.guest_ok);
        assert_eq!(a.valid_users, [UserOrGroup::Group("staff".into())]);
        assert_eq!(a.create_mask, 0o600);
        assert_eq!(a.path.as_deref(), Some(Path::new("/a")));
        assert_eq!(a.smb_encrypt, SmbEncrypt::Required);
        assert_eq!(c.global.smb_encrypt, SmbEncrypt::Required);
        let b = c.share("b").unwrap();
        assert!(b.read_only && !b.guest_ok);
        assert_eq!(b.path.as_deref(), Some(Path::new("/srv/default")));
        // A share's own smb encrypt does not change the global one.
        let c = ok("[s]\npath=/s\nsmb encrypt = off\n");
        assert_eq!(c.global.smb_encrypt, SmbEncrypt::Default);
        assert_eq!(c.shares[0].smb_encrypt, SmbEncrypt::Off);
    }

    #[test]
    fn global_after_shares_sets_defaults_only_for_later_shares() {
        // As Samba (checked with testparm): a share copies the defaults
        // when it is first defined.
        let (c, w) =
            p("[a]\npath=/a\n[global]\nguest ok = yes\nworkgroup = W\n[b]\npath=/b\n").unwrap();
        assert!(!c.share("a").unwrap().guest_ok);
        assert!(c.share("b").unwrap().guest_ok);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].to_string(),
            "/etc/samba/smb.conf:4: \"guest ok\" in [global] after share sections is the default only of the shares defined after this line (as in Samba)"
        );
    }

    #[test]
    fn lists_and_quotes() {
        let c = ok(
            "[global]\ninterfaces = lo, eth0;192.168.1.0/24 \"eth1;speed=1000\"\n\
                    netbios aliases = a,b  c\n\
                    [s]\npath = /s\nvalid users = alice, \"Domain Users\" @staff,+wheel %S\n\
                    invalid users = \"\"\n",
        );
        assert_eq!(
            c.global.interfaces,
            ["lo", "eth0", "192.168.1.0/24", "eth1;speed=1000"]
        );
        assert_eq!(c.global.netbios_aliases, ["A", "B", "C"]);
        let s = &c.shares[0];
        assert_eq!(
            s.valid_users,
            [
                UserOrGroup::User("alice".into()),
                UserOrGroup::User("Domain Users".into()),
                UserOrGroup::Group("staff".into()),
                UserOrGroup::Group("wheel".into()),
                UserOrGroup::User("%S".into()),
            ]
        );
        // "" is one empty item, as in Samba.
        assert_eq!(s.invalid_users, [UserOrGroup::User(String::new())]);
        assert_eq!(list("").unwrap(), Vec::<String>::new());
        assert_eq!(list(" , ;").unwrap(), Vec::<String>::new());
        assert_eq!(list("a\"b c\"d e").unwrap(), ["ab cd", "e"]);
        let e = err("interfaces = \"lo");
        assert!(e.contains("(a closing \" is missing)"), "{e}");
        let c = ok("smb ports = 4450, 4451 4450\nwins server = 10.0.0.1, 10.0.0.2");
        assert_eq!(c.global.smb_ports, [4450, 4451]);
        assert_eq!(
            c.global.wins_server,
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
    }

    #[test]
    fn strings_are_taken_literally() {
        let c = ok(
            "[s]\npath = /srv/a b\ncomment = \"quoted\" # and more\nforce user = bob\n\
                    force group = +staff\n",
        );
        let s = &c.shares[0];
        assert_eq!(s.path.as_deref(), Some(Path::new("/srv/a b")));
        assert_eq!(s.comment, "\"quoted\" # and more");
        assert_eq!(s.force_user.as_deref(), Some("bob"));
        assert_eq!(s.force_group.as_deref(), Some("+staff"));
        // An empty value unsets.
        let c =
            ok("[global]\nforce user = bob\nlog file = /var/log/x\n[s]\npath=/s\nforce user =\n");
        assert_eq!(c.shares[0].force_user, None);
        assert_eq!(c.global.log_file.as_deref(), Some(Path::new("/var/log/x")));
        assert_eq!(ok("log file =").global.log_file, None);
    }

    #[test]
    fn log_level_takes_samba_syntax() {
        let (c, w) = p("log level = 3 auth:5 passdb:2").unwrap();
        assert_eq!(c.global.log_level, 3);
        assert_eq!(
            w[0].to_string(),
            "/etc/samba/smb.conf:1: per-class log levels are not supported; \"auth:5 passdb:2\" ignored, log level 3 applies to everything"
        );
        assert_eq!(ok("log level = all:4").global.log_level, 4);
        assert_eq!(ok("log level = 10").global.log_level, 10);
        assert!(p("log level = 11").is_err());
        assert!(p("log level =").is_err());
    }

    #[test]
    fn protocols() {
        let g = ok("server min protocol = SMB2\nserver max protocol = smb3").global;
        assert_eq!(g.server_min_protocol, Dialect::Smb2_10);
        assert_eq!(g.server_max_protocol, Dialect::Smb3_11);
        let g = ok("server min protocol = default\nserver max protocol = Default").global;
        assert_eq!(
            (g.server_min_protocol, g.server_max_protocol),
            (Dialect::Smb2_02, Dialect::Smb3_11)
        );
        let (c, w) = p("server min protocol = NT1").unwrap();
        assert_eq!(c.global.server_min_protocol, Dialect::Smb2_02);
        assert_eq!(
            w[0].to_string(),
            "/etc/samba/smb.conf:1: SMB1 (NT1) is not served; server min protocol is SMB2_02"
        );
        assert_eq!(
            err(
                "server max protocol = SMB2_10\n[s]\npath=/s\n[global]\nserver min protocol = SMB3"
            ),
            "/etc/samba/smb.conf:5: server min protocol SMB3_11 (/etc/samba/smb.conf:5) is above server max protocol SMB2_10 (/etc/samba/smb.conf:1)"
        );
        // Equal is fine.
        let g = ok("server max protocol = SMB2_02").global;
        assert_eq!(g.server_min_protocol, g.server_max_protocol);
    }

    #[test]
    fn dialects_order_by_revision() {
        assert!(Dialect::Smb2_02 < Dialect::Smb2_10);
        assert!(Dialect::Smb3_02 < Dialect::Smb3_11);
        let mut sorted = Dialect::ALL;
        sorted.sort();
        assert_eq!(sorted, Dialect::ALL);
        assert!(Dialect::ALL.windows(2).all(|w| w[0].wire() < w[1].wire()));
        assert_eq!(Dialect::Smb3_11.wire(), 0x0311);
        assert_eq!(Dialect::from_wire(0x0302), Some(Dialect::Smb3_02));
        assert_eq!(Dialect::from_wire(0x02ff), None);
        assert_eq!(Dialect::Smb2_10.to_string(), "SMB2_10");
    }

    #[test]
    fn wins_support_and_wins_server_conflict() {
        assert_eq!(
            err("wins support = yes\nwins server = 10.0.0.1\n"),
            "/etc/samba/smb.conf:2: wins support = yes and wins server cannot both be set: a WINS server is not a client of another"
        );
    }

    #[test]
    fn shares_need_a_path_but_homes() {
        assert_eq!(
            err("[global]\n\n[docs]\ncomment = no path\n"),
            "/etc/samba/smb.conf:3: share [docs] has no path"
        );
        let c = ok("[homes]\nbrowseable = no\nvalid users = %S\n");
        let h = c.share("HOMES").unwrap();
        assert!(h.is_homes() && h.path.is_none() && !h.browseable);
        assert_eq!(
            ok("[homes]\npath = %H\n").shares[0].path.as_deref(),
            Some(Path::new("%H"))
        );
    }

    #[test]
    fn print_shares_are_left_out() {
        let text = "[printers]\ncomment = All Printers\nbrowseable = no\npath = /var/spool/samba\n\
                    printable = yes\n[laser]\npath = /var/spool/laser\nprint ok = yes\n[s]\npath=/s\n";
        let (c, w) = p(text).unwrap();
        assert_eq!(c.shares.len(), 1);
        assert_eq!(c.shares[0].name, "s");
        assert_eq!(
            w.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            [
                "/etc/samba/smb.conf:1: [printers]: print shares are not served; share ignored",
                "/etc/samba/smb.conf:6: [laser]: print shares are not served; share ignored",
            ]
        );
    }

    #[test]
    fn duplicate_shares_merge_with_a_warning() {
        let (c, w) = p("[Data]\npath = /one\ncomment = first\n[other]\npath=/o\n\
                        [DATA]\npath = /two\nread only = no\n")
        .unwrap();
        assert_eq!(c.shares.len(), 2);
        let d = c.share("data").unwrap();
        assert_eq!(d.name, "Data");
        assert_eq!(d.path.as_deref(), Some(Path::new("/two")));
        assert_eq!(d.comment, "first");
        assert!(!d.read_only);
        assert_eq!(
            w[0].to_string(),
            "/etc/samba/smb.conf:6: share [DATA] already defined at /etc/samba/smb.conf:1; the two are merged, later values win"
        );
        // [global] may appear several times without a warning.
        assert!(warnings("[global]\nworkgroup=a\n[globals]\nos level=3\n[Global]\n").is_empty());
    }

    #[test]
    fn share_lookup_ignores_case() {
        let c = ok("[Média]\npath=/m\n");
        assert!(c.share("MÉDIA").is_some());
        assert!(c.share("média").is_some());
        assert!(c.share("other").is_none());
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn includes_are_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        write(
            &d.join("smb.conf"),
            "[global]\nworkgroup = MAIN\ninclude = conf.d/shares.conf\n",
        );
        write(
            &d.join("conf.d/shares.conf"),
            "[a]\npath = /a\ninclude = more.conf\n",
        );
        write(&d.join("conf.d/more.conf"), "read only = no\n");
        let (c, w) = load(&d.join("smb.conf"), &[]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.global.workgroup, "MAIN");
        // The included file's parameters land in the section in force.
        assert!(!c.share("a").unwrap().read_only);
        let files: Vec<&Path> = c.sources.iter().map(|(p, _)| p.as_path()).collect();
        assert_eq!(
            files,
            [
                d.join("smb.conf"),
                d.join("conf.d/shares.conf"),
                d.join("conf.d/more.conf")
            ]
        );
        assert!(c.sources.iter().all(|(_, m)| m.is_some()));
    }

    #[test]
    fn a_section_started_in_an_include_stays_in_force() {
        // As in Samba: the parameter after the include is in [s].
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(&d.join("inc.conf"), "[s]\npath = /s\n");
        write(
            &d.join("smb.conf"),
            "include = inc.conf\nworkgroup = AFTER\n",
        );
        let (c, w) = load(&d.join("smb.conf"), &[]).unwrap();
        assert_eq!(c.global.workgroup, "WORKGROUP");
        assert_eq!(
            w[0].to_string(),
            format!(
                "{}:2: global parameter \"workgroup\" in share [s] ignored",
                d.join("smb.conf").display()
            )
        );
    }

    #[test]
    fn include_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let main = d.join("smb.conf");
        write(&main, "[global]\n\ninclude = missing.conf\n");
        assert_eq!(
            load(&main, &[]).unwrap_err().to_string(),
            format!(
                "{}:3: include {}: No such file or directory (os error 2)",
                main.display(),
                d.join("missing.conf").display()
            )
        );
        // A loop.
        write(&main, "include = a.conf\n");
        write(&d.join("a.conf"), "\ninclude = b.conf\n");
        write(&d.join("b.conf"), "include = smb.conf\n");
        let e = load(&main, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{b}:1: include {d}/smb.conf: include loop: {m} -> {a} -> {b} -> {m}",
                d = d.display(),
                m = main.canonicalize().unwrap().display(),
                a = d.join("a.conf").canonicalize().unwrap().display(),
                b = d.join("b.conf").canonicalize().unwrap().display(),
            )
            .replacen(
                &d.join("b.conf")
                    .canonicalize()
                    .unwrap()
                    .display()
                    .to_string(),
                &d.join("b.conf").display().to_string(),
                1
            )
        );
        // Including oneself.
        write(&main, "include = smb.conf\n");
        assert!(
            load(&main, &[])
                .unwrap_err()
                .to_string()
                .contains("include loop")
        );
        // Ten levels deep is fine, eleven is not.
        for i in 0..12 {
            write(
                &d.join(format!("n{i}.conf")),
                &format!("include = n{}.conf\n", i + 1),
            );
        }
        write(&d.join("n10.conf"), "workgroup = DEEP\n");
        let (c, _) = load(&d.join("n0.conf"), &[]).unwrap();
        assert_eq!(c.global.workgroup, "DEEP");
        assert_eq!(c.sources.len(), 11);
        write(&d.join("n10.conf"), "include = n11.conf\n");
        write(&d.join("n11.conf"), "workgroup = DEEPER\n");
        let e = load(&d.join("n0.conf"), &[]).unwrap_err().to_string();
        assert!(e.ends_with("includes nested more than 10 deep"), "{e}");
        assert!(
            e.starts_with(&format!("{}:1:", d.join("n10.conf").display())),
            "{e}"
        );
        // Not a regular file.
        write(&main, "include = .\n");
        let e = load(&main, &[]).unwrap_err().to_string();
        assert!(e.ends_with("is not a regular file"), "{e}");
        // A file included twice (not nested) is fine.
        write(&main, "include = a.conf\ninclude = a.conf\n");
        write(&d.join("a.conf"), "os level = 5\n");
        assert_eq!(load(&main, &[]).unwrap().0.sources.len(), 2);
        // Per-client substitutions cannot be resolved at load time.
        write(&main, "include = /etc/samba/smb.conf.%m\n");
        let (_, w) = load(&main, &[]).unwrap();
        assert!(w[0].message.contains("% substitutions"), "{}", w[0]);
    }

    #[test]
    fn parse_resolves_includes_next_to_the_named_file() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("inc.conf"), "os level = 7\n");
        let (c, _) = parse("include = inc.conf\n", &dir.path().join("virtual.conf")).unwrap();
        assert_eq!(c.global.os_level, 7);
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].0, dir.path().join("inc.conf"));
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.conf");
        assert_eq!(
            load(&missing, &[]).unwrap_err().to_string(),
            format!(
                "{}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert_eq!(
            load(dir.path(), &[]).unwrap_err().to_string(),
            format!("{}: is not a regular file", dir.path().display())
        );
        let big = dir.path().join("big.conf");
        write(&big, &"# padding\n".repeat(200_000));
        assert!(
            load(&big, &[])
                .unwrap_err()
                .to_string()
                .contains("at most 1048576")
        );
    }

    #[test]
    fn utf8_is_required_but_not_in_comments() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("smb.conf");
        std::fs::write(&f, b"\xef\xbb\xbf# caf\xe9 (Latin-1)\nworkgroup = W\n").unwrap();
        assert_eq!(load(&f, &[]).unwrap().0.global.workgroup, "W");
        std::fs::write(&f, b"[s]\npath = /caf\xe9\n").unwrap();
        assert_eq!(
            load(&f, &[]).unwrap_err().to_string(),
            format!("{}:2: line is not valid UTF-8", f.display())
        );
    }

    #[test]
    fn command_line_options() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("smb.conf");
        write(
            &f,
            "[global]\nworkgroup = FILE\nread only = yes\n[a]\npath=/a\n[b]\npath=/b\nread only = yes\n",
        );
        let opts = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (c, w) = load(
            &f,
            &opts(&[
                "workgroup=cmd",
                " read only = no ",
                "smb ports=4450",
                "smb encrypt=off",
            ]),
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.global.workgroup, "CMD");
        assert_eq!(c.global.smb_ports, [4450]);
        assert_eq!(c.global.smb_encrypt, SmbEncrypt::Off);
        // Over [global]'s default, under what a share sets itself.
        assert!(!c.share("a").unwrap().read_only);
        assert!(c.share("b").unwrap().read_only);
        assert_eq!(c.share("b").unwrap().smb_encrypt, SmbEncrypt::Off);

        let e = |o: &[&str]| load(&f, &opts(o)).unwrap_err().to_string();
        assert_eq!(
            e(&["os level=high"]),
            "--option: invalid value \"high\" for os level: a whole number from 0 to 255"
        );
        assert_eq!(
            e(&["workgroup"]),
            "--option: expected name=value, found \"workgroup\""
        );
        assert_eq!(
            e(&["include=/etc/other.conf"]),
            "--option: invalid value \"/etc/other.conf\" for include: nothing: include is only read in files"
        );
        assert_eq!(
            e(&[
                "server max protocol=SMB2_02",
                "server min protocol = SMB3_00"
            ]),
            "--option: server min protocol SMB3_00 (--option) is above server max protocol SMB2_02 (--option)"
        );
        let (_, w) = load(&f, &opts(&["foo=1"])).unwrap();
        assert_eq!(
            w[0].to_string(),
            "--option: unknown parameter \"foo\" ignored"
        );
    }

    #[test]
    fn sources_notice_changes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let main = d.join("smb.conf");
        write(&main, "include = inc.conf\n");
        write(&d.join("inc.conf"), "os level = 1\n");
        let set_mtime = |p: &Path, secs: u64| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
                .unwrap();
        };
        set_mtime(&main, 1_000_000);
        set_mtime(&d.join("inc.conf"), 1_000_000);
        let (c, _) = load(&main, &[]).unwrap();
        assert!(!c.changed_on_disk());
        set_mtime(&d.join("inc.conf"), 2_000_000);
        assert!(c.changed_on_disk());
        let (c, _) = load(&main, &[]).unwrap();
        assert!(!c.changed_on_disk());
        std::fs::remove_file(d.join("inc.conf")).unwrap();
        assert!(c.changed_on_disk());
        // Nothing to watch: never changed.
        assert!(!default_conf().changed_on_disk());
    }

    #[test]
    fn junk_never_panics() {
        const ALPHABET: &[u8] = b"[]=\\\"#; \n\tabcdeprtwo/0123456789,@+&%\xff";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let len = (seed % 400) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ALPHABET[(seed % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = p(&text);
            let mut loader = Loader::new();
            let _ = loader.run_file(&bytes, Path::new("junk"));
        }
    }

    /// Samba's own parser agrees on the values both of us read (skipped
    /// where testparm is not installed).
    #[test]
    fn testparm_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("smb.conf");
        let text = "[global]\n  workgroup = testgrp\n  NetBIOS Name = refsrv\n  smb ports = 4450 4451\n\
                    os level = 33\n  map to guest = bad user\n  guest ok = yes\n\
                    [share]\n  path = /srv/x\n  writeable = yes\n  browsable = no\n  create mode = 644\n\
                    directory mode = 0750\n  valid users = alice, \"Domain Users\" @staff\n\
                    [other]\n  path = /srv/y\n  public = no\n";
        write(&f, text);
        let run = |section: &str, param: &str| -> Option<String> {
            let out = std::process::Command::new("testparm")
                .args(["-s", "--section-name", section, "--parameter-name", param])
                .arg(&f)
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let Some(wg) = run("global", "workgroup") else {
            eprintln!("testparm not installed; skipped");
            return;
        };
        let (c, _) = load(&f, &[]).unwrap();
        let yes_no = |b: bool| if b { "Yes" } else { "No" };
        let g = &c.global;
        assert_eq!(wg, g.workgroup);
        assert_eq!(run("global", "netbios name").unwrap(), g.netbios_name);
        let ports: Vec<String> = g.smb_ports.iter().map(|p| p.to_string()).collect();
        assert_eq!(run("global", "smb ports").unwrap(), ports.join(" "));
        assert_eq!(run("global", "os level").unwrap(), g.os_level.to_string());
        assert_eq!(run("global", "map to guest").unwrap(), "Bad User");
        assert_eq!(g.map_to_guest, MapToGuest::BadUser);
        let s = c.share("share").unwrap();
        assert_eq!(run("share", "read only").unwrap(), yes_no(s.read_only));
        assert_eq!(run("share", "browseable").unwrap(), yes_no(s.browseable));
        assert_eq!(run("share", "guest ok").unwrap(), yes_no(s.guest_ok));
        assert_eq!(
            run("share", "create mask").unwrap(),
            format!("{:04o}", s.create_mask)
        );
        assert_eq!(
            run("share", "directory mask").unwrap(),
            format!("{:04o}", s.directory_mask)
        );
        assert_eq!(
            run("share", "valid users").unwrap(),
            "alice \"Domain Users\" @staff"
        );
        assert_eq!(s.valid_users.len(), 3);
        let o = c.share("other").unwrap();
        assert_eq!(run("other", "guest ok").unwrap(), yes_no(o.guest_ok));
        assert_eq!(run("other", "read only").unwrap(), yes_no(o.read_only));
    }
}

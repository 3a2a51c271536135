//! The native CNID protocol between clients, cnid_metad and cnid_dbd.
//!
//! Frames ([`crate::frame`]) carry one [`Request`] or [`Reply`] each. A
//! connection starts with [`Request::Hello`], sent to cnid_metad (which hands
//! the connection to the volume's cnid_dbd) or straight to a cnid_dbd's own
//! socket; the answer is [`Reply::Welcome`] or an error. After that each
//! request gets exactly one reply, in order.
//!
//! Versioning: `Hello` carries [`PROTOCOL_VERSION`]; a server answers a
//! version it does not speak with an error naming both. The enums only ever
//! grow at the end, so an older peer's messages keep their encoding.

use serde::{Deserialize, Serialize};

use super::types::{Cnid, Entry, Name, Record, Stamp};
use crate::cred::PeerCred;
use crate::dbparam::DbParam;

pub const PROTOCOL_VERSION: u32 = 1;

/// Cap on a request frame (a Hello with a 4 KiB volume path fits easily).
pub const MAX_REQUEST: usize = 16 * 1024;
/// Cap on a reply frame (a dump batch of [`MAX_DUMP`] full-length records
/// fits).
pub const MAX_REPLY: usize = 1 << 20;
/// Cap on a volume path in Hello.
pub const MAX_VOLUME_PATH: usize = 4096;
/// Most records one Search returns (netatalk's limit).
pub const MAX_SEARCH: u32 = 100;
/// Most records one Dump returns.
pub const MAX_DUMP: u32 = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// Absolute path of the volume's root directory, as bytes.
    #[serde(with = "serde_bytes")]
    pub volume: Vec<u8>,
    /// What the client calls itself, for logs.
    pub client: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Hello(Hello),
    /// An empty round trip.
    Ping,
    /// The id of `entry`: its existing id when the database knows it (see
    /// Lookup), else `hint` when free, else a new one.
    Add {
        entry: Entry,
        hint: Option<Cnid>,
    },
    /// The id of `name` in directory `did`.
    Get {
        did: Cnid,
        name: Name,
    },
    /// The parent and name of `id`.
    Resolve {
        id: Cnid,
    },
    /// The id of `entry`, repairing stale records on the way.
    Lookup {
        entry: Entry,
        hint: Option<Cnid>,
    },
    /// Rewrites record `id` with `entry` (a server-side move or rename).
    Update {
        id: Cnid,
        entry: Entry,
    },
    Delete {
        id: Cnid,
    },
    GetStamp,
    /// Stores `entry` under exactly `id` (rebuild tools).
    RebuildAdd {
        id: Cnid,
        entry: Entry,
    },
    /// Records whose name starts with `prefix`, case-insensitively.
    Search {
        prefix: Name,
        max: u32,
    },
    /// Empties the database; the stamp and the id counter stay.
    Wipe,
    /// Records with ids above `after`, in id order.
    Dump {
        after: Cnid,
        max: u32,
    },
    /// Checks that records and indexes agree; `repair` rebuilds indexes.
    Verify {
        repair: bool,
    },
    Status,
}

impl Request {
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello(_) => "hello",
            Request::Ping => "ping",
            Request::Add { .. } => "add",
            Request::Get { .. } => "get",
            Request::Resolve { .. } => "resolve",
            Request::Lookup { .. } => "lookup",
            Request::Update { .. } => "update",
            Request::Delete { .. } => "delete",
            Request::GetStamp => "getstamp",
            Request::RebuildAdd { .. } => "rebuild_add",
            Request::Search { .. } => "search",
            Request::Wipe => "wipe",
            Request::Dump { .. } => "dump",
            Request::Verify { .. } => "verify",
            Request::Status => "status",
        }
    }

    /// Every argument check of the protocol, in one place: names within
    /// limits, ids that may be used where they are used.
    pub fn check(&self) -> Result<(), WireError> {
        let bad = |m: String| Err(WireError::new(ErrorKind::InvalidArgument, m));
        let entry_ok = |e: &Entry| -> Result<(), WireError> {
            e.name
                .check()
                .map_err(|err| WireError::new(ErrorKind::InvalidArgument, err.to_string()))?;
            if !e.did.is_valid_parent() {
                return Err(WireError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "{} cannot be a parent directory id (2 or from 17 up)",
                        e.did
                    ),
                ));
            }
            Ok(())
        };
        let id_ok = |id: Cnid| -> Result<(), WireError> {
            if id.is_assignable() {
                Ok(())
            } else {
                Err(WireError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "id {id} is reserved{}; stored ids start at 17",
                        if id == Cnid::ROOT {
                            " (the volume root)"
                        } else {
                            ""
                        }
                    ),
                ))
            }
        };
        match self {
            Request::Hello(h) if h.volume.len() > MAX_VOLUME_PATH => bad(format!(
                "volume path is {} bytes; the limit is {MAX_VOLUME_PATH}",
                h.volume.len()
            )),
            Request::Hello(_) | Request::Ping | Request::GetStamp | Request::Wipe => Ok(()),
            Request::Status | Request::Verify { .. } => Ok(()),
            Request::Add { entry, hint } | Request::Lookup { entry, hint } => {
                entry_ok(entry)?;
                hint.map_or(Ok(()), id_ok)
            }
            Request::Get { did, name } => {
                name.check()
                    .map_err(|e| WireError::new(ErrorKind::InvalidArgument, e.to_string()))?;
                if did.is_valid_parent() {
                    Ok(())
                } else {
                    bad(format!(
                        "{did} cannot be a parent directory id (2 or from 17 up)"
                    ))
                }
            }
            Request::Resolve { id } | Request::Delete { id } => id_ok(*id),
            Request::Update { id, entry } | Request::RebuildAdd { id, entry } => {
                id_ok(*id)?;
                entry_ok(entry)
            }
            Request::Search { prefix, max } => {
                prefix
                    .check()
                    .map_err(|e| WireError::new(ErrorKind::InvalidArgument, e.to_string()))?;
                if *max == 0 || *max > MAX_SEARCH {
                    return bad(format!(
                        "search returns 1 to {MAX_SEARCH} records, not {max}"
                    ));
                }
                Ok(())
            }
            Request::Dump { max, .. } => {
                if *max == 0 || *max > MAX_DUMP {
                    return bad(format!(
                        "dump returns 1 to {MAX_DUMP} records at a time, not {max}"
                    ));
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    #[serde(with = "serde_bytes")]
    pub volume: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub dbdir: Vec<u8>,
    /// pid of the cnid_dbd now serving the connection.
    pub pid: u32,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(with = "serde_bytes")]
    pub volume: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub dbdir: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub usock: Vec<u8>,
    pub params: DbParam,
    pub clients: u32,
    pub records: u64,
    pub requests: u64,
    pub evictions: u64,
    pub flushes: u64,
    pub uptime_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub records: u64,
    /// One line per inconsistency found (at most a few thousand).
    pub problems: Vec<String>,
    /// Whether the indexes were rebuilt from the records.
    pub repaired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The request is well-formed but an argument is not acceptable.
    InvalidArgument,
    /// The peer is not allowed to use this volume.
    PermissionDenied,
    /// Another cnid_dbd holds the volume's database.
    Locked,
    /// The service refuses for now (restart storm, shutting down).
    Refused,
    /// The database failed.
    Database,
    /// The request broke the protocol (out of sequence, wrong version).
    Protocol,
    /// The volume or its database directory is unusable.
    Volume,
    /// cnid_dbd could not start (configuration, permissions).
    Startup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: ErrorKind,
    pub message: String,
}

impl WireError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> WireError {
        WireError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Welcome(Welcome),
    Pong,
    Id(Cnid),
    NotFound,
    Resolved { did: Cnid, name: Name },
    Stamp(Stamp),
    Done,
    Records(Vec<Record>),
    Verified(VerifyReport),
    Status(Box<Status>),
    Error(WireError),
}

/// cnid_metad -> cnid_dbd, over the control channel ([`crate::fdpass`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToDbd {
    /// A client connection (the descriptor travels with the message) and
    /// the Hello it sent. `seq` counts hand-offs to this cnid_dbd.
    Client {
        hello: Hello,
        peer: PeerCred,
        seq: u64,
    },
    /// Answer to IdleExit: no hand-off is in flight, exit now.
    ExitNow,
    /// Answer to IdleExit: hand-offs are in flight, keep serving.
    Stay,
}

/// cnid_dbd -> cnid_metad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromDbd {
    Ready {
        pid: u32,
    },
    /// Start-up failed; `error` goes to the client that caused the start.
    Failed {
        error: WireError,
    },
    /// idle_timeout passed with no client; `seen` is the last hand-off
    /// sequence number received.
    IdleExit {
        seen: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnid::FileKind;
    use crate::codec;

    fn entry(did: u32, name: &[u8]) -> Entry {
        Entry {
            dev: 0x801,
            ino: 1234,
            kind: FileKind::File,
            did: Cnid(did),
            name: Name::new(name.to_vec()).unwrap_or_else(|_| {
                // Build unchecked names the way the wire would deliver them.
                codec::decode(&{
                    let mut v = Vec::new();
                    codec::encode_into(&serde_bytes::ByteBuf::from(name.to_vec()), &mut v).unwrap();
                    v
                })
                .unwrap()
            }),
        }
    }

    #[test]
    fn wire_bytes_of_an_add() {
        let r = Request::Add {
            entry: entry(2, b"a.txt"),
            hint: None,
        };
        let bytes = codec::encode(&r).unwrap();
        assert_eq!(
            bytes,
            [
                0x02, // variant Add
                0xfb, 0x01, 0x08, // dev 0x801 (varint u16)
                0xfb, 0xd2, 0x04, // ino 1234
                0x00, // kind File
                0x02, // did 2
                0x05, b'a', b'.', b't', b'x', b't', // name
                0x00, // hint None
            ]
        );
        assert_eq!(codec::decode::<Request>(&bytes).unwrap(), r);
    }

    #[test]
    fn checks_reject_reserved_ids_and_bad_names() {
        let long = vec![b'n'; 300];
        let cases = [
            (Request::Resolve { id: Cnid(0) }, "id 0 is reserved"),
            (Request::Delete { id: Cnid(2) }, "(the volume root)"),
            (Request::Resolve { id: Cnid(16) }, "stored ids start at 17"),
            (
                Request::Add {
                    entry: entry(1, b"x"),
                    hint: None,
                },
                "1 cannot be a parent",
            ),
            (
                Request::Add {
                    entry: entry(2, &long),
                    hint: None,
                },
                "300 bytes long; the limit is 255",
            ),
            (
                Request::Add {
                    entry: entry(2, b"x"),
                    hint: Some(Cnid(1)),
                },
                "id 1 is reserved",
            ),
            (
                Request::Add {
                    entry: entry(2, b"a/b"),
                    hint: None,
                },
                "contains '/'",
            ),
            (
                Request::Search {
                    prefix: Name::new("a").unwrap(),
                    max: 1000,
                },
                "1 to 100",
            ),
        ];
        for (req, want) in cases {
            let err = req.check().unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
            assert!(err.message.contains(want), "{req:?}: {}", err.message);
        }
        assert!(Request::Resolve { id: Cnid(17) }.check().is_ok());
    }
}

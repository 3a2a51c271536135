//! netatalk's CNID wire format (3.x/4.x on x86_64), as afpd speaks it to
//! cnid_metad (TCP, default localhost:4700) and then to cnid_dbd on the
//! same socket (../shared/reference/cnid.md). Used by `cnid bench` to
//! measure netatalk's daemons beside ours, and by a netatalk front door.
//!
//! Hand-off, sent once after connecting, no reply:
//! ```text
//!  0   4   8   12
//!  +---+---+---+--------------------------------------+
//!  |l0 |l1 |l2 | configname\0 volpath\0 [user\0]     |  l*: i32 host order,
//!  +---+---+---+--------------------------------------+  lengths with the NUL
//! ```
//! Request (48 bytes, then `namelen` name bytes without NUL) and reply
//! (32 bytes, then `namelen` payload bytes): see [`req`] and [`rep`]. Ids
//! are in network order, everything else in host order; pointer fields
//! carry garbage and are ignored.

/// Request field offsets.
pub mod req {
    use std::ops::Range;
    pub const OP: Range<usize> = 0..4;
    pub const CNID: Range<usize> = 4..8;
    pub const DEV: Range<usize> = 8..16;
    pub const INO: Range<usize> = 16..24;
    pub const TYPE: Range<usize> = 24..28;
    pub const DID: Range<usize> = 28..32;
    pub const NAME_PTR: Range<usize> = 32..40;
    pub const NAMELEN: Range<usize> = 40..48;
    pub const LEN: usize = NAMELEN.end;
}

/// Reply field offsets.
pub mod rep {
    use std::ops::Range;
    pub const RESULT: Range<usize> = 0..4;
    pub const CNID: Range<usize> = 4..8;
    pub const DID: Range<usize> = 8..12;
    pub const PAD: Range<usize> = 12..16;
    pub const NAME_PTR: Range<usize> = 16..24;
    pub const NAMELEN: Range<usize> = 24..32;
    pub const LEN: usize = NAMELEN.end;
}

/// Operation codes.
pub mod op {
    pub const OPEN: i32 = 1;
    pub const CLOSE: i32 = 2;
    pub const ADD: i32 = 3;
    pub const GET: i32 = 4;
    pub const RESOLVE: i32 = 5;
    pub const LOOKUP: i32 = 6;
    pub const UPDATE: i32 = 7;
    pub const DELETE: i32 = 8;
    pub const GETSTAMP: i32 = 11;
    pub const REBUILD_ADD: i32 = 12;
    pub const SEARCH: i32 = 13;
    pub const WIPE: i32 = 14;
}

/// Reply results.
pub mod result {
    pub const OK: i32 = 0;
    pub const NOTFOUND: i32 = 1;
    pub const ERR_DB: i32 = 2;
    pub const ERR_MAX: i32 = 3;
    pub const ERR_DUPLCNID: i32 = 4;
    pub const SRCH_CNT: i32 = 5;
    pub const SRCH_DONE: i32 = 6;
}

/// Longest name or payload accepted (MAXPATHLEN); netatalk's own daemon
/// never checks, we do.
pub const MAX_NAME: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetatalkError {
    #[error("{what}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{what} length {len} exceeds {MAX_NAME}")]
    TooLong { what: &'static str, len: u64 },
    #[error("hand-off string {0} is not NUL-terminated")]
    Unterminated(usize),
    #[error("hand-off length {0} is negative")]
    Negative(i32),
}

/// The hand-off afpd sends to cnid_metad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub configname: Vec<u8>,
    pub volpath: Vec<u8>,
    pub user: Option<Vec<u8>>,
}

impl Handoff {
    pub fn emit(&self, out: &mut Vec<u8>) {
        let len = |s: &[u8]| (s.len() as i32 + 1).to_le_bytes();
        out.extend_from_slice(&len(&self.configname)); // 0..4
        out.extend_from_slice(&len(&self.volpath)); //    4..8
        match &self.user {
            //                                           8..12
            Some(u) => out.extend_from_slice(&len(u)),
            None => out.extend_from_slice(&0i32.to_le_bytes()),
        }
        for s in [
            Some(&self.configname),
            Some(&self.volpath),
            self.user.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            out.extend_from_slice(s);
            out.push(0);
        }
    }

    /// Parses a complete hand-off; returns it and the bytes it used.
    pub fn parse(b: &[u8]) -> Result<(Handoff, usize), NetatalkError> {
        let need = |n: usize, what| {
            if b.len() < n {
                Err(NetatalkError::Truncated {
                    what,
                    need: n,
                    have: b.len(),
                })
            } else {
                Ok(())
            }
        };
        need(12, "hand-off header")?;
        let mut lens = [0usize; 3];
        for (i, l) in lens.iter_mut().enumerate() {
            let v = i32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().expect("4"));
            if v < 0 {
                return Err(NetatalkError::Negative(v));
            }
            if v as usize > MAX_NAME {
                return Err(NetatalkError::TooLong {
                    what: "hand-off string",
                    len: v as u64,
                });
            }
            *l = v as usize;
        }
        let mut at = 12;
        let mut strings = Vec::new();
        for (i, &l) in lens.iter().enumerate() {
            if l == 0 {
                strings.push(None);
                continue;
            }
            need(at + l, "hand-off strings")?;
            if b[at + l - 1] != 0 {
                return Err(NetatalkError::Unterminated(i));
            }
            strings.push(Some(b[at..at + l - 1].to_vec()));
            at += l;
        }
        let mut it = strings.into_iter();
        Ok((
            Handoff {
                configname: it.next().flatten().unwrap_or_default(),
                volpath: it.next().flatten().unwrap_or_default(),
                user: it.next().flatten(),
            },
            at,
        ))
    }
}

/// A request as afpd sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub op: i32,
    pub cnid: u32,
    pub dev: u64,
    pub ino: u64,
    /// 0 file, 1 directory.
    pub kind: u32,
    pub did: u32,
    pub name: Vec<u8>,
}

impl Request {
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + req::LEN, 0);
        let h = &mut out[start..];
        h[req::OP].copy_from_slice(&self.op.to_le_bytes());
        h[req::CNID].copy_from_slice(&self.cnid.to_be_bytes());
        h[req::DEV].copy_from_slice(&self.dev.to_le_bytes());
        h[req::INO].copy_from_slice(&self.ino.to_le_bytes());
        h[req::TYPE].copy_from_slice(&self.kind.to_le_bytes());
        h[req::DID].copy_from_slice(&self.did.to_be_bytes());
        h[req::NAME_PTR].fill(0);
        h[req::NAMELEN].copy_from_slice(&(self.name.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.name);
    }

    /// The name length a header announces (checked against [`MAX_NAME`]).
    pub fn name_len(header: &[u8; req::LEN]) -> Result<usize, NetatalkError> {
        let n = u64::from_le_bytes(header[req::NAMELEN].try_into().expect("8"));
        if n > MAX_NAME as u64 {
            return Err(NetatalkError::TooLong {
                what: "request name",
                len: n,
            });
        }
        Ok(n as usize)
    }

    pub fn parse(b: &[u8]) -> Result<Request, NetatalkError> {
        let header: &[u8; req::LEN] =
            b.get(..req::LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or(NetatalkError::Truncated {
                    what: "request",
                    need: req::LEN,
                    have: b.len(),
                })?;
        let n = Request::name_len(header)?;
        let name = b
            .get(req::LEN..req::LEN + n)
            .ok_or(NetatalkError::Truncated {
                what: "request name",
                need: req::LEN + n,
                have: b.len(),
            })?;
        Ok(Request {
            op: i32::from_le_bytes(header[req::OP].try_into().expect("4")),
            cnid: u32::from_be_bytes(header[req::CNID].try_into().expect("4")),
            dev: u64::from_le_bytes(header[req::DEV].try_into().expect("8")),
            ino: u64::from_le_bytes(header[req::INO].try_into().expect("8")),
            kind: u32::from_le_bytes(header[req::TYPE].try_into().expect("4")),
            did: u32::from_be_bytes(header[req::DID].try_into().expect("4")),
            name: name.to_vec(),
        })
    }
}

/// A reply as cnid_dbd sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub result: i32,
    pub cnid: u32,
    pub did: u32,
    /// The stamp (GETSTAMP), the whole record (RESOLVE), ids (SEARCH).
    pub payload: Vec<u8>,
}

impl Reply {
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + rep::LEN, 0);
        let h = &mut out[start..];
        h[rep::RESULT].copy_from_slice(&self.result.to_le_bytes());
        h[rep::CNID].copy_from_slice(&self.cnid.to_be_bytes());
        h[rep::DID].copy_from_slice(&self.did.to_be_bytes());
        h[rep::PAD].fill(0);
        h[rep::NAME_PTR].fill(0);
        h[rep::NAMELEN].copy_from_slice(&(self.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.payload);
    }

    /// The payload length a header announces (checked).
    pub fn payload_len(header: &[u8; rep::LEN]) -> Result<usize, NetatalkError> {
        let n = u64::from_le_bytes(header[rep::NAMELEN].try_into().expect("8"));
        if n > (MAX_NAME + 64) as u64 {
            return Err(NetatalkError::TooLong {
                what: "reply payload",
                len: n,
            });
        }
        Ok(n as usize)
    }

    pub fn parse(b: &[u8]) -> Result<Reply, NetatalkError> {
        let header: &[u8; rep::LEN] =
            b.get(..rep::LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or(NetatalkError::Truncated {
                    what: "reply",
                    need: rep::LEN,
                    have: b.len(),
                })?;
        let n = Reply::payload_len(header)?;
        let payload = b
            .get(rep::LEN..rep::LEN + n)
            .ok_or(NetatalkError::Truncated {
                what: "reply payload",
                need: rep::LEN + n,
                have: b.len(),
            })?;
        Ok(Reply {
            result: i32::from_le_bytes(header[rep::RESULT].try_into().expect("4")),
            cnid: u32::from_be_bytes(header[rep::CNID].try_into().expect("4")),
            did: u32::from_be_bytes(header[rep::DID].try_into().expect("4")),
            payload: payload.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured between a client and netatalk 4.0.3dev's cnid_metad/cnid_dbd.
    const HANDOFF: &str =
        "050000001300000000000000766f6c31002f746d702f6e65746174616c6b2f766f6c3100";
    const ADD_REQ: &str = "03000000000000000108000000000000d2040000000000000000000000000002\
                           00000000000000000500000000000000612e747874";
    const ADD_REP: &str = "0000000000000011000000000000000000000000000000000000000000000000";
    const STAMP_REP: &str = "00000000000000000000000000000000c4328aaccb5500000800000000000000\
                             f742016b00000000";
    const RESOLVE_REP: &str = "00000000000000000000000200000000c0328aaccb5500002200000000000000\
                               00000011000000000000080100000000000004d20000000000000002612e74787400";
    const GET_MISS_REP: &str = "0100000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn handoff_bytes() {
        let h = Handoff {
            configname: b"vol1".to_vec(),
            volpath: b"/tmp/netatalk/vol1".to_vec(),
            user: None,
        };
        let mut out = vec![0xa5];
        h.emit(&mut out);
        assert_eq!(out[1..], hex(HANDOFF)[..]);
        assert_eq!(Handoff::parse(&hex(HANDOFF)).unwrap(), (h, 36));
        let with_user = Handoff {
            user: Some(b"nobody".to_vec()),
            ..Handoff::parse(&hex(HANDOFF)).unwrap().0
        };
        let mut out = Vec::new();
        with_user.emit(&mut out);
        assert_eq!(Handoff::parse(&out).unwrap().0, with_user);
        assert!(matches!(
            Handoff::parse(&hex(HANDOFF)[..20]),
            Err(NetatalkError::Truncated { .. })
        ));
        let mut bad = hex(HANDOFF);
        bad[16] = b'x'; // the NUL ending "vol1"
        assert_eq!(Handoff::parse(&bad), Err(NetatalkError::Unterminated(0)));
        let mut neg = hex(HANDOFF);
        neg[0..4].copy_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(Handoff::parse(&neg), Err(NetatalkError::Negative(-1)));
    }

    #[test]
    fn add_request_bytes() {
        let r = Request {
            op: op::ADD,
            dev: 0x801,
            ino: 1234,
            did: 2,
            name: b"a.txt".to_vec(),
            ..Default::default()
        };
        let mut out = Vec::new();
        r.emit(&mut out);
        assert_eq!(out, hex(ADD_REQ));
        assert_eq!(Request::parse(&out).unwrap(), r);
    }

    #[test]
    fn replies_from_netatalk() {
        let add = Reply::parse(&hex(ADD_REP)).unwrap();
        assert_eq!(
            (add.result, add.cnid, add.payload.len()),
            (result::OK, 17, 0)
        );
        let stamp = Reply::parse(&hex(STAMP_REP)).unwrap();
        assert_eq!(stamp.payload, hex("f742016b00000000"));
        let res = Reply::parse(&hex(RESOLVE_REP)).unwrap();
        assert_eq!(res.did, 2);
        // The whole record: cnid, dev, ino, type, did (big-endian), name\0.
        assert_eq!(&res.payload[28..], b"a.txt\0");
        assert_eq!(
            Reply::parse(&hex(GET_MISS_REP)).unwrap().result,
            result::NOTFOUND
        );
        // What we emit parses back; garbage pointer fields are not kept.
        let mut out = vec![];
        res.emit(&mut out);
        assert_eq!(Reply::parse(&out).unwrap(), res);
    }

    #[test]
    fn lengths_are_bounded() {
        let mut h = hex(ADD_REQ);
        h[req::NAMELEN].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            Request::parse(&h),
            Err(NetatalkError::TooLong { .. })
        ));
        let mut h = hex(ADD_REQ);
        h.truncate(50);
        assert!(matches!(
            Request::parse(&h),
            Err(NetatalkError::Truncated { .. })
        ));
        let mut r = hex(ADD_REP);
        r[rep::NAMELEN].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            Reply::parse(&r),
            Err(NetatalkError::TooLong { .. })
        ));
    }
}

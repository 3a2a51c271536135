//! NEGOTIATE (MS-SMB2 2.2.3/4) and its negotiate contexts (3.1.1).
//!
//! ```text
//! request:  0 StructureSize (36)  2 DialectCount  4 SecurityMode  6 Reserved
//!           8 Capabilities  12 ClientGuid (16)  28 NegotiateContextOffset
//!          32 NegotiateContextCount  34 Reserved2  36 Dialects (2 each)
//! response: 0 StructureSize (65)  2 SecurityMode  4 DialectRevision
//!           6 NegotiateContextCount  8 ServerGuid (16)  24 Capabilities
//!          28 MaxTransactSize  32 MaxReadSize  36 MaxWriteSize  40 SystemTime
//!          48 ServerStartTime  56 SecurityBufferOffset  58 SecurityBufferLength
//!          60 NegotiateContextOffset  64 Buffer, then contexts (8-aligned)
//! context:  0 ContextType  2 DataLength  4 Reserved  8 Data
//! ```

use crate::wire::header::HEADER_LEN;
use crate::wire::reader::{Put, Reader, WireError};

pub const MAX_DIALECTS: usize = 64;
pub const MAX_CONTEXTS: usize = 32;

pub mod dialect {
    pub const SMB2_02: u16 = 0x0202;
    pub const SMB2_10: u16 = 0x0210;
    pub const SMB3_00: u16 = 0x0300;
    pub const SMB3_02: u16 = 0x0302;
    pub const SMB3_11: u16 = 0x0311;
    /// "SMB 2.???": answer to an SMB1 negotiate that offers SMB2.
    pub const WILDCARD: u16 = 0x02ff;
}

pub mod security_mode {
    pub const SIGNING_ENABLED: u16 = 0x0001;
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

pub mod caps {
    pub const DFS: u32 = 0x01;
    pub const LEASING: u32 = 0x02;
    pub const LARGE_MTU: u32 = 0x04;
    pub const MULTI_CHANNEL: u32 = 0x08;
    pub const PERSISTENT_HANDLES: u32 = 0x10;
    pub const DIRECTORY_LEASING: u32 = 0x20;
    pub const ENCRYPTION: u32 = 0x40;
}

pub mod context_type {
    pub const PREAUTH_INTEGRITY: u16 = 0x0001;
    pub const ENCRYPTION: u16 = 0x0002;
    pub const COMPRESSION: u16 = 0x0003;
    pub const NETNAME: u16 = 0x0005;
    pub const TRANSPORT: u16 = 0x0006;
    pub const RDMA_TRANSFORM: u16 = 0x0007;
    pub const SIGNING: u16 = 0x0008;
}

pub const SHA_512: u16 = 0x0001;

/// Context types a NEGOTIATE may carry at most once.
const ONCE: [u16; 5] = [
    context_type::PREAUTH_INTEGRITY,
    context_type::ENCRYPTION,
    context_type::COMPRESSION,
    context_type::RDMA_TRANSFORM,
    context_type::SIGNING,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegContext {
    Preauth {
        hash_algorithms: Vec<u16>,
        salt: Vec<u8>,
    },
    Encryption {
        ciphers: Vec<u16>,
    },
    Signing {
        algorithms: Vec<u16>,
    },
    /// Contexts we do not act on (compression, netname, transport, POSIX,
    /// unknown ones), kept as sent.
    Other {
        kind: u16,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateIn {
    pub security_mode: u16,
    pub capabilities: u32,
    pub client_guid: [u8; 16],
    pub dialects: Vec<u16>,
    pub contexts: Vec<NegContext>,
}

fn u16_list(r: &mut Reader<'_>, count: usize, what: &'static str) -> Result<Vec<u16>, WireError> {
    if count > MAX_DIALECTS {
        return Err(WireError::TooLarge {
            what,
            len: count,
            max: MAX_DIALECTS,
        });
    }
    (0..count).map(|_| r.u16(what)).collect()
}

/// A count of algorithms that must not be zero (MS-SMB2 3.3.5.4: an empty
/// list fails the NEGOTIATE with STATUS_INVALID_PARAMETER).
fn count(r: &mut Reader<'_>, what: &'static str) -> Result<usize, WireError> {
    match r.u16(what)? {
        0 => Err(WireError::Invalid {
            what,
            value: 0,
            why: "an empty list",
        }),
        n => Ok(n.into()),
    }
}

/// The data of one negotiate context of type `kind`.
pub fn parse_context(kind: u16, data: &[u8]) -> Result<NegContext, WireError> {
    let mut r = Reader::new(data);
    Ok(match kind {
        context_type::PREAUTH_INTEGRITY => {
            let n = count(&mut r, "PREAUTH HashAlgorithmCount")?;
            let salt_len = r.u16("PREAUTH SaltLength")? as usize;
            let hash_algorithms = u16_list(&mut r, n, "PREAUTH HashAlgorithms")?;
            let salt = r.take(salt_len, "PREAUTH Salt")?.to_vec();
            NegContext::Preauth {
                hash_algorithms,
                salt,
            }
        }
        context_type::ENCRYPTION => {
            let n = count(&mut r, "ENCRYPTION CipherCount")?;
            NegContext::Encryption {
                ciphers: u16_list(&mut r, n, "ENCRYPTION Ciphers")?,
            }
        }
        context_type::SIGNING => {
            let n = count(&mut r, "SIGNING SigningAlgorithmCount")?;
            NegContext::Signing {
                algorithms: u16_list(&mut r, n, "SIGNING SigningAlgorithms")?,
            }
        }
        kind => NegContext::Other {
            kind,
            data: data.to_vec(),
        },
    })
}

pub fn parse(msg: &[u8]) -> Result<NegotiateIn, WireError> {
    let mut r = super::body(msg, 36, "NEGOTIATE")?;
    let count = r.u16("NEGOTIATE DialectCount")? as usize;
    let security_mode = r.u16("NEGOTIATE SecurityMode")?;
    r.skip(2, "NEGOTIATE Reserved")?;
    let capabilities = r.u32("NEGOTIATE Capabilities")?;
    let client_guid = r.array::<16>("NEGOTIATE ClientGuid")?;
    let ctx_offset = r.u32("NEGOTIATE NegotiateContextOffset")? as usize;
    let ctx_count = r.u16("NEGOTIATE NegotiateContextCount")? as usize;
    r.skip(2, "NEGOTIATE Reserved2")?;
    if count == 0 {
        return Err(WireError::Invalid {
            what: "NEGOTIATE DialectCount",
            value: 0,
            why: "no dialect offered",
        });
    }
    let dialects = u16_list(&mut r, count, "NEGOTIATE Dialects")?;
    let mut contexts = Vec::new();
    if dialects.contains(&dialect::SMB3_11) && ctx_count > 0 {
        if ctx_count > MAX_CONTEXTS {
            return Err(WireError::TooLarge {
                what: "NegotiateContextCount",
                len: ctx_count,
                max: MAX_CONTEXTS,
            });
        }
        let mut at = ctx_offset;
        let mut kinds = Vec::with_capacity(ctx_count);
        for i in 0..ctx_count {
            if at < HEADER_LEN {
                return Err(WireError::OutOfBounds {
                    what: "negotiate context",
                    offset: at,
                    len: 8,
                    size: msg.len(),
                });
            }
            let mut cr = Reader::new(msg.get(at..).ok_or(WireError::OutOfBounds {
                what: "negotiate context",
                offset: at,
                len: 8,
                size: msg.len(),
            })?);
            let kind = cr.u16("context ContextType")?;
            let len = cr.u16("context DataLength")? as usize;
            cr.skip(4, "context Reserved")?;
            let data = cr.take(len, "context Data")?;
            // MS-SMB2 3.3.5.4: each of these may appear once; a second
            // one (which of the two would count?) fails the NEGOTIATE.
            if ONCE.contains(&kind) && kinds.contains(&kind) {
                return Err(WireError::Invalid {
                    what: "negotiate context",
                    value: kind.into(),
                    why: "sent twice",
                });
            }
            kinds.push(kind);
            contexts.push(parse_context(kind, data)?);
            if i + 1 < ctx_count {
                at = (at + 8 + len).next_multiple_of(8);
            }
        }
    }
    Ok(NegotiateIn {
        security_mode,
        capabilities,
        client_guid,
        dialects,
        contexts,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateOut {
    pub security_mode: u16,
    pub dialect: u16,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    pub max_transact: u32,
    pub max_read: u32,
    pub max_write: u32,
    pub system_time: u64,
    pub server_start_time: u64,
    pub security_buffer: Vec<u8>,
    pub contexts: Vec<NegContext>,
}

/// One negotiate context: ContextType, DataLength, Reserved, Data.
pub fn emit_context(c: &NegContext, out: &mut Vec<u8>) {
    let (kind, data) = match c {
        NegContext::Preauth {
            hash_algorithms,
            salt,
        } => {
            let mut d = Vec::new();
            d.u16(hash_algorithms.len() as u16);
            d.u16(salt.len() as u16);
            for h in hash_algorithms {
                d.u16(*h);
            }
            d.extend_from_slice(salt);
            (context_type::PREAUTH_INTEGRITY, d)
        }
        NegContext::Encryption { ciphers } => {
            let mut d = Vec::new();
            d.u16(ciphers.len() as u16);
            for c in ciphers {
                d.u16(*c);
            }
            (context_type::ENCRYPTION, d)
        }
        NegContext::Signing { algorithms } => {
            let mut d = Vec::new();
            d.u16(algorithms.len() as u16);
            for a in algorithms {
                d.u16(*a);
            }
            (context_type::SIGNING, d)
        }
        NegContext::Other { kind, data } => (*kind, data.clone()),
    };
    out.u16(kind);
    out.u16(data.len() as u16);
    out.u32(0);
    out.extend_from_slice(&data);
}

/// Emits the response body; `out` holds the 64-byte header already, so
/// offsets are positions in `out`.
pub fn emit(o: &NegotiateOut, out: &mut Vec<u8>) {
    let hdr = out.len() - HEADER_LEN;
    let ctx_count = if o.dialect == dialect::SMB3_11 {
        o.contexts.len()
    } else {
        0
    };
    out.u16(65); //                                   0
    out.u16(o.security_mode); //                      2
    out.u16(o.dialect); //                            4
    out.u16(ctx_count as u16); //                     6
    out.extend_from_slice(&o.server_guid); //         8
    out.u32(o.capabilities); //                      24
    out.u32(o.max_transact); //                      28
    out.u32(o.max_read); //                          32
    out.u32(o.max_write); //                         36
    out.u64(o.system_time); //                       40
    out.u64(o.server_start_time); //                 48
    out.u16((HEADER_LEN + 64) as u16); //            56 SecurityBufferOffset
    out.u16(o.security_buffer.len() as u16); //      58
    let ctx_off_at = out.len();
    out.u32(0); //                                   60 NegotiateContextOffset
    out.extend_from_slice(&o.security_buffer); //    64
    if ctx_count > 0 {
        out.pad_to(hdr, 8);
        let off = (out.len() - hdr) as u32;
        crate::wire::reader::patch_u32(out, ctx_off_at, off);
        for (i, c) in o.contexts.iter().enumerate() {
            if i > 0 {
                out.pad_to(hdr, 8);
            }
            emit_context(c, out);
        }
    } else if o.security_buffer.is_empty() {
        out.u8(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use crate::wire::header::Command;

    #[test]
    fn smbclient_negotiate_request() {
        let m = testdata::first(Command::NEGOTIATE, false);
        let n = parse(&m).unwrap();
        assert_eq!(n.dialects, [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
        assert_eq!(n.security_mode, security_mode::SIGNING_ENABLED);
        assert!(n.contexts.iter().any(|c| matches!(c, NegContext::Preauth { hash_algorithms, salt } if hash_algorithms == &[SHA_512] && salt.len() == 32)));
        assert!(n.contexts.iter().any(|c| matches!(c, NegContext::Encryption { ciphers } if ciphers.contains(&1) && ciphers.contains(&2))));
    }

    #[test]
    fn samba_negotiate_response_layout() {
        // Parse Samba's response with our reading of the layout, and check
        // that what we emit from the same values has the same shape.
        let m = testdata::first(Command::NEGOTIATE, true);
        let mut r = super::super::body(&m, 65, "NEGOTIATE response").unwrap();
        let secmode = r.u16("s").unwrap();
        let dialect = r.u16("d").unwrap();
        let ctx_count = r.u16("c").unwrap();
        assert_eq!(dialect, 0x0311);
        assert!(ctx_count >= 2);
        let guid = r.array::<16>("g").unwrap();
        let caps = r.u32("caps").unwrap();
        let (mt, mr, mw) = (
            r.u32("t").unwrap(),
            r.u32("r").unwrap(),
            r.u32("w").unwrap(),
        );
        r.skip(16, "times").unwrap();
        let sb_off = r.u16("o").unwrap() as usize;
        let sb_len = r.u16("l").unwrap() as usize;
        assert_eq!(sb_off, 128);
        let ctx_off = r.u32("co").unwrap() as usize;
        assert_eq!(ctx_off % 8, 0);
        let blob = m[sb_off..sb_off + sb_len].to_vec();
        let out_struct = NegotiateOut {
            security_mode: secmode,
            dialect,
            server_guid: guid,
            capabilities: caps,
            max_transact: mt,
            max_read: mr,
            max_write: mw,
            system_time: 0,
            server_start_time: 0,
            security_buffer: blob,
            contexts: vec![
                NegContext::Preauth {
                    hash_algorithms: vec![SHA_512],
                    salt: vec![0; 32],
                },
                NegContext::Encryption { ciphers: vec![1] },
            ],
        };
        let mut out = m[..64].to_vec();
        emit(&out_struct, &mut out);
        assert_eq!(&out[64..64 + 6], &m[64..64 + 6]);
        assert_eq!(&out[64 + 8..64 + 40], &m[64 + 8..64 + 40]);
        assert_eq!(&out[64 + 56..64 + 60], &m[64 + 56..64 + 60]);
        assert_eq!(
            u32::from_le_bytes(out[124..128].try_into().unwrap()) as usize,
            ctx_off
        );
        // And we read back what we wrote.
        let mut back = out.clone();
        back[16] = 0; // as if a request: contexts are parsed the same way
        let first_ctx = &out[ctx_off..];
        assert_eq!(&first_ctx[0..2], &[1, 0]);
    }

    #[test]
    fn hostile_contexts_are_refused() {
        let mut m = testdata::first(Command::NEGOTIATE, false);
        // Context offset beyond the message.
        let mut bad = m.clone();
        bad[64 + 28..64 + 32].copy_from_slice(&0xfff0u32.to_le_bytes());
        assert!(parse(&bad).is_err());
        // A count far above what is there.
        let mut bad = m.clone();
        bad[64 + 32..64 + 34].copy_from_slice(&1000u16.to_le_bytes());
        assert!(parse(&bad).is_err());
        // A dialect count beyond the body.
        m[64 + 2..64 + 4].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(parse(&m).is_err());
    }

    /// A 3.1.1 NEGOTIATE body (dialects 0x0302 and 0x0311) with the given
    /// contexts at offset 112.
    fn with_contexts(count: u16, contexts: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 64];
        m[0..4].copy_from_slice(&crate::wire::header::PROTOCOL_ID);
        m[4] = 64;
        #[rustfmt::skip]
        m.extend_from_slice(&[
            0x24, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, //  0 size 36, 2 dialects, mode 1
            0x00, 0x00, 0x00, 0x00, 0x42, 0x42, 0x42, 0x42, //  8 caps, 12 guid
            0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
            0x42, 0x42, 0x42, 0x42, 0x70, 0x00, 0x00, 0x00, // 28 NegotiateContextOffset 112
            count as u8, 0x00, 0x00, 0x00, 0x02, 0x03, 0x11, 0x03, // 32 count, 36 dialects
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 40 padding to 112
        ]);
        m.extend_from_slice(contexts);
        m
    }

    /// PREAUTH_INTEGRITY: one hash (SHA-512), a 2-byte salt.
    const PREAUTH: [u8; 16] = [
        0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, // type 1, length 8
        0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0xaa, 0xbb, // 1 hash, salt 2, SHA-512, salt
    ];
    /// ENCRYPTION: AES-128-GCM.
    const CIPHER: [u8; 16] = [
        0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, // type 2, length 4
        0x01, 0x00, 0x02, 0x00, 0xcc, 0xdd, 0x00, 0x00, // 1 cipher: GCM; salt end, pad
    ];

    #[test]
    fn duplicate_and_empty_contexts_are_refused() {
        let preauth = PREAUTH;
        let ok = with_contexts(2, &[preauth, CIPHER].concat());
        let n = parse(&ok).unwrap();
        assert_eq!(n.contexts.len(), 2);
        // A second PREAUTH_INTEGRITY, a second ENCRYPTION.
        let twice = with_contexts(2, &[preauth, preauth].concat());
        assert!(matches!(
            parse(&twice),
            Err(WireError::Invalid {
                why: "sent twice",
                ..
            })
        ));
        let twice = with_contexts(3, &[preauth, CIPHER, CIPHER].concat());
        assert!(parse(&twice).is_err());
        // Unknown context types may repeat (clients send what they like).
        let mut other = CIPHER;
        other[0] = 0x99;
        assert!(parse(&with_contexts(3, &[preauth, other, other].concat())).is_ok());
        // HashAlgorithmCount 0; CipherCount 0.
        let mut empty = preauth;
        empty[8] = 0;
        assert!(parse(&with_contexts(1, &empty)).is_err());
        let mut empty = CIPHER;
        empty[8] = 0;
        assert!(parse(&with_contexts(2, &[preauth, empty].concat())).is_err());
    }
}

//! A small SMB2 client for tests that send raw (and deliberately broken)
//! bytes: NBSS framing, the 64-byte header, NEGOTIATE, an NTLMv2 session
//! setup (the NTLM arithmetic is smbd's public `auth::ntlm`, signing its
//! public `crypto`), TREE_CONNECT and the file commands, each as a body
//! builder so a test can break any field before sending it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use smbd::crypto::{self, Preauth, SessionKeys, SigningAlgo};

pub const HEADER_LEN: usize = 64;
pub const PROTOCOL_ID: [u8; 4] = [0xfe, b'S', b'M', b'B'];

/// Command codes (MS-SMB2 2.2.1).
pub mod cmd {
    pub const NEGOTIATE: u16 = 0x00;
    pub const SESSION_SETUP: u16 = 0x01;
    pub const LOGOFF: u16 = 0x02;
    pub const TREE_CONNECT: u16 = 0x03;
    pub const TREE_DISCONNECT: u16 = 0x04;
    pub const CREATE: u16 = 0x05;
    pub const CLOSE: u16 = 0x06;
    pub const READ: u16 = 0x08;
    pub const WRITE: u16 = 0x09;
    pub const LOCK: u16 = 0x0a;
    pub const IOCTL: u16 = 0x0b;
    pub const CANCEL: u16 = 0x0c;
    pub const ECHO: u16 = 0x0d;
    pub const QUERY_DIRECTORY: u16 = 0x0e;
    pub const CHANGE_NOTIFY: u16 = 0x0f;
    pub const QUERY_INFO: u16 = 0x10;
    pub const SET_INFO: u16 = 0x11;
}

pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x01;
    pub const ASYNC_COMMAND: u32 = 0x02;
    pub const RELATED_OPERATIONS: u32 = 0x04;
    pub const SIGNED: u32 = 0x08;
}

/// NTSTATUS values the tests look for.
pub mod status {
    pub const SUCCESS: u32 = 0;
    pub const PENDING: u32 = 0x0000_0103;
    pub const NOTIFY_CLEANUP: u32 = 0x0000_010b;
    pub const INVALID_PARAMETER: u32 = 0xc000_000d;
    pub const MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;
    pub const ACCESS_DENIED: u32 = 0xc000_0022;
    pub const OBJECT_NAME_INVALID: u32 = 0xc000_0033;
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xc000_0034;
    pub const OBJECT_PATH_NOT_FOUND: u32 = 0xc000_003a;
    pub const OBJECT_PATH_SYNTAX_BAD: u32 = 0xc000_003b;
    pub const LOGON_FAILURE: u32 = 0xc000_006d;
    pub const INSUFFICIENT_RESOURCES: u32 = 0xc000_009a;
    pub const NOT_SUPPORTED: u32 = 0xc000_00bb;
    pub const NETWORK_NAME_DELETED: u32 = 0xc000_00c9;
    pub const INTERNAL_ERROR: u32 = 0xc000_00e5;
    pub const TOO_MANY_OPENED_FILES: u32 = 0xc000_011f;
    pub const FILE_CLOSED: u32 = 0xc000_0128;
    pub const USER_SESSION_DELETED: u32 = 0xc000_0203;
    pub const STOPPED_ON_SYMLINK: u32 = 0x8000_002d;
}

/// Dialects a default client offers: up to 3.0.2, so no pre-auth hash is
/// needed and signing is AES-CMAC with a derived key.
pub const DIALECTS: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];

/// A 64-byte request header.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub credit_charge: u16,
    pub command: u16,
    pub credits: u16,
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
}

impl Header {
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&PROTOCOL_ID); //                      0
        out.extend_from_slice(&64u16.to_le_bytes()); //               4 StructureSize
        out.extend_from_slice(&self.credit_charge.to_le_bytes()); //  6
        out.extend_from_slice(&0u32.to_le_bytes()); //                8 ChannelSequence
        out.extend_from_slice(&self.command.to_le_bytes()); //       12
        out.extend_from_slice(&self.credits.to_le_bytes()); //       14
        out.extend_from_slice(&self.flags.to_le_bytes()); //         16
        out.extend_from_slice(&self.next_command.to_le_bytes()); //  20
        out.extend_from_slice(&self.message_id.to_le_bytes()); //    24
        out.extend_from_slice(&0u32.to_le_bytes()); //               32 Reserved
        out.extend_from_slice(&self.tree_id.to_le_bytes()); //       36
        out.extend_from_slice(&self.session_id.to_le_bytes()); //    40
        out.extend_from_slice(&[0; 16]); //                          48 Signature
    }
}

/// One response (an element of a compound response is one of these).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u32,
    pub command: u16,
    pub credits: u16,
    pub flags: u32,
    pub message_id: u64,
    pub async_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
    /// The whole message, header included (offsets count from its start).
    pub msg: Vec<u8>,
}

impl Response {
    pub fn body(&self) -> &[u8] {
        &self.msg[HEADER_LEN..]
    }

    fn parse(msg: &[u8]) -> Response {
        assert!(msg.len() >= HEADER_LEN, "short response: {msg:02x?}");
        assert_eq!(msg[..4], PROTOCOL_ID, "response protocol id");
        let u16_at = |o: usize| u16::from_le_bytes([msg[o], msg[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(msg[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(msg[o..o + 8].try_into().unwrap());
        let flags = u32_at(16);
        Response {
            status: u32_at(8),
            command: u16_at(12),
            credits: u16_at(14),
            flags,
            message_id: u64_at(24),
            async_id: if flags & flags::ASYNC_COMMAND != 0 {
                u64_at(32)
            } else {
                0
            },
            tree_id: u32_at(36),
            session_id: u64_at(40),
            msg: msg.to_vec(),
        }
    }

    pub fn u16_at(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.msg[off], self.msg[off + 1]])
    }

    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.msg[off..off + 4].try_into().unwrap())
    }

    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.msg[off..off + 8].try_into().unwrap())
    }
}

/// A 16-byte SMB2 file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(pub [u8; 16]);

impl FileId {
    /// The "file of the previous related request" id.
    pub const RELATED: FileId = FileId([0xff; 16]);
}

/// NBSS framing: type 0, 24-bit big-endian length.
pub fn nbss(payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len < 1 << 24);
    let mut f = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    f.extend_from_slice(payload);
    f
}

pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Request bodies, laid out in wire order; offsets count from the start
/// of the header, so a body starts at byte 64.
pub mod body {
    use super::*;

    pub fn echo() -> Vec<u8> {
        vec![4, 0, 0, 0]
    }

    /// NEGOTIATE with `dialects` and, when `contexts` is not empty, the
    /// given (already encoded, 8-aligned) negotiate context list at the
    /// first 8-aligned offset after the dialects.
    pub fn negotiate(dialects: &[u16], contexts: &[u8], context_count: u16) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 36); //                            0 StructureSize
        put16(&mut b, dialects.len() as u16); //        2 DialectCount
        put16(&mut b, 1); //                             4 SecurityMode: signing enabled
        put16(&mut b, 0); //                             6 Reserved
        put32(&mut b, 0); //                             8 Capabilities
        b.extend_from_slice(&[0x42; 16]); //            12 ClientGuid
        let ctx_off_at = b.len();
        put32(&mut b, 0); //                            28 NegotiateContextOffset
        put16(&mut b, context_count); //                32 NegotiateContextCount
        put16(&mut b, 0); //                            34 Reserved2
        for d in dialects {
            put16(&mut b, *d); //                       36 Dialects
        }
        if !contexts.is_empty() {
            while !(HEADER_LEN + b.len()).is_multiple_of(8) {
                b.push(0);
            }
            let off = (HEADER_LEN + b.len()) as u32;
            b[ctx_off_at..ctx_off_at + 4].copy_from_slice(&off.to_le_bytes());
            b.extend_from_slice(contexts);
        }
        b
    }

    /// One negotiate context (type, data), padded to 8 bytes.
    pub fn neg_context(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut c = Vec::new();
        put16(&mut c, kind);
        put16(&mut c, data.len() as u16);
        put32(&mut c, 0);
        c.extend_from_slice(data);
        while !c.len().is_multiple_of(8) {
            c.push(0);
        }
        c
    }

    /// PREAUTH_INTEGRITY_CAPABILITIES with SHA-512 and a 32-byte salt.
    pub fn preauth_context() -> Vec<u8> {
        let mut d = Vec::new();
        put16(&mut d, 1); // HashAlgorithmCount
        put16(&mut d, 32); // SaltLength
        put16(&mut d, 1); // SHA-512
        d.extend_from_slice(&[7; 32]);
        neg_context(1, &d)
    }

    pub fn session_setup(blob: &[u8], previous: u64) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 25); //                            0 StructureSize
        b.push(0); //                                    2 Flags
        b.push(1); //                                    3 SecurityMode
        put32(&mut b, 0); //                             4 Capabilities
        put32(&mut b, 0); //                             8 Channel
        put16(&mut b, (HEADER_LEN + 24) as u16); //     12 SecurityBufferOffset
        put16(&mut b, blob.len() as u16); //            14 SecurityBufferLength
        put64(&mut b, previous); //                     16 PreviousSessionId
        b.extend_from_slice(blob); //                   24
        if blob.is_empty() {
            b.push(0);
        }
        b
    }

    pub fn tree_connect(path: &str) -> Vec<u8> {
        let p = utf16(path);
        let mut b = Vec::new();
        put16(&mut b, 9); //                             0 StructureSize
        put16(&mut b, 0); //                             2 Flags
        put16(&mut b, (HEADER_LEN + 8) as u16); //      4 PathOffset
        put16(&mut b, p.len() as u16); //                6 PathLength
        b.extend_from_slice(&p); //                      8
        b
    }

    pub fn tree_disconnect() -> Vec<u8> {
        vec![4, 0, 0, 0]
    }

    pub fn logoff() -> Vec<u8> {
        vec![4, 0, 0, 0]
    }

    /// CREATE of `name` with `contexts` (an encoded create context chain).
    pub fn create(
        name: &str,
        access: u32,
        disposition: u32,
        options: u32,
        contexts: &[u8],
    ) -> Vec<u8> {
        let n = utf16(name);
        let mut b = Vec::new();
        put16(&mut b, 57); //                            0 StructureSize
        b.push(0); //                                    2 SecurityFlags
        b.push(0); //                                    3 RequestedOplockLevel
        put32(&mut b, 2); //                             4 ImpersonationLevel
        put64(&mut b, 0); //                             8 SmbCreateFlags
        put64(&mut b, 0); //                            16 Reserved
        put32(&mut b, access); //                       24 DesiredAccess
        put32(&mut b, 0); //                            28 FileAttributes
        put32(&mut b, 7); //                            32 ShareAccess
        put32(&mut b, disposition); //                  36 CreateDisposition
        put32(&mut b, options); //                      40 CreateOptions
        put16(&mut b, (HEADER_LEN + 56) as u16); //     44 NameOffset
        put16(&mut b, n.len() as u16); //               46 NameLength
        let ctx_at = b.len();
        put32(&mut b, 0); //                            48 CreateContextsOffset
        put32(&mut b, 0); //                            52 CreateContextsLength
        b.extend_from_slice(&n); //                     56 Buffer: name
        if n.is_empty() {
            b.push(0);
        }
        if !contexts.is_empty() {
            while !(HEADER_LEN + b.len()).is_multiple_of(8) {
                b.push(0);
            }
            let off = (HEADER_LEN + b.len()) as u32;
            b[ctx_at..ctx_at + 4].copy_from_slice(&off.to_le_bytes());
            b[ctx_at + 4..ctx_at + 8].copy_from_slice(&(contexts.len() as u32).to_le_bytes());
            b.extend_from_slice(contexts);
        }
        b
    }

    /// One create context: Next (patched by the caller for chains), name
    /// at 16, data 8-aligned after it.
    pub fn create_context(name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = Vec::new();
        put32(&mut c, 0); //                             0 Next
        put16(&mut c, 16); //                            4 NameOffset
        put16(&mut c, name.len() as u16); //             6 NameLength
        put16(&mut c, 0); //                             8 Reserved
        let data_off = (16 + name.len()).next_multiple_of(8);
        put16(&mut c, if data.is_empty() { 0 } else { data_off as u16 }); // 10 DataOffset
        put32(&mut c, data.len() as u32); //            12 DataLength
        c.extend_from_slice(name); //                   16
        if !data.is_empty() {
            while c.len() < data_off {
                c.push(0);
            }
            c.extend_from_slice(data);
        }
        c
    }

    pub fn close(fid: FileId) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 24); //                            0 StructureSize
        put16(&mut b, 0); //                             2 Flags
        put32(&mut b, 0); //                             4 Reserved
        b.extend_from_slice(&fid.0); //                  8 FileId
        b
    }

    pub fn read(fid: FileId, offset: u64, length: u32) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 49); //                            0 StructureSize
        b.push(0); //                                    2 Padding
        b.push(0); //                                    3 Flags
        put32(&mut b, length); //                        4 Length
        put64(&mut b, offset); //                        8 Offset
        b.extend_from_slice(&fid.0); //                 16 FileId
        put32(&mut b, 0); //                            32 MinimumCount
        put32(&mut b, 0); //                            36 Channel
        put32(&mut b, 0); //                            40 RemainingBytes
        put16(&mut b, 0); //                            44 ReadChannelInfoOffset
        put16(&mut b, 0); //                            46 ReadChannelInfoLength
        b.push(0); //                                   48 Buffer
        b
    }

    /// WRITE with explicit DataOffset/Length (so they can lie).
    pub fn write_raw(fid: FileId, offset: u64, data_off: u16, length: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 49); //                            0 StructureSize
        put16(&mut b, data_off); //                      2 DataOffset
        put32(&mut b, length); //                        4 Length
        put64(&mut b, offset); //                        8 Offset
        b.extend_from_slice(&fid.0); //                 16 FileId
        put32(&mut b, 0); //                            32 Channel
        put32(&mut b, 0); //                            36 RemainingBytes
        put16(&mut b, 0); //                            40 WriteChannelInfoOffset
        put16(&mut b, 0); //                            42 WriteChannelInfoLength
        put32(&mut b, 0); //                            44 Flags
        b.extend_from_slice(data); //                   48 Buffer
        b
    }

    pub fn write(fid: FileId, offset: u64, data: &[u8]) -> Vec<u8> {
        write_raw(
            fid,
            offset,
            (HEADER_LEN + 48) as u16,
            data.len() as u32,
            data,
        )
    }

    /// SET_INFO with explicit BufferOffset/BufferLength.
    pub fn set_info_raw(
        fid: FileId,
        info_type: u8,
        class: u8,
        additional: u32,
        off: u16,
        len: u32,
        buf: &[u8],
    ) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 33); //                            0 StructureSize
        b.push(info_type); //                            2 InfoType
        b.push(class); //                                3 FileInfoClass
        put32(&mut b, len); //                           4 BufferLength
        put16(&mut b, off); //                           8 BufferOffset
        put16(&mut b, 0); //                            10 Reserved
        put32(&mut b, additional); //                   12 AdditionalInformation
        b.extend_from_slice(&fid.0); //                 16 FileId
        b.extend_from_slice(buf); //                    32 Buffer
        if buf.is_empty() {
            b.push(0);
        }
        b
    }

    pub fn set_info(fid: FileId, info_type: u8, class: u8, additional: u32, buf: &[u8]) -> Vec<u8> {
        set_info_raw(
            fid,
            info_type,
            class,
            additional,
            (HEADER_LEN + 32) as u16,
            buf.len() as u32,
            buf,
        )
    }

    pub fn query_info(fid: FileId, info_type: u8, class: u8, additional: u32, max: u32) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 41); //                            0 StructureSize
        b.push(info_type); //                            2 InfoType
        b.push(class); //                                3 FileInfoClass
        put32(&mut b, max); //                           4 OutputBufferLength
        put16(&mut b, 0); //                             8 InputBufferOffset
        put16(&mut b, 0); //                            10 Reserved
        put32(&mut b, 0); //                            12 InputBufferLength
        put32(&mut b, additional); //                   16 AdditionalInformation
        put32(&mut b, 0); //                            20 Flags
        b.extend_from_slice(&fid.0); //                 24 FileId
        b.push(0); //                                   40 Buffer
        b
    }

    pub fn query_directory(fid: FileId, pattern: &str) -> Vec<u8> {
        let p = utf16(pattern);
        let mut b = Vec::new();
        put16(&mut b, 33); //                            0 StructureSize
        b.push(37); //                                   2 FileInformationClass
        b.push(0); //                                    3 Flags
        put32(&mut b, 0); //                             4 FileIndex
        b.extend_from_slice(&fid.0); //                  8 FileId
        put16(&mut b, (HEADER_LEN + 32) as u16); //     24 FileNameOffset
        put16(&mut b, p.len() as u16); //               26 FileNameLength
        put32(&mut b, 65536); //                        28 OutputBufferLength
        b.extend_from_slice(&p); //                     32
        b
    }

    pub fn change_notify(fid: FileId, filter: u32) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, 32); //                            0 StructureSize
        put16(&mut b, 0); //                             2 Flags
        put32(&mut b, 4096); //                          4 OutputBufferLength
        b.extend_from_slice(&fid.0); //                  8 FileId
        put32(&mut b, filter); //                       24 CompletionFilter
        put32(&mut b, 0); //                            28 Reserved
        b
    }
}

/// NTLMSSP messages (MS-NLMP 2.2.1), built by hand so tests can break them.
pub mod ntlmssp {
    use super::*;

    pub const FLAGS: u32 = 0x0000_0001 // UNICODE
        | 0x0000_0004 // REQUEST_TARGET
        | 0x0000_0010 // SIGN
        | 0x0000_0200 // NTLM
        | 0x0000_8000 // ALWAYS_SIGN
        | 0x0008_0000 // EXTENDED_SESSIONSECURITY
        | 0x0080_0000 // TARGET_INFO
        | 0x2000_0000 // 128
        | 0x8000_0000; // 56
    pub const KEY_EXCH: u32 = 0x4000_0000;

    pub fn negotiate() -> Vec<u8> {
        negotiate_with(FLAGS)
    }

    pub fn negotiate_with(flags: u32) -> Vec<u8> {
        let mut m = b"NTLMSSP\0".to_vec();
        put32(&mut m, 1); //            8 MessageType
        put32(&mut m, flags); //       12 NegotiateFlags
        m.extend_from_slice(&[0; 16]); // 16 DomainNameFields, 24 WorkstationFields
        m
    }

    /// What the CHALLENGE says.
    pub struct Challenge {
        pub server_challenge: [u8; 8],
        pub target_info: Vec<u8>,
        pub flags: u32,
    }

    pub fn parse_challenge(m: &[u8]) -> Challenge {
        assert!(m.starts_with(b"NTLMSSP\0"), "not NTLMSSP: {m:02x?}");
        assert_eq!(u32::from_le_bytes(m[8..12].try_into().unwrap()), 2);
        let flags = u32::from_le_bytes(m[20..24].try_into().unwrap());
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(&m[24..32]);
        let len = u16::from_le_bytes([m[40], m[41]]) as usize;
        let off = u32::from_le_bytes(m[44..48].try_into().unwrap()) as usize;
        Challenge {
            server_challenge,
            target_info: m[off..off + len].to_vec(),
            flags,
        }
    }

    /// The NTLMv2 response (NTProofStr + blob) and the session base key.
    pub fn ntlmv2(user: &str, password: &str, ch: &Challenge) -> (Vec<u8>, [u8; 16]) {
        use smbd::auth::ntlm;
        let owf = ntlm::ntowf_v2(&ntlm::nt_hash(password), user, "");
        let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
        blob.extend_from_slice(&0x01d9_0000_0000_0000u64.to_le_bytes()); // TimeStamp
        blob.extend_from_slice(&[0x11; 8]); // ChallengeFromClient
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&ch.target_info);
        blob.extend_from_slice(&[0; 4]);
        let proof = ntlm::nt_proof_str(&owf, &ch.server_challenge, &blob);
        let key = ntlm::session_base_key(&owf, &proof);
        let mut resp = proof.to_vec();
        resp.extend_from_slice(&blob);
        (resp, key)
    }

    /// AUTHENTICATE with the given fields (64-byte header, no version or
    /// MIC, payload in field order).
    pub fn authenticate(
        lm: &[u8],
        nt: &[u8],
        domain: &str,
        user: &str,
        key: &[u8],
        flags: u32,
    ) -> Vec<u8> {
        let fields: [Vec<u8>; 6] = [
            lm.to_vec(),
            nt.to_vec(),
            utf16(domain),
            utf16(user),
            utf16("TESTWS"),
            key.to_vec(),
        ];
        let mut m = b"NTLMSSP\0".to_vec();
        put32(&mut m, 3); //                            8 MessageType
        let mut off = 64u32;
        for f in &fields {
            put16(&mut m, f.len() as u16); //          12.. Len
            put16(&mut m, f.len() as u16); //               MaxLen
            put32(&mut m, off); //                          Offset
            off += f.len() as u32;
        }
        put32(&mut m, flags); //                       60 NegotiateFlags
        for f in &fields {
            m.extend_from_slice(f); //                 64 Payload
        }
        m
    }
}

/// The outcome of reading from the server.
#[derive(Debug)]
pub enum Recv {
    Msg(Vec<Response>),
    /// The server closed the connection (or reset it).
    Closed,
    /// Nothing came within the timeout.
    Timeout,
}

/// A client connection.
pub struct Client {
    pub stream: TcpStream,
    pub next_id: u64,
    /// Message ids below this were granted.
    pub granted: u64,
    pub dialect: u16,
    pub session_id: u64,
    pub tree_id: u32,
    pub signing: Option<([u8; 16], SigningAlgo)>,
    /// Sign every request (once a session key exists).
    pub sign: bool,
    pub timeout: Duration,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to smbd");
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            next_id: 0,
            granted: 1,
            dialect: 0,
            session_id: 0,
            tree_id: 0,
            signing: None,
            sign: false,
            timeout: Duration::from_secs(15),
        }
    }

    /// Our address, as smbd logs it (`peer=127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// A header for the next request of this client (one credit).
    pub fn header(&self, command: u16) -> Header {
        Header {
            credit_charge: 1,
            command,
            credits: 64,
            flags: 0,
            next_command: 0,
            message_id: self.next_id,
            tree_id: self.tree_id,
            session_id: self.session_id,
        }
    }

    /// Header and body, signed when the client signs; takes the message id.
    pub fn message(&mut self, h: Header, body: &[u8]) -> Vec<u8> {
        let mut h = h;
        if self.sign && self.signing.is_some() {
            h.flags |= flags::SIGNED;
        }
        let mut m = Vec::with_capacity(HEADER_LEN + body.len());
        h.emit(&mut m);
        m.extend_from_slice(body);
        if h.flags & flags::SIGNED != 0
            && let Some((key, algo)) = self.signing
        {
            let sig = crypto::signature(algo, &key, &m, h.command == cmd::CANCEL);
            m[48..64].copy_from_slice(&sig);
        }
        self.next_id = self.next_id.max(
            h.message_id
                .saturating_add(u64::from(h.credit_charge.max(1))),
        );
        m
    }

    /// Sends raw bytes (a whole frame or any part of one).
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Frames and sends one SMB2 message (or compound).
    pub fn send_msg(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.send_raw(&nbss(msg))
    }

    /// Reads one NBSS frame and splits it into responses.
    pub fn recv(&mut self) -> Recv {
        self.recv_within(self.timeout)
    }

    pub fn recv_within(&mut self, limit: Duration) -> Recv {
        let deadline = Instant::now() + limit;
        let mut head = [0u8; 4];
        match self.read_full(&mut head, deadline) {
            Ok(true) => {}
            Ok(false) => return Recv::Closed,
            Err(_) => return Recv::Timeout,
        }
        let len = (usize::from(head[1]) << 16) | (usize::from(head[2]) << 8) | usize::from(head[3]);
        let mut data = vec![0u8; len];
        match self.read_full(&mut data, deadline + Duration::from_secs(10)) {
            Ok(true) => {}
            Ok(false) => return Recv::Closed,
            Err(_) => return Recv::Timeout,
        }
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let r = Response::parse(&data[at..]);
            let next = u32::from_le_bytes(data[at + 20..at + 24].try_into().unwrap()) as usize;
            let end = if next == 0 { data.len() } else { at + next };
            let mut r = r;
            r.msg.truncate(end - at);
            self.granted += u64::from(r.credits);
            out.push(r);
            if next == 0 {
                break;
            }
            at = end;
        }
        Recv::Msg(out)
    }

    /// Ok(false) on EOF/reset before anything was read, Err on timeout.
    fn read_full(&mut self, buf: &mut [u8], deadline: Instant) -> Result<bool, ()> {
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(());
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => return Ok(false),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The next response that is not an interim STATUS_PENDING one.
    pub fn response(&mut self) -> Response {
        loop {
            match self.recv() {
                Recv::Msg(rs) => {
                    assert_eq!(rs.len(), 1, "expected one response, got a compound");
                    let r = rs.into_iter().next().unwrap();
                    if r.status == status::PENDING && r.flags & flags::ASYNC_COMMAND != 0 {
                        continue;
                    }
                    return r;
                }
                other => panic!("expected a response, got {other:?}"),
            }
        }
    }

    /// Sends `body` as `command` and waits for its (final) response.
    pub fn call(&mut self, command: u16, body: &[u8]) -> Response {
        let h = self.header(command);
        self.call_with(h, body)
    }

    pub fn call_with(&mut self, h: Header, body: &[u8]) -> Response {
        let m = self.message(h, body);
        self.send_msg(&m).expect("send");
        self.response()
    }

    /// True when the server closes the connection within `limit` (any
    /// responses before that are skipped).
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.recv_within(left) {
                Recv::Closed => return true,
                Recv::Timeout => return false,
                Recv::Msg(_) => {}
            }
        }
    }

    pub fn negotiate(&mut self, dialects: &[u16]) -> Response {
        let r = self.call(cmd::NEGOTIATE, &body::negotiate(dialects, &[], 0));
        assert_eq!(r.status, status::SUCCESS, "NEGOTIATE");
        self.dialect = r.u16_at(HEADER_LEN + 4);
        r
    }

    /// NTLMv2 logon (raw NTLMSSP, no SPNEGO); returns the final response.
    pub fn login(&mut self, user: &str, password: &str) -> Response {
        let r = self.call(
            cmd::SESSION_SETUP,
            &body::session_setup(&ntlmssp::negotiate(), 0),
        );
        assert_eq!(
            r.status,
            status::MORE_PROCESSING_REQUIRED,
            "NTLMSSP NEGOTIATE"
        );
        self.session_id = r.session_id;
        let ch = ntlmssp::parse_challenge(security_blob(&r));
        let (nt, key) = ntlmssp::ntlmv2(user, password, &ch);
        let auth = ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS);
        let r = self.call(cmd::SESSION_SETUP, &body::session_setup(&auth, 0));
        if r.status == status::SUCCESS && r.u16_at(HEADER_LEN + 2) == 0 {
            let keys = SessionKeys::derive(self.dialect, None, &key, &Preauth::zero());
            let algo = if self.dialect >= 0x0300 {
                SigningAlgo::AesCmac
            } else {
                SigningAlgo::HmacSha256
            };
            self.signing = Some((keys.signing, algo));
        }
        r
    }

    /// A guest logon (an unknown user, let in by `map to guest = bad user`).
    pub fn login_guest(&mut self) -> Response {
        let r = self.login("nosuchuser-xyz", "x");
        assert_eq!(r.status, status::SUCCESS, "guest logon");
        r
    }

    pub fn tree_connect(&mut self, share: &str) -> Response {
        let r = self.call(
            cmd::TREE_CONNECT,
            &body::tree_connect(&format!("\\\\127.0.0.1\\{share}")),
        );
        if r.status == status::SUCCESS {
            self.tree_id = r.tree_id;
        }
        r
    }

    pub fn echo(&mut self) -> Response {
        self.call(cmd::ECHO, &body::echo())
    }

    /// CREATE; on success the file id.
    pub fn create(
        &mut self,
        name: &str,
        access: u32,
        disposition: u32,
        options: u32,
    ) -> Result<FileId, u32> {
        let r = self.call(
            cmd::CREATE,
            &body::create(name, access, disposition, options, &[]),
        );
        create_result(&r)
    }

    pub fn close(&mut self, fid: FileId) -> Response {
        self.call(cmd::CLOSE, &body::close(fid))
    }

    /// Negotiate, log on (`user` with `password`, or guest), connect to
    /// `share`.
    pub fn ready(port: u16, login: Option<(&str, &str)>, share: &str) -> Client {
        let mut c = Client::connect(port);
        c.negotiate(&DIALECTS);
        match login {
            Some((u, p)) => {
                let r = c.login(u, p);
                assert_eq!(r.status, status::SUCCESS, "logon as {u}");
            }
            None => {
                c.login_guest();
            }
        }
        let r = c.tree_connect(share);
        assert_eq!(r.status, status::SUCCESS, "tree connect to {share}");
        c
    }
}

/// The security buffer of a SESSION_SETUP response.
pub fn security_blob(r: &Response) -> &[u8] {
    let off = r.u16_at(HEADER_LEN + 4) as usize;
    let len = r.u16_at(HEADER_LEN + 6) as usize;
    &r.msg[off..off + len]
}

/// The file id of a CREATE response, or its status.
pub fn create_result(r: &Response) -> Result<FileId, u32> {
    if r.status != status::SUCCESS {
        return Err(r.status);
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&r.msg[HEADER_LEN + 64..HEADER_LEN + 80]);
    Ok(FileId(id))
}

/// Joins messages into a compound: each but the last padded to 8 bytes
/// and its NextCommand set.
pub fn compound(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(m);
        if i + 1 < msgs.len() {
            while !(out.len() - start).is_multiple_of(8) {
                out.push(0);
            }
            let next = (out.len() - start) as u32;
            out[start + 20..start + 24].copy_from_slice(&next.to_le_bytes());
        }
    }
    out
}

/// Access masks and create options the tests use.
pub mod access {
    pub const READ_DATA: u32 = 0x0000_0001;
    pub const WRITE_DATA: u32 = 0x0000_0002;
    pub const READ_EA: u32 = 0x0000_0008;
    pub const WRITE_EA: u32 = 0x0000_0010;
    pub const READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub const READ_CONTROL: u32 = 0x0002_0000;
    pub const WRITE_DAC: u32 = 0x0004_0000;
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
}

pub mod disposition {
    pub const OPEN: u32 = 1;
    pub const CREATE: u32 = 2;
    pub const OPEN_IF: u32 = 3;
    pub const OVERWRITE_IF: u32 = 5;
}

pub mod options {
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
}

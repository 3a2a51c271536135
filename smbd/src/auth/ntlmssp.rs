//! NTLMSSP messages (MS-NLMP 2.2): NEGOTIATE and AUTHENTICATE parsed,
//! CHALLENGE emitted, plus the NTLMv2 response and AV pairs inside it.
//!
//! Payload fields are (length u16, max length u16, offset u32) triples
//! pointing anywhere in the message, in any order; every one is checked
//! against the message with overflow-checked arithmetic before use.

use thiserror::Error;

use super::reader::{Reader, Short, slice_at};

pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
pub const TYPE_NEGOTIATE: u32 = 1;
pub const TYPE_CHALLENGE: u32 = 2;
pub const TYPE_AUTHENTICATE: u32 = 3;

/// NegotiateFlags (MS-NLMP 2.2.2.5).
pub mod flags {
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    pub const NEGOTIATE_DATAGRAM: u32 = 0x0000_0040;
    pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    pub const ANONYMOUS: u32 = 0x0000_0800;
    pub const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    pub const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const NEGOTIATE_IDENTIFY: u32 = 0x0010_0000;
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
    pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// AV pair ids (MS-NLMP 2.2.2.1).
pub mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    /// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
    pub const FLAG_MIC_PRESENT: u32 = 0x0000_0002;
}

/// Our VERSION field: Windows 6.1, build 0, NTLMSSP revision 15, as Samba
/// sends it.
pub const OUR_VERSION: [u8; 8] = [6, 1, 0, 0, 0, 0, 0, 15];

/// A name longer than this many bytes on the wire (256 UTF-16 units) is
/// refused: no user, domain or workstation name is that long.
pub const MAX_NAME_BYTES: u16 = 512;

/// Fixed part of AUTHENTICATE before the optional VERSION and MIC.
pub const AUTH_FIXED_LEN: usize = 64;
/// Where the MIC sits when present.
pub const AUTH_MIC_OFFSET: usize = 72;
pub const AUTH_MIC_END: usize = 88;

/// NTProofStr (16) + the fixed blob header (28): anything shorter cannot be
/// an NTLMv2 response.
pub const NTLMV2_MIN_RESPONSE: usize = 16 + 28;
/// NTLMv1 and LM responses are exactly this long.
pub const V1_RESPONSE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NtlmError {
    #[error("NTLMSSP: truncated {0}")]
    Truncated(&'static str),
    #[error("NTLMSSP: bad signature")]
    BadSignature,
    #[error("NTLMSSP: expected message type {expected}, got {found}")]
    WrongType { expected: u32, found: u32 },
    #[error(
        "NTLMSSP: {field} (offset {offset}, length {len}) lies outside the {size}-byte message"
    )]
    FieldOutOfBounds {
        field: &'static str,
        offset: u32,
        len: u16,
        size: usize,
    },
    #[error("NTLMSSP: {field} at offset {offset} overlaps the message header")]
    FieldInHeader { field: &'static str, offset: u32 },
    #[error("NTLMSSP: {0} is not valid UTF-16")]
    BadString(&'static str),
    #[error("NTLMSSP: {0} is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong(&'static str),
    #[error("NTLMSSP: NTLMv2 response of {0} bytes is too short (minimum {NTLMV2_MIN_RESPONSE})")]
    ShortNtlmV2Response(usize),
    #[error("NTLMSSP: AV pair {id} of {len} bytes runs past the response")]
    AvPairOverrun { id: u16, len: u16 },
    #[error("NTLMSSP: EncryptedRandomSessionKey of {0} bytes (must be 16)")]
    BadSessionKeyLength(usize),
    #[error("NTLMSSP: MIC flagged but the payload leaves no room for it")]
    NoRoomForMic,
}

impl From<Short> for NtlmError {
    fn from(s: Short) -> Self {
        NtlmError::Truncated(s.0)
    }
}

/// A (length, max length, offset) triple.
#[derive(Debug, Clone, Copy)]
struct FieldRef {
    len: u16,
    offset: u32,
}

impl FieldRef {
    fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, NtlmError> {
        let len = r.u16(what)?;
        let _max_len = r.u16(what)?;
        let offset = r.u32(what)?;
        Ok(FieldRef { len, offset })
    }

    /// The bytes this field points at; empty fields point nowhere.
    fn get<'a>(
        self,
        msg: &'a [u8],
        header_len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], NtlmError> {
        if self.len == 0 {
            return Ok(&[]);
        }
        let bytes = slice_at(msg, self.offset, self.len).ok_or(NtlmError::FieldOutOfBounds {
            field: what,
            offset: self.offset,
            len: self.len,
            size: msg.len(),
        })?;
        if usize::try_from(self.offset).map_or(true, |o| o < header_len) {
            return Err(NtlmError::FieldInHeader {
                field: what,
                offset: self.offset,
            });
        }
        Ok(bytes)
    }
}

fn read_header(r: &mut Reader<'_>, expected: u32) -> Result<(), NtlmError> {
    if r.take(8, "signature")? != SIGNATURE {
        return Err(NtlmError::BadSignature);
    }
    let found = r.u32("message type")?;
    if found != expected {
        return Err(NtlmError::WrongType { expected, found });
    }
    Ok(())
}

/// Whether a blob is an NTLMSSP message (a client that skipped SPNEGO).
pub fn is_ntlmssp(blob: &[u8]) -> bool {
    blob.starts_with(SIGNATURE)
}

fn decode_name(bytes: &[u8], unicode: bool, what: &'static str) -> Result<String, NtlmError> {
    if bytes.len() > usize::from(MAX_NAME_BYTES) {
        return Err(NtlmError::NameTooLong(what));
    }
    if unicode {
        let chunks = bytes.chunks_exact(2);
        if !chunks.remainder().is_empty() {
            return Err(NtlmError::BadString(what));
        }
        let units: Vec<u16> = chunks
            .map(|u| u16::from_le_bytes(u.try_into().unwrap_or_default()))
            .collect();
        String::from_utf16(&units).map_err(|_| NtlmError::BadString(what))
    } else {
        // OEM strings: the code page is the client's; read them as Latin-1,
        // which is right for ASCII names.
        Ok(bytes.iter().copied().map(char::from).collect())
    }
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate {
    pub flags: u32,
    /// OEM domain name, when NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED.
    pub domain: Option<String>,
    /// OEM workstation name, when NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED.
    pub workstation: Option<String>,
    pub version: Option<[u8; 8]>,
}

impl Negotiate {
    pub fn parse(msg: &[u8]) -> Result<Self, NtlmError> {
        let mut r = Reader::new(msg);
        // 0: Signature, 8: MessageType
        read_header(&mut r, TYPE_NEGOTIATE)?;
        // 12: NegotiateFlags
        let flags = r.u32("NegotiateFlags")?;
        // Early clients stop here; MS-NLMP clients go on with the two
        // fields and the version.
        if r.is_empty() {
            return Ok(Negotiate {
                flags,
                domain: None,
                workstation: None,
                version: None,
            });
        }
        // 16: DomainNameFields, 24: WorkstationFields
        let domain_ref = FieldRef::read(&mut r, "DomainNameFields")?;
        let ws_ref = FieldRef::read(&mut r, "WorkstationFields")?;
        let mut header_len = 32;
        // 32: Version
        let version = if flags & flags::NEGOTIATE_VERSION != 0 && r.remaining() >= 8 {
            header_len = 40;
            Some(r.array::<8>("Version")?)
        } else {
            None
        };
        let domain = if flags & flags::OEM_DOMAIN_SUPPLIED != 0 {
            Some(decode_name(
                domain_ref.get(msg, header_len, "DomainName")?,
                false,
                "DomainName",
            )?)
        } else {
            None
        };
        let workstation = if flags & flags::OEM_WORKSTATION_SUPPLIED != 0 {
            Some(decode_name(
                ws_ref.get(msg, header_len, "Workstation")?,
                false,
                "Workstation",
            )?)
        } else {
            None
        };
        Ok(Negotiate {
            flags,
            domain,
            workstation,
            version,
        })
    }
}

/// What goes into the CHALLENGE's TargetInfo, in the order Windows and
/// Samba send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub nb_domain: String,
    pub nb_computer: String,
    pub dns_domain: String,
    pub dns_computer: String,
    /// FILETIME (100 ns since 1601).
    pub timestamp: u64,
}

impl TargetInfo {
    pub fn emit(&self) -> Vec<u8> {
        fn pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
            out.extend_from_slice(&id.to_le_bytes());
            // Names are capped by the configuration parser; a longer value
            // would be cut rather than wrap the length.
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(value.get(..usize::from(len)).unwrap_or(value));
        }
        let mut out = Vec::new();
        pair(&mut out, av::NB_DOMAIN_NAME, &utf16le(&self.nb_domain));
        pair(&mut out, av::NB_COMPUTER_NAME, &utf16le(&self.nb_computer));
        pair(&mut out, av::DNS_DOMAIN_NAME, &utf16le(&self.dns_domain));
        pair(
            &mut out,
            av::DNS_COMPUTER_NAME,
            &utf16le(&self.dns_computer),
        );
        pair(&mut out, av::TIMESTAMP, &self.timestamp.to_le_bytes());
        pair(&mut out, av::EOL, &[]);
        out
    }
}

/// CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2), as we send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub target_name: String,
    pub server_challenge: [u8; 8],
    pub target_info: TargetInfo,
}

impl Challenge {
    pub const HEADER_LEN: usize = 56;

    pub fn emit(&self) -> Vec<u8> {
        let name = if self.flags & flags::NEGOTIATE_UNICODE != 0 {
            utf16le(&self.target_name)
        } else {
            self.target_name.bytes().collect()
        };
        let info = self.target_info.emit();
        let len16 = |b: &[u8]| u16::try_from(b.len()).unwrap_or(u16::MAX);
        let name_offset = Self::HEADER_LEN;
        let info_offset = name_offset + name.len();
        let mut out = Vec::with_capacity(info_offset + info.len());
        // 0: Signature, 8: MessageType
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&TYPE_CHALLENGE.to_le_bytes());
        // 12: TargetNameFields
        out.extend_from_slice(&len16(&name).to_le_bytes());
        out.extend_from_slice(&len16(&name).to_le_bytes());
        out.extend_from_slice(&(name_offset as u32).to_le_bytes());
        // 20: NegotiateFlags
        out.extend_from_slice(&self.flags.to_le_bytes());
        // 24: ServerChallenge
        out.extend_from_slice(&self.server_challenge);
        // 32: Reserved
        out.extend_from_slice(&[0; 8]);
        // 40: TargetInfoFields
        out.extend_from_slice(&len16(&info).to_le_bytes());
        out.extend_from_slice(&len16(&info).to_le_bytes());
        out.extend_from_slice(&u32::try_from(info_offset).unwrap_or(u32::MAX).to_le_bytes());
        // 48: Version (zeros unless NTLMSSP_NEGOTIATE_VERSION)
        if self.flags & flags::NEGOTIATE_VERSION != 0 {
            out.extend_from_slice(&OUR_VERSION);
        } else {
            out.extend_from_slice(&[0; 8]);
        }
        // 56: Payload: TargetName, TargetInfo
        out.extend_from_slice(&name);
        out.extend_from_slice(&info);
        out
    }
}

/// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate<'a> {
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    pub domain: String,
    pub user: String,
    pub workstation: String,
    pub encrypted_session_key: &'a [u8],
    pub flags: u32,
    pub version: Option<[u8; 8]>,
    /// The 16 bytes at offset 72, when the payload starts at 88 or later.
    /// Whether they are a MIC is said by MsvAvFlags in the NTLMv2 response.
    pub mic: Option<[u8; 16]>,
}

impl<'a> Authenticate<'a> {
    /// `unicode`: the string encoding the NEGOTIATE/CHALLENGE exchange
    /// settled on.
    pub fn parse(msg: &'a [u8], unicode: bool) -> Result<Self, NtlmError> {
        let mut r = Reader::new(msg);
        // 0: Signature, 8: MessageType
        read_header(&mut r, TYPE_AUTHENTICATE)?;
        // 12: LmChallengeResponseFields ... 52: EncryptedRandomSessionKeyFields
        let lm = FieldRef::read(&mut r, "LmChallengeResponseFields")?;
        let nt = FieldRef::read(&mut r, "NtChallengeResponseFields")?;
        let domain = FieldRef::read(&mut r, "DomainNameFields")?;
        let user = FieldRef::read(&mut r, "UserNameFields")?;
        let ws = FieldRef::read(&mut r, "WorkstationFields")?;
        let key = FieldRef::read(&mut r, "EncryptedRandomSessionKeyFields")?;
        // 60: NegotiateFlags
        let flags = r.u32("NegotiateFlags")?;

        // 64: Version and 72: MIC are present when the payload leaves room
        // for them: the lowest offset of a non-empty field says where the
        // payload starts.
        let payload_start = [lm, nt, domain, user, ws, key]
            .iter()
            .filter(|f| f.len != 0)
            .map(|f| usize::try_from(f.offset).unwrap_or(usize::MAX))
            .min()
            .unwrap_or(msg.len());
        let mut header_len = AUTH_FIXED_LEN;
        let version = if payload_start >= AUTH_MIC_OFFSET && r.remaining() >= 8 {
            header_len = AUTH_MIC_OFFSET;
            let v = r.array::<8>("Version")?;
            (flags & flags::NEGOTIATE_VERSION != 0).then_some(v)
        } else {
            None
        };
        let mic = if payload_start >= AUTH_MIC_END && r.remaining() >= 16 {
            header_len = AUTH_MIC_END;
            Some(r.array::<16>("MIC")?)
        } else {
            None
        };

        Ok(Authenticate {
            lm_response: lm.get(msg, header_len, "LmChallengeResponse")?,
            nt_response: nt.get(msg, header_len, "NtChallengeResponse")?,
            domain: decode_name(
                domain.get(msg, header_len, "DomainName")?,
                unicode,
                "DomainName",
            )?,
            user: decode_name(user.get(msg, header_len, "UserName")?, unicode, "UserName")?,
            workstation: decode_name(
                ws.get(msg, header_len, "Workstation")?,
                unicode,
                "Workstation",
            )?,
            encrypted_session_key: key.get(msg, header_len, "EncryptedRandomSessionKey")?,
            flags,
            version,
            mic,
        })
    }
}

/// The AUTHENTICATE message with its MIC field zeroed, as the MIC covers it.
pub fn zero_mic(msg: &[u8]) -> Vec<u8> {
    let mut copy = msg.to_vec();
    if let Some(mic) = copy.get_mut(AUTH_MIC_OFFSET..AUTH_MIC_END) {
        mic.fill(0);
    }
    copy
}

/// NTLMv2_RESPONSE (MS-NLMP 2.2.2.8): NTProofStr and the client's blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmV2Response<'a> {
    pub nt_proof: [u8; 16],
    /// Everything after NTProofStr: what NTProofStr is computed over.
    pub blob: &'a [u8],
    pub timestamp: u64,
    pub client_challenge: [u8; 8],
    /// MsvAvFlags from the client's AV pairs, if present.
    pub av_flags: Option<u32>,
}

impl<'a> NtlmV2Response<'a> {
    pub fn parse(resp: &'a [u8]) -> Result<Self, NtlmError> {
        if resp.len() < NTLMV2_MIN_RESPONSE {
            return Err(NtlmError::ShortNtlmV2Response(resp.len()));
        }
        let mut r = Reader::new(resp);
        // 0: NTProofStr
        let nt_proof = r.array::<16>("NTProofStr")?;
        let blob = r.rest();
        let mut b = Reader::new(blob);
        // 16: RespType, HiRespType (both 1; not checked, as Samba does
        // not), Reserved1 (2), Reserved2 (4)
        let _resp_type = b.u8("RespType")?;
        let _hi_resp_type = b.u8("HiRespType")?;
        b.take(6, "Reserved1/Reserved2")?;
        // 24: TimeStamp
        let timestamp = b.u64("TimeStamp")?;
        // 32: ChallengeFromClient
        let client_challenge = b.array::<8>("ChallengeFromClient")?;
        // 40: Reserved3
        b.take(4, "Reserved3")?;
        // 44: AvPairs, up to MsvAvEOL; clients may pad after it.
        let mut av_flags = None;
        while b.remaining() >= 4 {
            let id = b.u16("AvId")?;
            let len = b.u16("AvLen")?;
            let mut value = b
                .sub(usize::from(len), "AV pair value")
                .map_err(|_| NtlmError::AvPairOverrun { id, len })?;
            match id {
                av::EOL => break,
                av::FLAGS if av_flags.is_none() => {
                    let v = value.u32("MsvAvFlags")?;
                    if !value.is_empty() {
                        return Err(NtlmError::Truncated("MsvAvFlags of 4 bytes"));
                    }
                    av_flags = Some(v);
                }
                _ => {}
            }
        }
        Ok(NtlmV2Response {
            nt_proof,
            blob,
            timestamp,
            client_challenge,
            av_flags,
        })
    }

    pub fn mic_present(&self) -> bool {
        self.av_flags.is_some_and(|f| f & av::FLAG_MIC_PRESENT != 0)
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

    #[test]
    fn parses_smbclient_negotiate() {
        let m =
            hex("4e544c4d53535000010000001582086200000000280000000000000028000000060100000000000f");
        let n = Negotiate::parse(&m).unwrap();
        assert_eq!(n.flags, 0x6208_8215);
        assert_eq!(n.domain, None);
        assert_eq!(n.version, Some([6, 1, 0, 0, 0, 0, 0, 15]));
        // Every truncation of the fixed part fails cleanly; 16 bytes is an
        // early-client NEGOTIATE and is fine.
        for len in 0..m.len() {
            let r = Negotiate::parse(&m[..len]);
            assert_eq!(r.is_ok(), len == 16 || len >= 32, "length {len}");
        }
    }

    #[test]
    fn negotiate_with_oem_names() {
        let mut m = hex("4e544c4d5353500001000000073200a2");
        // Domain "DOM" at 40, workstation "WS" at 43.
        m.extend_from_slice(&[3, 0, 3, 0, 40, 0, 0, 0, 2, 0, 2, 0, 43, 0, 0, 0]);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(b"DOMWS");
        let n = Negotiate::parse(&m).unwrap();
        assert_eq!(n.domain.as_deref(), Some("DOM"));
        assert_eq!(n.workstation.as_deref(), Some("WS"));
        // The workstation offset pushed past the end.
        m[24] = 44;
        assert!(matches!(
            Negotiate::parse(&m),
            Err(NtlmError::FieldOutOfBounds { .. })
        ));
    }

    #[test]
    fn challenge_emits_in_wire_order() {
        let c = Challenge {
            flags: 0xe28a_8233 | flags::NEGOTIATE_VERSION,
            target_name: "Server".into(),
            server_challenge: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            target_info: TargetInfo {
                nb_domain: "Domain".into(),
                nb_computer: "Server".into(),
                dns_domain: String::new(),
                dns_computer: String::new(),
                timestamp: 0x0102_0304_0506_0708,
            },
        };
        let m = c.emit();
        assert_eq!(&m[..8], SIGNATURE);
        assert_eq!(m[8..12], [2, 0, 0, 0]);
        assert_eq!(m[12..20], [12, 0, 12, 0, 56, 0, 0, 0]);
        assert_eq!(
            m[20..24],
            (0xe28a_8233u32 | flags::NEGOTIATE_VERSION).to_le_bytes()
        );
        assert_eq!(m[24..32], c.server_challenge);
        assert_eq!(m[32..40], [0; 8]);
        let info_len = m.len() - 68;
        assert_eq!(
            m[40..48],
            [info_len as u8, 0, info_len as u8, 0, 68, 0, 0, 0]
        );
        assert_eq!(m[48..56], OUR_VERSION);
        assert_eq!(&m[56..68], &utf16le("Server")[..]);
        // NbDomainName first, EOL last.
        assert_eq!(m[68..72], [2, 0, 12, 0]);
        assert_eq!(m[m.len() - 4..], [0, 0, 0, 0]);
    }

    #[test]
    fn ntlmv2_response_short_and_overrun() {
        assert_eq!(
            NtlmV2Response::parse(&[0; 43]),
            Err(NtlmError::ShortNtlmV2Response(43))
        );
        // Header only: no AV pairs is accepted.
        let r = NtlmV2Response::parse(&[0; 44]).unwrap();
        assert_eq!(r.av_flags, None);
        // An AV pair claiming 200 bytes.
        let mut m = vec![0; 44];
        m.extend_from_slice(&[6, 0, 200, 0, 2, 0, 0, 0]);
        assert_eq!(
            NtlmV2Response::parse(&m),
            Err(NtlmError::AvPairOverrun { id: 6, len: 200 })
        );
        // MsvAvFlags of the wrong size.
        let mut m = vec![0; 44];
        m.extend_from_slice(&[6, 0, 2, 0, 2, 0, 0, 0, 0, 0]);
        assert!(NtlmV2Response::parse(&m).is_err());
        // A good one.
        let mut m = vec![0; 44];
        m.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(NtlmV2Response::parse(&m).unwrap().mic_present());
    }
}

//! SPNEGO (RFC 4178, MS-SPNG) tokens as a server sees them.
//!
//! ```text
//! InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
//!     thisMech OID (1.3.6.1.5.5.2), innerContextToken NegotiationToken }
//! NegotiationToken ::= CHOICE { negTokenInit [0] NegTokenInit,
//!                               negTokenResp [1] NegTokenResp }
//! NegTokenInit  ::= SEQUENCE { mechTypes [0] SEQUENCE OF OID,
//!     reqFlags [1] BIT STRING OPTIONAL, mechToken [2] OCTET STRING OPTIONAL,
//!     mechListMIC [3] OCTET STRING OPTIONAL }            -- RFC 4178
//! NegTokenInit2 ::= SEQUENCE { mechTypes [0], reqFlags [1], mechToken [2],
//!     negHints [3] NegHints OPTIONAL, mechListMIC [4] OPTIONAL } -- MS-SPNG
//! NegTokenResp  ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL,
//!     supportedMech [1] OID OPTIONAL, responseToken [2] OCTET STRING OPTIONAL,
//!     mechListMIC [3] OCTET STRING OPTIONAL }
//! ```

use thiserror::Error;

use super::der::{
    self, Der, DerError, TAG_APPLICATION_0, TAG_BIT_STRING, TAG_ENUMERATED, TAG_GENERAL_STRING,
    TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, context,
};

/// 1.3.6.1.5.5.2 (SPNEGO), OID contents octets.
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), OID contents octets.
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// The negHints name Windows 2008+ and Samba put in NegTokenInit2.
pub const NEG_HINT_NAME: &[u8] = b"not_defined_in_RFC4178@please_ignore";

/// More mechanisms than any client offers (Windows sends four).
pub const MAX_MECH_TYPES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpnegoError {
    #[error(transparent)]
    Der(#[from] DerError),
    #[error("SPNEGO: initial token is for mechanism {0}, not SPNEGO")]
    NotSpnego(String),
    #[error("SPNEGO: expected negTokenInit [0] or negTokenResp [1], found tag {0:#04x}")]
    UnknownChoice(u8),
    #[error("SPNEGO: unexpected field with tag {0:#04x} in {1}")]
    UnexpectedField(u8, &'static str),
    #[error("SPNEGO: negTokenInit without mechTypes")]
    NoMechTypes,
    #[error("SPNEGO: more than {MAX_MECH_TYPES} mechTypes")]
    TooManyMechTypes,
}

/// The client's opening token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenInit<'a> {
    /// OID contents octets, in the client's order of preference.
    pub mech_types: Vec<&'a [u8]>,
    /// The DER of the mechTypes SEQUENCE exactly as sent: the mechListMIC
    /// covers these bytes.
    pub mech_types_der: &'a [u8],
    pub mech_token: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted,
    AcceptIncomplete,
    Reject,
    RequestMic,
    Unknown(u8),
}

impl NegState {
    fn from_wire(v: u8) -> Self {
        match v {
            0 => NegState::AcceptCompleted,
            1 => NegState::AcceptIncomplete,
            2 => NegState::Reject,
            3 => NegState::RequestMic,
            other => NegState::Unknown(other),
        }
    }

    fn to_wire(self) -> u8 {
        match self {
            NegState::AcceptCompleted => 0,
            NegState::AcceptIncomplete => 1,
            NegState::Reject => 2,
            NegState::RequestMic => 3,
            NegState::Unknown(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenResp<'a> {
    pub neg_state: Option<NegState>,
    pub supported_mech: Option<&'a [u8]>,
    pub response_token: Option<&'a [u8]>,
    pub mech_list_mic: Option<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientToken<'a> {
    Init(NegTokenInit<'a>),
    Resp(NegTokenResp<'a>),
}

/// Whether a security blob looks like SPNEGO at all (as opposed to a raw
/// mechanism token such as "NTLMSSP\0...").
pub fn looks_like_spnego(blob: &[u8]) -> bool {
    matches!(
        blob.first(),
        Some(&TAG_APPLICATION_0) | Some(&0xa0) | Some(&0xa1)
    )
}

/// Parse a token a client sends: the initial token (normally wrapped in
/// [APPLICATION 0] with the SPNEGO OID; a bare [0] is accepted too) or a
/// negTokenResp [1].
pub fn parse_client_token(blob: &[u8]) -> Result<ClientToken<'_>, SpnegoError> {
    let mut top = Der::new(blob);
    let first = top.read()?;
    top.finish()?;
    let choice = if first.tag == TAG_APPLICATION_0 {
        let mut inner = first.inner()?;
        let mech = inner.read_tag(TAG_OID)?;
        if mech.content != OID_SPNEGO {
            return Err(SpnegoError::NotSpnego(oid_to_string(mech.content)));
        }
        let choice = inner.read()?;
        inner.finish()?;
        choice
    } else {
        first
    };
    match choice.tag {
        t if t == context(0) => parse_init(choice).map(ClientToken::Init),
        t if t == context(1) => parse_resp(choice).map(ClientToken::Resp),
        other => Err(SpnegoError::UnknownChoice(other)),
    }
}

fn parse_init(choice: der::Tlv<'_>) -> Result<NegTokenInit<'_>, SpnegoError> {
    const WHERE: &str = "negTokenInit";
    let seq = choice.explicit()?.expect(TAG_SEQUENCE)?;
    let mut fields = seq.inner()?;

    // [0] mechTypes
    let types = fields
        .optional(context(0))?
        .ok_or(SpnegoError::NoMechTypes)?
        .explicit()?
        .expect(TAG_SEQUENCE)?;
    let mut list = types.inner()?;
    let mut mech_types = Vec::new();
    while !list.is_empty() {
        if mech_types.len() == MAX_MECH_TYPES {
            return Err(SpnegoError::TooManyMechTypes);
        }
        mech_types.push(list.read_tag(TAG_OID)?.content);
    }
    if mech_types.is_empty() {
        return Err(SpnegoError::NoMechTypes);
    }

    // [1] reqFlags: ignored (MS-SPNG: servers ignore it), but it must be a
    // well-formed BIT STRING.
    if let Some(flags) = fields.optional(context(1))? {
        flags.explicit()?.expect(TAG_BIT_STRING)?;
    }

    // [2] mechToken
    let mech_token = match fields.optional(context(2))? {
        Some(t) => Some(t.explicit()?.expect(TAG_OCTET_STRING)?.content),
        None => None,
    };

    // [3] mechListMIC (RFC 4178) or negHints (NegTokenInit2), then [4]
    // mechListMIC (NegTokenInit2). A MIC in the initial token cannot be
    // checked (no key yet) and no client sends one; they are parsed for
    // well-formedness and dropped.
    if let Some(t) = fields.optional(context(3))? {
        t.explicit()?;
    }
    if let Some(t) = fields.optional(context(4))? {
        t.explicit()?.expect(TAG_OCTET_STRING)?;
    }
    if let Some(tag) = fields.peek_tag() {
        return Err(SpnegoError::UnexpectedField(tag, WHERE));
    }

    Ok(NegTokenInit {
        mech_types,
        mech_types_der: types.raw,
        mech_token,
    })
}

fn parse_resp(choice: der::Tlv<'_>) -> Result<NegTokenResp<'_>, SpnegoError> {
    const WHERE: &str = "negTokenResp";
    let seq = choice.explicit()?.expect(TAG_SEQUENCE)?;
    let mut fields = seq.inner()?;
    let mut resp = NegTokenResp::default();
    // [0] negState
    if let Some(t) = fields.optional(context(0))? {
        resp.neg_state = Some(NegState::from_wire(der::enumerated_u8(t.explicit()?)?));
    }
    // [1] supportedMech
    if let Some(t) = fields.optional(context(1))? {
        resp.supported_mech = Some(t.explicit()?.expect(TAG_OID)?.content);
    }
    // [2] responseToken
    if let Some(t) = fields.optional(context(2))? {
        resp.response_token = Some(t.explicit()?.expect(TAG_OCTET_STRING)?.content);
    }
    // [3] mechListMIC
    if let Some(t) = fields.optional(context(3))? {
        resp.mech_list_mic = Some(t.explicit()?.expect(TAG_OCTET_STRING)?.content);
    }
    if let Some(tag) = fields.peek_tag() {
        return Err(SpnegoError::UnexpectedField(tag, WHERE));
    }
    Ok(resp)
}

/// The security blob of our SMB2 NEGOTIATE response: a NegTokenInit2
/// offering NTLMSSP, with the negHints Samba and Windows send. Byte for byte
/// what Samba 4.17 sends (see the test).
pub fn negotiate_token() -> Vec<u8> {
    let mech_types = der::encode(TAG_SEQUENCE, &der::encode(TAG_OID, OID_NTLMSSP));
    let hint_name = der::encode(context(0), &der::encode(TAG_GENERAL_STRING, NEG_HINT_NAME));
    let neg_hints = der::encode(TAG_SEQUENCE, &hint_name);
    let init2 = der::encode_parts(
        TAG_SEQUENCE,
        &[
            &der::encode(context(0), &mech_types),
            &der::encode(context(3), &neg_hints),
        ],
    );
    der::encode_parts(
        TAG_APPLICATION_0,
        &[
            &der::encode(TAG_OID, OID_SPNEGO),
            &der::encode(context(0), &init2),
        ],
    )
}

/// A negTokenResp [1] with the fields given.
pub fn encode_resp(resp: &NegTokenResp<'_>) -> Vec<u8> {
    let mut fields = Vec::new();
    if let Some(state) = resp.neg_state {
        fields.extend(der::encode(
            context(0),
            &der::encode(TAG_ENUMERATED, &[state.to_wire()]),
        ));
    }
    if let Some(mech) = resp.supported_mech {
        fields.extend(der::encode(context(1), &der::encode(TAG_OID, mech)));
    }
    if let Some(token) = resp.response_token {
        fields.extend(der::encode(
            context(2),
            &der::encode(TAG_OCTET_STRING, token),
        ));
    }
    if let Some(mic) = resp.mech_list_mic {
        fields.extend(der::encode(context(3), &der::encode(TAG_OCTET_STRING, mic)));
    }
    der::encode(context(1), &der::encode(TAG_SEQUENCE, &fields))
}

/// negTokenResp { negState reject }: what a server may send with a failed
/// SESSION_SETUP (Samba sends no blob at all; Windows sends this).
pub fn reject_token() -> Vec<u8> {
    encode_resp(&NegTokenResp {
        neg_state: Some(NegState::Reject),
        ..NegTokenResp::default()
    })
}

/// Dotted form of OID contents octets, for log lines ("1.2.840.113554.1.2.2").
pub fn oid_to_string(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in content {
        // Arcs beyond 2^56 do not occur in mechanism OIDs; show them as "?".
        if acc > (u64::MAX >> 8) {
            return "?".to_string();
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match acc {
                    0..40 => (0, acc),
                    40..80 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
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

    /// Samba 4.17's SMB2 NEGOTIATE response security blob (captured).
    const SAMBA_NEGOTIATE_BLOB: &str = "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265";

    #[test]
    fn negotiate_token_matches_samba() {
        assert_eq!(negotiate_token(), hex(SAMBA_NEGOTIATE_BLOB));
    }

    #[test]
    fn parses_smbclient_negtokeninit() {
        // smbclient 4.17's first SESSION_SETUP blob (captured).
        let blob = hex(
            "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d53535000010000001582086200000000280000000000000028000000060100000000000f",
        );
        let ClientToken::Init(init) = parse_client_token(&blob).unwrap() else {
            panic!("not an init")
        };
        assert_eq!(init.mech_types, vec![OID_NTLMSSP]);
        assert_eq!(
            init.mech_types_der,
            &hex("300c060a2b06010401823702020a")[..]
        );
        assert_eq!(init.mech_token.unwrap().get(..8), Some(&b"NTLMSSP\0"[..]));
    }

    #[test]
    fn parses_samba_final_resp_and_round_trips() {
        let blob = hex("a11b3019a0030a0100a3120410010000009900d9f68debace300000000");
        let ClientToken::Resp(resp) = parse_client_token(&blob).unwrap() else {
            panic!("not a resp")
        };
        assert_eq!(resp.neg_state, Some(NegState::AcceptCompleted));
        assert_eq!(resp.mech_list_mic.map(<[u8]>::len), Some(16));
        assert_eq!(encode_resp(&resp), blob);
        // Samba's accept-incomplete + CHALLENGE round-trips as well.
        let blob = hex(
            "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c003800000015828a62e1d4d7c46d9bd29900000000000000003c003c0044000000060100000000000f52004500460053005200560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d000700080002c60a5f8979dd0100000000",
        );
        let ClientToken::Resp(resp) = parse_client_token(&blob).unwrap() else {
            panic!("not a resp")
        };
        assert_eq!(resp.neg_state, Some(NegState::AcceptIncomplete));
        assert_eq!(resp.supported_mech, Some(OID_NTLMSSP));
        assert_eq!(encode_resp(&resp), blob);
        assert_eq!(reject_token(), hex("a1073005a0030a0102"));
    }

    #[test]
    fn oid_strings() {
        assert_eq!(oid_to_string(OID_NTLMSSP), "1.3.6.1.4.1.311.2.2.10");
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02]),
            "1.2.840.113554.1.2.2"
        );
        assert_eq!(oid_to_string(&[0xff; 20]), "?");
    }

    #[test]
    fn malformed_tokens_are_errors() {
        let good = hex(
            "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d53535000010000001582086200000000280000000000000028000000060100000000000f",
        );
        // Every truncation fails cleanly.
        for n in 0..good.len() {
            assert!(parse_client_token(&good[..n]).is_err(), "prefix {n}");
        }
        // Trailing garbage after the token.
        let mut long = good.clone();
        long.push(0);
        assert!(parse_client_token(&long).is_err());
        // Indefinite length on the outer wrapper.
        let mut indef = good.clone();
        indef[1] = 0x80;
        assert_eq!(
            parse_client_token(&indef),
            Err(SpnegoError::Der(DerError::IndefiniteLength))
        );
        // mechTypes SEQUENCE claiming more than its [0] holds.
        let mut over = good.clone();
        over[17] = 0x0d;
        assert!(matches!(
            parse_client_token(&over),
            Err(SpnegoError::Der(DerError::Overrun { .. }))
        ));
        // Wrong thisMech.
        let mut krb = good.clone();
        krb[9] = 0x03;
        assert!(matches!(
            parse_client_token(&krb),
            Err(SpnegoError::NotSpnego(_))
        ));
        // Deep nesting inside the mechToken slot.
        let mut nested = der::encode(TAG_OCTET_STRING, b"x");
        for _ in 0..40 {
            nested = der::encode(TAG_SEQUENCE, &nested);
        }
        let init = der::encode(
            context(0),
            &der::encode(TAG_SEQUENCE, &der::encode(context(0), &nested)),
        );
        assert!(parse_client_token(&init).is_err());
        // Empty mechTypes.
        let empty = der::encode(
            context(0),
            &der::encode(
                TAG_SEQUENCE,
                &der::encode(context(0), &der::encode(TAG_SEQUENCE, &[])),
            ),
        );
        assert_eq!(parse_client_token(&empty), Err(SpnegoError::NoMechTypes));
    }
}

//! End-to-end tests of [`ServerAuth`]: replays of exchanges captured between
//! smbclient 4.17 and Samba 4.17's smbd (tshark on port 4450, blobs from
//! `smb2.security_blob`), a scripted NTLMv2 client for the cases no capture
//! covers, and malformed input.

use super::der::{self, TAG_APPLICATION_0, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, context};
use super::ntlm::{self, SessionKeys};
use super::ntlmssp::flags;
use super::spnego::{self, NegState, NegTokenResp, OID_NTLMSSP, OID_SPNEGO};
use super::*;

fn hex(parts: &[&str]) -> Vec<u8> {
    let s: String = parts.concat();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- Captured bytes (Samba: workgroup TESTGRP, netbios name REFSRV, host
// name "vm", map to guest = bad user; user root with password "secret").

/// smbclient -U root%secret: SESSION_SETUP 1 (NegTokenInit + NEGOTIATE).
const ROOT_INIT: &[&str] = &[
    "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d53535000010000001582",
    "086200000000280000000000000028000000060100000000000f",
];

/// Samba's reply: accept-incomplete + CHALLENGE.
const ROOT_CHALLENGE: &[&str] = &[
    "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c0038",
    "00000015828a62e1d4d7c46d9bd29900000000000000003c003c0044000000060100000000000f520045004600530052",
    "00560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d0007",
    "00080002c60a5f8979dd0100000000",
];

/// SESSION_SETUP 2: negTokenResp + AUTHENTICATE (with MIC) + mechListMIC.
const ROOT_AUTH: &[&str] = &[
    "a182019630820192a282017a048201764e544c4d53535000030000001800180058000000d800d8007000000012001200",
    "48010000080008005a0100000400040062010000100010006601000015820862060100000000000fc2523a21e6ae3d14",
    "b7ce1d038d66f335000000000000000000000000000000000000000000000000d380fd56db2ebd0f11e3a9b3137a93d6",
    "010100000000000002c60a5f8979dd0195360277877d11680000000002000c0052004500460053005200560001000c00",
    "520045004600530052005600040000000300040076006d000700080002c60a5f8979dd01060004000200000008003000",
    "30000000000000000000000000000000c6aac302742bc7efb402b707eb8ff9a2eeda863ff24007cebddf58fcbc72b272",
    "0a0010000000000000000000000000000000000009001c0063006900660073002f003100320037002e0030002e003000",
    "2e0031000000000057004f0052004b00470052004f005500500072006f006f00740056004d006b60b8f1375788a20777",
    "a33b01d2ec7da3120410010000002f2c7d1b2487949f00000000",
];

/// Samba's reply: accept-completed + mechListMIC.
const ROOT_DONE: &[&str] = &["a11b3019a0030a0100a3120410010000009900d9f68debace300000000"];

/// smbclient -N, first try (user root, no password): Samba's CHALLENGE.
const NULLPW_CHALLENGE: &[&str] = &[
    "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c0038",
    "00000015828a62711e7bdcdef10f5f00000000000000003c003c0044000000060100000000000f520045004600530052",
    "00560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d0007",
    "000800862422658979dd0100000000",
];

/// Its AUTHENTICATE (empty responses, user root): Samba said LOGON_FAILURE.
const NULLPW_AUTH: &[&str] = &[
    "a181a33081a0a281890481864e544c4d5353500003000000000000005800000000000000580000001200120058000000",
    "080008006a0000000400040072000000100010007600000015820062060100000000000f5bdcd9acab104cca197f5df5",
    "b2ac493f57004f0052004b00470052004f005500500072006f006f00740056004d00c5054468b4d596c7557ce1c5cdd2",
    "373aa3120410010000009aa99e0c822a5179235fbc64",
];

/// smbclient -N, second try (anonymous): Samba's CHALLENGE.
const ANON_CHALLENGE: &[&str] = &[
    "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c0038",
    "00000015828a624929ac3569b93ccb00000000000000003c003c0044000000060100000000000f520045004600530052",
    "00560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d0007",
    "00080074cc22658979dd0100000000",
];

/// Its AUTHENTICATE: everything empty.
const ANON_AUTH: &[&str] = &[
    "a16e306ca26a04684e544c4d535350000300000000000000580000000000000058000000000000005800000000000000",
    "5800000000000000580000001000100058000000158a0062060100000000000fd10b873730dc7a53607962924d027d02",
    "bd563f12b50c893d98fd76186b83be47",
];

/// smbclient -U nosuch%x (map to guest = bad user): Samba's CHALLENGE.
const GUEST_CHALLENGE: &[&str] = &[
    "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c0038",
    "00000015828a62e899c11d387cd7e000000000000000003c003c0044000000060100000000000f520045004600530052",
    "00560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d0007",
    "000800302a27658979dd0100000000",
];

/// Its AUTHENTICATE.
const GUEST_AUTH: &[&str] = &[
    "a182019a30820196a282017e0482017a4e544c4d53535000030000001800180058000000d800d8007000000012001200",
    "480100000c000c005a0100000400040066010000100010006a01000015820862060100000000000fd90e6b90f8e032aa",
    "6952e5f0dbed491200000000000000000000000000000000000000000000000027ef53e75a77a6f7ddc850440f0d4622",
    "0101000000000000302a27658979dd01d24417b9dd2dd3f80000000002000c0052004500460053005200560001000c00",
    "520045004600530052005600040000000300040076006d0007000800302a27658979dd01060004000200000008003000",
    "30000000000000000000000000000000c52788482f2e0113c48d45b96ee27cc71714a1adb4d0eb5760d7f95d93388a31",
    "0a0010000000000000000000000000000000000009001c0063006900660073002f003100320037002e0030002e003000",
    "2e0031000000000057004f0052004b00470052004f00550050006e006f00730075006300680056004d008dbb3e5fd4c0",
    "4c686ff1d5942b9a6cc3a312041001000000e0e7201ea4bc808c00000000",
];

/// smbclient -U root%wrong: Samba's CHALLENGE.
const WRONG_CHALLENGE: &[&str] = &[
    "a1819c308199a0030a0101a10c060a2b06010401823702020aa281830481804e544c4d53535000020000000c000c0038",
    "00000015828a627ef802585bbcf80900000000000000003c003c0044000000060100000000000f520045004600530052",
    "00560002000c0052004500460053005200560001000c00520045004600530052005600040000000300040076006d0007",
    "00080070812b658979dd0100000000",
];

/// Its AUTHENTICATE: Samba said LOGON_FAILURE.
const WRONG_AUTH: &[&str] = &[
    "a182019630820192a282017a048201764e544c4d53535000030000001800180058000000d800d8007000000012001200",
    "48010000080008005a0100000400040062010000100010006601000015820862060100000000000f330640b06cc995a5",
    "c3f4bce72403aaa60000000000000000000000000000000000000000000000004e5877064a079339098f2ec7326b30f0",
    "010100000000000070812b658979dd01ca7075247a0508750000000002000c0052004500460053005200560001000c00",
    "520045004600530052005600040000000300040076006d000700080070812b658979dd01060004000200000008003000",
    "30000000000000000000000000000000b3f68f5c84d5786937a5b7cdfb7a44825730726f21bec03e721adc365fc487be",
    "0a0010000000000000000000000000000000000009001c0063006900660073002f003100320037002e0030002e003000",
    "2e0031000000000057004f0052004b00470052004f005500500072006f006f00740056004d005eae00e8810c186b3a88",
    "f59fc0c003caa312041001000000cc0aa4c28c2c106600000000",
];

// ---- Helpers.

fn samba_cfg() -> AuthConfig {
    AuthConfig {
        netbios_name: "REFSRV".into(),
        workgroup: "TESTGRP".into(),
        dns_domain: String::new(),
        map_to_guest: GuestPolicy::BadUser,
        allow_anonymous: true,
    }
}

fn resp_of(blob: &[u8]) -> NegTokenResp<'_> {
    match spnego::parse_client_token(blob).unwrap() {
        spnego::ClientToken::Resp(r) => r,
        other => panic!("not a negTokenResp: {other:?}"),
    }
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// (server challenge, flags, target info, timestamp) of a raw CHALLENGE.
fn parse_challenge(chal: &[u8]) -> ([u8; 8], u32, Vec<u8>, u64) {
    let challenge: [u8; 8] = chal[24..32].try_into().unwrap();
    let flags = u32_at(chal, 20) as u32;
    let (len, off) = (u16_at(chal, 40), u32_at(chal, 44));
    let info = chal[off..off + len].to_vec();
    let mut ts = 0;
    let mut at = 0;
    while at + 4 <= info.len() {
        let (id, l) = (u16_at(&info, at), u16_at(&info, at + 2));
        if id == 7 {
            ts = u64::from_le_bytes(info[at + 4..at + 12].try_into().unwrap());
        }
        at += 4 + l;
    }
    (challenge, flags, info, ts)
}

/// A server set up to reproduce Samba's side of a captured exchange.
fn samba_server(cfg: AuthConfig, samba_challenge_reply: &[u8]) -> ServerAuth {
    let chal = resp_of(samba_challenge_reply).response_token.unwrap();
    let (challenge, _, _, ts) = parse_challenge(chal);
    let mut s = ServerAuth::with_challenge(cfg, challenge, ts);
    s.target.dns_computer = "vm".into();
    s
}

fn db_with(users: &[(&str, &str)]) -> (tempfile::TempDir, PassDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = PassDb::load(dir.path().join("smbpasswd")).unwrap();
    for (i, (user, password)) in users.iter().enumerate() {
        db.set_password(user, 1000 + i as u32, password).unwrap();
    }
    (dir, db)
}

fn cont(step: Result<Step, AuthError>) -> Vec<u8> {
    match step {
        Ok(Step::Continue(b)) => b,
        other => panic!("expected Continue, got {other:?}"),
    }
}

fn done(step: Result<Step, AuthError>) -> (Vec<u8>, AuthResult) {
    match step {
        Ok(Step::Done(b, r)) => (b, r),
        other => panic!("expected Done, got {other:?}"),
    }
}

fn err(step: Result<Step, AuthError>) -> AuthError {
    match step {
        Err(e) => e,
        Ok(s) => panic!("expected an error, got {s:?}"),
    }
}

fn user(name: &str) -> Identity {
    Identity::User { name: name.into() }
}

/// The NTLMSSP AUTHENTICATE inside ROOT_AUTH (the negTokenResp header is 16
/// bytes: a1 82 01 96 30 82 01 92 a2 82 01 7a 04 82 01 76).
fn root_auth_token() -> Vec<u8> {
    hex(ROOT_AUTH)[16..16 + 0x176].to_vec()
}

// ---- Replays of the captures.

#[test]
fn replays_samba_root_logon_byte_for_byte() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    // Our CHALLENGE is Samba's, byte for byte (flags, names, AV pairs).
    assert_eq!(cont(s.step(&hex(ROOT_INIT), &db)), hex(ROOT_CHALLENGE));
    let (reply, result) = done(s.step(&hex(ROOT_AUTH), &db));
    // Same mechListMIC as Samba: same exported key, same signing keys.
    assert_eq!(reply, hex(ROOT_DONE));
    assert_eq!(result.identity, user("root"));

    // The exported session key, computed independently from the captured
    // AUTHENTICATE with literal offsets.
    let token = root_auth_token();
    assert_eq!(&token[..8], b"NTLMSSP\0");
    assert_eq!((u16_at(&token, 20), u32_at(&token, 24)), (0xd8, 0x70)); // NT response
    assert_eq!((u16_at(&token, 28), u32_at(&token, 32)), (0x12, 0x148)); // domain
    assert_eq!((u16_at(&token, 36), u32_at(&token, 40)), (0x08, 0x15a)); // user
    assert_eq!((u16_at(&token, 52), u32_at(&token, 56)), (0x10, 0x166)); // session key
    let nt = &token[0x70..0x70 + 0xd8];
    let domain: Vec<u8> = "WORKGROUP"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(&token[0x148..0x15a], &domain[..]);
    let challenge: [u8; 8] = [0xe1, 0xd4, 0xd7, 0xc4, 0x6d, 0x9b, 0xd2, 0x99];
    let owf = ntlm::ntowf_v2(&nt_hash("secret"), "root", "WORKGROUP");
    let proof = ntlm::nt_proof_str(&owf, &challenge, &nt[16..]);
    assert_eq!(proof[..], nt[..16]);
    let base = ntlm::session_base_key(&owf, &proof);
    let mut key: [u8; 16] = token[0x166..0x176].try_into().unwrap();
    ntlm::rc4(&base, &mut key);
    assert_eq!(result.session_key, key);
    assert_ne!(key, [0; 16]);

    // Nothing more is accepted on a finished exchange.
    assert!(matches!(
        err(s.step(&hex(ROOT_AUTH), &db)),
        AuthError::Unexpected(_)
    ));
}

#[test]
fn replay_without_spnego_gives_the_same_key() {
    // The same NTLMSSP messages without the SPNEGO wrapping (a client that
    // skips SPNEGO): the AUTHENTICATE MIC still verifies because our raw
    // CHALLENGE is byte-identical to Samba's.
    let (_dir, db) = db_with(&[("root", "secret")]);
    let init = hex(ROOT_INIT);
    let negotiate = &init[init.len() - 40..];
    let samba_chal = hex(ROOT_CHALLENGE);
    let samba_chal = resp_of(&samba_chal).response_token.unwrap().to_vec();
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    assert_eq!(cont(s.step(negotiate, &db)), samba_chal);
    let (reply, result) = done(s.step(&root_auth_token(), &db));
    assert!(reply.is_empty());
    assert_eq!(result.identity, user("root"));

    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    let (_, spnego_result) = {
        cont(s.step(&init, &db));
        done(s.step(&hex(ROOT_AUTH), &db))
    };
    assert_eq!(result.session_key, spnego_result.session_key);
}

#[test]
fn replayed_root_logon_fails_with_other_password_or_disabled() {
    let (_dir, mut db) = db_with(&[("root", "Secret")]);
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&hex(ROOT_AUTH), &db));
    assert!(
        matches!(
            e,
            AuthError::LogonFailure {
                reason: "wrong password",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.nt_status(), STATUS_LOGON_FAILURE);

    // Wrong password + bad password policy: guest.
    let cfg = AuthConfig {
        map_to_guest: GuestPolicy::BadPassword,
        ..samba_cfg()
    };
    let mut s = samba_server(cfg.clone(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let (reply, result) = done(s.step(&hex(ROOT_AUTH), &db));
    assert_eq!(result.identity, Identity::Guest);
    assert_eq!(result.session_key, [0; 16]);
    assert_eq!(reply, hex(&["a1073005a0030a0100"]));

    // Right password, disabled: ACCOUNT_DISABLED, under every policy.
    db.set_password("root", 0, "secret").unwrap();
    db.set_disabled("root", true).unwrap();
    let mut s = samba_server(cfg.clone(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&hex(ROOT_AUTH), &db));
    assert!(matches!(e, AuthError::AccountDisabled { .. }), "{e}");
    assert_eq!(e.nt_status(), STATUS_ACCOUNT_DISABLED);

    // Wrong password, disabled: a plain logon failure (no guest, and no hint
    // that the account exists but is disabled).
    db.set_password("root", 0, "other").unwrap();
    db.set_disabled("root", true).unwrap();
    let mut s = samba_server(cfg, &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&hex(ROOT_AUTH), &db));
    assert!(matches!(e, AuthError::LogonFailure { .. }), "{e}");
}

#[test]
fn tampered_mics_fail() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    // The SPNEGO mechListMIC is the last 16 bytes of ROOT_AUTH.
    let mut auth = hex(ROOT_AUTH);
    let last = auth.len() - 1;
    auth[last] ^= 1;
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&auth, &db));
    assert!(
        matches!(
            e,
            AuthError::LogonFailure {
                reason: "SPNEGO mechListMIC does not verify",
                ..
            }
        ),
        "{e}"
    );

    // The NTLMSSP MIC sits at offset 72 of the AUTHENTICATE (16 + 72 here).
    let mut auth = hex(ROOT_AUTH);
    auth[16 + 72] ^= 1;
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&auth, &db));
    assert!(
        matches!(
            e,
            AuthError::LogonFailure {
                reason: "AUTHENTICATE MIC does not verify",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.nt_status(), STATUS_LOGON_FAILURE);

    // A different server challenge: the proof no longer verifies.
    let mut s = ServerAuth::with_challenge(samba_cfg(), [0; 8], 0);
    cont(s.step(&hex(ROOT_INIT), &db));
    assert!(matches!(
        err(s.step(&hex(ROOT_AUTH), &db)),
        AuthError::LogonFailure {
            reason: "wrong password",
            ..
        }
    ));
}

#[test]
fn replays_samba_guest_wrong_password_anonymous_and_null_password() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let samba_done = hex(&["a1073005a0030a0100"]);

    // nosuch%x under "bad user": guest, no mechListMIC (as Samba).
    let mut s = samba_server(samba_cfg(), &hex(GUEST_CHALLENGE));
    assert_eq!(cont(s.step(&hex(ROOT_INIT), &db)), hex(GUEST_CHALLENGE));
    let (reply, result) = done(s.step(&hex(GUEST_AUTH), &db));
    assert_eq!(reply, samba_done);
    assert_eq!(result.identity, Identity::Guest);
    // ... and a logon failure under "never".
    let cfg = AuthConfig {
        map_to_guest: GuestPolicy::Never,
        ..samba_cfg()
    };
    let mut s = samba_server(cfg, &hex(GUEST_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    let e = err(s.step(&hex(GUEST_AUTH), &db));
    assert!(
        matches!(
            e,
            AuthError::LogonFailure {
                reason: "no such user",
                ..
            }
        ),
        "{e}"
    );

    // root%wrong: logon failure, as Samba answered.
    let mut s = samba_server(samba_cfg(), &hex(WRONG_CHALLENGE));
    assert_eq!(cont(s.step(&hex(ROOT_INIT), &db)), hex(WRONG_CHALLENGE));
    let e = err(s.step(&hex(WRONG_AUTH), &db));
    assert_eq!(e.nt_status(), 0xc000_006d);

    // Anonymous: success, zero key, no mechListMIC (as Samba).
    let mut s = samba_server(samba_cfg(), &hex(ANON_CHALLENGE));
    assert_eq!(cont(s.step(&hex(ROOT_INIT), &db)), hex(ANON_CHALLENGE));
    let (reply, result) = done(s.step(&hex(ANON_AUTH), &db));
    assert_eq!(reply, samba_done);
    assert_eq!(result.identity, Identity::Anonymous);
    assert_eq!(result.session_key, [0; 16]);
    // ... refused when null sessions are off.
    let cfg = AuthConfig {
        allow_anonymous: false,
        ..samba_cfg()
    };
    let mut s = samba_server(cfg, &hex(ANON_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), &db));
    assert_eq!(
        err(s.step(&hex(ANON_AUTH), &db)).nt_status(),
        STATUS_LOGON_FAILURE
    );

    // User root with empty responses (smbclient -N's first try): refused,
    // as Samba did.
    let mut s = samba_server(samba_cfg(), &hex(NULLPW_CHALLENGE));
    assert_eq!(cont(s.step(&hex(ROOT_INIT), &db)), hex(NULLPW_CHALLENGE));
    let e = err(s.step(&hex(NULLPW_AUTH), &db));
    assert!(matches!(e, AuthError::Unsupported { .. }), "{e}");
    assert_eq!(e.nt_status(), STATUS_LOGON_FAILURE);
}

// ---- A scripted NTLMv2 client, for what the captures do not cover.

/// 1.2.840.113554.1.2.2 (Kerberos 5).
const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

const CLIENT_FLAGS: u32 = 0x6208_8215; // smbclient's

struct Client {
    user: &'static str,
    domain: &'static str,
    /// The domain NTOWFv2 is computed with, when not `domain`.
    owf_domain: Option<&'static str>,
    password: &'static str,
    flags: u32,
    /// Put MsvAvFlags(MIC present) in the response and a MIC at 72.
    mic: bool,
    /// Send the SPNEGO mechListMIC with the AUTHENTICATE.
    mech_list_mic: bool,
    mechs: Vec<&'static [u8]>,
    /// Length of the EncryptedRandomSessionKey field.
    key_len: usize,
    /// Replace the NT response.
    nt_response: Option<Vec<u8>>,
}

impl Client {
    fn new(user: &'static str, password: &'static str) -> Self {
        Client {
            user,
            domain: "WORKGROUP",
            owf_domain: None,
            password,
            flags: CLIENT_FLAGS,
            mic: true,
            mech_list_mic: true,
            mechs: vec![OID_NTLMSSP],
            key_len: 16,
            nt_response: None,
        }
    }

    fn negotiate(&self) -> Vec<u8> {
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&self.flags.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0]);
        m.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 15]);
        m
    }

    fn mech_types_der(&self) -> Vec<u8> {
        let oids: Vec<u8> = self
            .mechs
            .iter()
            .flat_map(|m| der::encode(TAG_OID, m))
            .collect();
        der::encode(TAG_SEQUENCE, &oids)
    }

    fn init(&self, token: Option<&[u8]>) -> Vec<u8> {
        let mut fields = der::encode(context(0), &self.mech_types_der());
        if let Some(t) = token {
            fields.extend(der::encode(context(2), &der::encode(TAG_OCTET_STRING, t)));
        }
        let init = der::encode(context(0), &der::encode(TAG_SEQUENCE, &fields));
        der::encode_parts(
            TAG_APPLICATION_0,
            &[&der::encode(TAG_OID, OID_SPNEGO), &init],
        )
    }

    /// (AUTHENTICATE, exported session key).
    fn authenticate(&self, negotiate: &[u8], challenge: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let (server_challenge, chal_flags, info, ts) = parse_challenge(challenge);
        let flags = self.flags & chal_flags;
        let mut avs = info[..info.len() - 4].to_vec(); // without EOL
        if self.mic {
            avs.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0]);
        }
        avs.extend_from_slice(&[0, 0, 0, 0]);
        let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
        blob.extend_from_slice(&ts.to_le_bytes());
        blob.extend_from_slice(&[0xaa; 8]);
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&avs);
        blob.extend_from_slice(&[0; 4]);
        let owf_domain = self.owf_domain.unwrap_or(self.domain);
        let owf = ntlm::ntowf_v2(&nt_hash(self.password), self.user, owf_domain);
        let proof = ntlm::nt_proof_str(&owf, &server_challenge, &blob);
        let base = ntlm::session_base_key(&owf, &proof);
        let mut nt = proof.to_vec();
        nt.extend_from_slice(&blob);
        let nt = self.nt_response.clone().unwrap_or(nt);
        let (exported, enc) = if flags & flags::NEGOTIATE_KEY_EXCH != 0 {
            let mut enc = [0x55u8; 16];
            ntlm::rc4(&base, &mut enc);
            let mut enc = enc.to_vec();
            enc.resize(self.key_len, 0x33);
            ([0x55; 16], enc)
        } else {
            (base, Vec::new())
        };
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let fields: [Vec<u8>; 6] = [
            vec![0; 24],
            nt,
            utf16(self.domain),
            utf16(self.user),
            utf16("WS"),
            enc,
        ];
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&3u32.to_le_bytes());
        let mut offset = 88usize;
        for f in &fields {
            m.extend_from_slice(&(f.len() as u16).to_le_bytes());
            m.extend_from_slice(&(f.len() as u16).to_le_bytes());
            m.extend_from_slice(&(offset as u32).to_le_bytes());
            offset += f.len();
        }
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 15]);
        m.extend_from_slice(&[0; 16]);
        for f in &fields {
            m.extend_from_slice(f);
        }
        if self.mic {
            let mic = ntlm::hmac_md5(&exported, &[negotiate, challenge, &m]);
            m[72..88].copy_from_slice(&mic);
        }
        (m, exported)
    }

    fn resp(token: Option<&[u8]>, mic: Option<&[u8]>) -> Vec<u8> {
        spnego::encode_resp(&NegTokenResp {
            response_token: token,
            mech_list_mic: mic,
            ..NegTokenResp::default()
        })
    }

    fn client_mic(&self, exported: &[u8; 16], flags: u32) -> [u8; 16] {
        let keys = SessionKeys::derive(exported, flags);
        keys.first_mic(&keys.client, &self.mech_types_der())
    }

    fn server_mic(&self, exported: &[u8; 16], flags: u32) -> [u8; 16] {
        let keys = SessionKeys::derive(exported, flags);
        keys.first_mic(&keys.server, &self.mech_types_der())
    }

    /// A whole SPNEGO exchange with the optimistic token; the server's last
    /// reply and the result.
    fn run(
        &self,
        s: &mut ServerAuth,
        db: &PassDb,
    ) -> Result<(Vec<u8>, AuthResult, [u8; 16]), AuthError> {
        let negotiate = self.negotiate();
        let reply = cont(s.step(&self.init(Some(&negotiate)), db));
        let challenge = resp_of(&reply).response_token.unwrap().to_vec();
        let (auth, exported) = self.authenticate(&negotiate, &challenge);
        let flags = self.flags & parse_challenge(&challenge).1;
        let mic = self.client_mic(&exported, flags);
        let msg = Client::resp(Some(&auth), self.mech_list_mic.then_some(&mic[..]));
        match s.step(&msg, db)? {
            Step::Done(reply, result) => Ok((reply, result, exported)),
            Step::Continue(b) => panic!("unexpected Continue {b:02x?}"),
        }
    }
}

fn our_cfg() -> AuthConfig {
    AuthConfig {
        netbios_name: "Fileserver".into(),
        workgroup: "HOME".into(),
        dns_domain: "Example.COM".into(),
        map_to_guest: GuestPolicy::Never,
        allow_anonymous: false,
    }
}

#[test]
fn challenge_carries_our_names_and_a_fresh_challenge() {
    let (_dir, db) = db_with(&[]);
    let c = Client::new("u", "p");
    let mut a = ServerAuth::new(our_cfg());
    let mut b = ServerAuth::new(our_cfg());
    let reply_a = cont(a.step(&c.init(Some(&c.negotiate())), &db));
    let reply_b = cont(b.step(&c.init(Some(&c.negotiate())), &db));
    let ra = resp_of(&reply_a);
    assert_eq!(ra.neg_state, Some(NegState::AcceptIncomplete));
    assert_eq!(ra.supported_mech, Some(OID_NTLMSSP));
    let chal_a = ra.response_token.unwrap();
    let chal_b = resp_of(&reply_b).response_token.unwrap();
    let (ca, flags_a, info, ts) = parse_challenge(chal_a);
    assert_ne!(ca, parse_challenge(chal_b).0, "challenges must be random");
    assert_eq!(flags_a, 0x628a_8215);
    assert!(ts > 130_000_000_000_000_000, "timestamp is now");
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut expect = Vec::new();
    for (id, v) in [
        (2u16, utf16("FILESERVER")),
        (1, utf16("FILESERVER")),
        (4, utf16("example.com")),
        (3, utf16("fileserver.example.com")),
    ] {
        expect.extend_from_slice(&id.to_le_bytes());
        expect.extend_from_slice(&(v.len() as u16).to_le_bytes());
        expect.extend_from_slice(&v);
    }
    assert_eq!(info[..expect.len()], expect[..]);
    assert_eq!(info[expect.len()..expect.len() + 4], [7, 0, 8, 0]);
    assert_eq!(info[info.len() - 4..], [0, 0, 0, 0]);
    // TargetName is the netbios name.
    assert_eq!(&chal_a[56..56 + 20], &utf16("FILESERVER")[..]);
}

#[test]
fn scripted_client_logs_on_with_mics() {
    let (_dir, db) = db_with(&[("Alice", "pw")]);
    let c = Client::new("alice", "pw");
    let mut s = ServerAuth::new(our_cfg());
    let (reply, result, exported) = c.run(&mut s, &db).unwrap();
    assert_eq!(result.identity, user("Alice"));
    assert_eq!(result.session_key, exported);
    let r = resp_of(&reply);
    assert_eq!(r.neg_state, Some(NegState::AcceptCompleted));
    assert_eq!(
        r.mech_list_mic,
        Some(&c.server_mic(&exported, 0x6208_8215)[..])
    );
}

#[test]
fn domains_tried_client_upper_empty_workgroup() {
    let (_dir, db) = db_with(&[("bob", "pw")]);
    // (domain in the message, domain the client computed NTOWFv2 with)
    for (claimed, used, ok) in [
        ("workgroup", "WORKGROUP", true),
        ("ELSEWHERE", "", true),
        ("ELSEWHERE", "HOME", true),
        ("ELSEWHERE", "OTHER", false),
    ] {
        let c = Client {
            domain: claimed,
            owf_domain: Some(used),
            ..Client::new("bob", "pw")
        };
        let outcome = c.run(&mut ServerAuth::new(our_cfg()), &db);
        match outcome {
            Ok((_, result, _)) => assert!(ok && result.identity == user("bob"), "{used:?}"),
            Err(e) => assert!(
                !ok && matches!(e, AuthError::LogonFailure { .. }),
                "{used:?}: {e}"
            ),
        }
    }
}

#[test]
fn raw_ntlmssp_without_spnego() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    let c = Client::new("alice", "pw");
    let mut s = ServerAuth::new(our_cfg());
    let negotiate = c.negotiate();
    let challenge = cont(s.step(&negotiate, &db));
    assert_eq!(&challenge[..8], b"NTLMSSP\0");
    let (auth, exported) = c.authenticate(&negotiate, &challenge);
    let (reply, result) = done(s.step(&auth, &db));
    assert!(reply.is_empty());
    assert_eq!(result.session_key, exported);
    assert!(s.reject_token().is_empty());
    assert_eq!(
        ServerAuth::new(our_cfg()).reject_token(),
        spnego::reject_token()
    );
}

#[test]
fn downgrade_needs_a_round_for_negotiate() {
    // Kerberos first, NTLMSSP second, an optimistic Kerberos token: the
    // server picks NTLMSSP, ignores the token and asks for a MIC.
    let (_dir, db) = db_with(&[("alice", "pw")]);
    let c = Client {
        mechs: vec![OID_KRB5, OID_NTLMSSP],
        ..Client::new("alice", "pw")
    };
    let mut s = ServerAuth::new(our_cfg());
    let reply = cont(s.step(&c.init(Some(b"kerberos AP-REQ")), &db));
    let r = resp_of(&reply);
    assert_eq!(r.neg_state, Some(NegState::RequestMic));
    assert_eq!(r.supported_mech, Some(OID_NTLMSSP));
    assert_eq!(r.response_token, None);
    let negotiate = c.negotiate();
    let reply = cont(s.step(&Client::resp(Some(&negotiate), None), &db));
    let challenge = resp_of(&reply).response_token.unwrap().to_vec();
    let (auth, exported) = c.authenticate(&negotiate, &challenge);
    let mic = c.client_mic(&exported, 0x6208_8215);
    let (reply, result) = done(s.step(&Client::resp(Some(&auth), Some(&mic)), &db));
    assert_eq!(result.identity, user("alice"));
    assert_eq!(
        resp_of(&reply).mech_list_mic,
        Some(&c.server_mic(&exported, 0x6208_8215)[..])
    );
}

#[test]
fn mech_list_mic_owed_gets_one_more_round() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    let c = Client {
        mech_list_mic: false,
        ..Client::new("alice", "pw")
    };
    let mut s = ServerAuth::new(our_cfg());
    let negotiate = c.negotiate();
    let reply = cont(s.step(&c.init(Some(&negotiate)), &db));
    let challenge = resp_of(&reply).response_token.unwrap().to_vec();
    let (auth, exported) = c.authenticate(&negotiate, &challenge);
    let reply = cont(s.step(&Client::resp(Some(&auth), None), &db));
    let r = resp_of(&reply);
    assert_eq!(r.neg_state, Some(NegState::AcceptIncomplete));
    assert_eq!(
        r.mech_list_mic,
        Some(&c.server_mic(&exported, 0x6208_8215)[..])
    );
    // A wrong MIC fails ...
    let mut s2 = ServerAuth::new(our_cfg());
    let reply2 = cont(s2.step(&c.init(Some(&negotiate)), &db));
    let challenge2 = resp_of(&reply2).response_token.unwrap().to_vec();
    let (auth2, _) = c.authenticate(&negotiate, &challenge2);
    cont(s2.step(&Client::resp(Some(&auth2), None), &db));
    let e = err(s2.step(&Client::resp(None, Some(&[0; 16])), &db));
    assert_eq!(e.nt_status(), STATUS_LOGON_FAILURE);
    // ... the right one completes.
    let mic = c.client_mic(&exported, 0x6208_8215);
    let (reply, result) = done(s.step(&Client::resp(None, Some(&mic)), &db));
    assert_eq!(resp_of(&reply).neg_state, Some(NegState::AcceptCompleted));
    assert_eq!(result.identity, user("alice"));
}

#[test]
fn old_client_without_mics_or_key_exchange() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    let c = Client {
        mic: false,
        mech_list_mic: false,
        flags: CLIENT_FLAGS & !flags::NEGOTIATE_KEY_EXCH,
        ..Client::new("alice", "pw")
    };
    let mut s = ServerAuth::new(our_cfg());
    let (reply, result, exported) = c.run(&mut s, &db).unwrap();
    assert_eq!(result.session_key, exported);
    let r = resp_of(&reply);
    assert_eq!(r.neg_state, Some(NegState::AcceptCompleted));
    assert_eq!(r.mech_list_mic, None);
}

#[test]
fn ntlmv1_and_lm_are_refused() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    let c = Client {
        nt_response: Some(vec![0x11; 24]),
        mic: false,
        mech_list_mic: false,
        ..Client::new("alice", "pw")
    };
    let e = c.run(&mut ServerAuth::new(our_cfg()), &db).unwrap_err();
    assert!(matches!(e, AuthError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("NTLMv1"), "{e}");
    assert_eq!(e.nt_status(), STATUS_LOGON_FAILURE);
    // But an unknown user with an NTLMv1 response is still mapped to guest
    // under "bad user" (the account is looked up first, as Samba does).
    let cfg = AuthConfig {
        map_to_guest: GuestPolicy::BadUser,
        ..our_cfg()
    };
    let c = Client {
        user: "nobody",
        ..c
    };
    let (_, result, _) = c.run(&mut ServerAuth::new(cfg), &db).unwrap();
    assert_eq!(result.identity, Identity::Guest);
}

#[test]
fn empty_first_blob_gets_our_token() {
    let (_dir, db) = db_with(&[]);
    let mut s = ServerAuth::new(our_cfg());
    assert_eq!(cont(s.step(&[], &db)), negotiate_token());
}

// ---- Malformed input: errors, never panics.

/// A server that has sent its CHALLENGE for smbclient's captured NEGOTIATE.
fn server_after_root_negotiate(db: &PassDb) -> ServerAuth {
    let mut s = samba_server(samba_cfg(), &hex(ROOT_CHALLENGE));
    cont(s.step(&hex(ROOT_INIT), db));
    s
}

fn wrap_auth(token: &[u8]) -> Vec<u8> {
    Client::resp(Some(token), None)
}

fn invalid_parameter(e: &AuthError) -> bool {
    e.nt_status() == STATUS_INVALID_PARAMETER
}

#[test]
fn truncated_blobs() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let init = hex(ROOT_INIT);
    for n in 1..init.len() {
        let mut s = ServerAuth::new(samba_cfg());
        assert!(s.step(&init[..n], &db).is_err(), "init prefix {n}");
    }
    let auth = hex(ROOT_AUTH);
    for n in 0..auth.len() {
        let mut s = server_after_root_negotiate(&db);
        assert!(s.step(&auth[..n], &db).is_err(), "auth prefix {n}");
    }
    // Truncated AUTHENTICATE inside a well-formed SPNEGO wrapper.
    let token = root_auth_token();
    for n in 0..token.len() {
        let mut s = server_after_root_negotiate(&db);
        let e = err(s.step(&wrap_auth(&token[..n]), &db));
        assert!(invalid_parameter(&e), "token prefix {n}: {e}");
    }
    // Truncated raw NEGOTIATE (an empty blob is not an error: it asks for
    // our NegTokenInit).
    let negotiate = &init[init.len() - 40..];
    for n in 1..16 {
        let mut s = ServerAuth::new(samba_cfg());
        assert!(
            s.step(&negotiate[..n], &db).is_err(),
            "negotiate prefix {n}"
        );
    }
}

#[test]
fn offsets_and_lengths_beyond_the_buffer() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let token = root_auth_token();
    // Each of the six (len, maxlen, offset) fields at 12, 20, ..., 52.
    for field in 0..6 {
        let at = 12 + 8 * field;
        for (len, offset) in [
            (0x10u16, 0xffff_fff0u32), // offset + len overflows u32
            (0xffff, 0x58),            // length past the end
            (0x10, token.len() as u32 - 8),
            (0x10, 0x10), // inside the header
        ] {
            let mut t = token.clone();
            t[at..at + 2].copy_from_slice(&len.to_le_bytes());
            t[at + 2..at + 4].copy_from_slice(&len.to_le_bytes());
            t[at + 4..at + 8].copy_from_slice(&offset.to_le_bytes());
            let mut s = server_after_root_negotiate(&db);
            let e = err(s.step(&wrap_auth(&t), &db));
            assert!(
                invalid_parameter(&e),
                "field {field} {len:#x}@{offset:#x}: {e}"
            );
        }
    }
}

#[test]
fn bad_session_key_lengths() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    for key_len in [0, 8, 15, 17, 32, 1000] {
        let c = Client {
            key_len,
            ..Client::new("alice", "pw")
        };
        let e = c.run(&mut ServerAuth::new(our_cfg()), &db).unwrap_err();
        assert!(
            matches!(e, AuthError::Ntlmssp(NtlmError::BadSessionKeyLength(n)) if n == key_len),
            "{key_len}: {e}"
        );
        assert!(invalid_parameter(&e));
    }
    // The same for an unknown user: shape is checked before the account.
    let c = Client {
        key_len: 17,
        ..Client::new("nosuch", "pw")
    };
    let cfg = AuthConfig {
        map_to_guest: GuestPolicy::BadUser,
        ..our_cfg()
    };
    assert!(invalid_parameter(
        &c.run(&mut ServerAuth::new(cfg), &db).unwrap_err()
    ));
}

#[test]
fn short_ntlmv2_responses() {
    let (_dir, db) = db_with(&[("alice", "pw")]);
    for len in [1, 16, 23, 25, 43] {
        let c = Client {
            nt_response: Some(vec![0x42; len]),
            ..Client::new("alice", "pw")
        };
        let e = c.run(&mut ServerAuth::new(our_cfg()), &db).unwrap_err();
        assert!(
            matches!(e, AuthError::Ntlmssp(NtlmError::ShortNtlmV2Response(n)) if n == len),
            "{len}: {e}"
        );
    }
    // In the capture: NT response length cut from 0xd8 to 0x20.
    let mut t = root_auth_token();
    t[20] = 0x20;
    t[22] = 0x20;
    let mut s = server_after_root_negotiate(&db);
    let e = err(s.step(&wrap_auth(&t), &db));
    assert!(
        matches!(e, AuthError::Ntlmssp(NtlmError::ShortNtlmV2Response(32))),
        "{e}"
    );
}

#[test]
fn bad_spnego() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let init = hex(ROOT_INIT);
    let run = |blob: &[u8]| err(ServerAuth::new(samba_cfg()).step(blob, &db));

    // Indefinite length at each level that has one.
    for at in [1, 11, 13, 15, 17] {
        let mut b = init.clone();
        b[at] = 0x80;
        assert!(invalid_parameter(&run(&b)), "indefinite at {at}");
    }
    // Lengths one beyond the parent at each level.
    for at in [1, 11, 13, 15, 17, 29, 31] {
        let mut b = init.clone();
        b[at] += 1;
        assert!(invalid_parameter(&run(&b)), "longer at {at}");
    }
    // Deep nesting.
    let mut nested = der::encode(TAG_OCTET_STRING, b"x");
    for _ in 0..1000 {
        nested = der::encode(TAG_SEQUENCE, &nested);
    }
    let deep = der::encode_parts(
        TAG_APPLICATION_0,
        &[
            &der::encode(TAG_OID, OID_SPNEGO),
            &der::encode(context(0), &nested),
        ],
    );
    assert!(invalid_parameter(&run(&deep)));
    // Unknown mechanisms only.
    let krb = Client {
        mechs: vec![
            OID_KRB5,
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e],
        ],
        ..Client::new("root", "secret")
    };
    let e = run(&krb.init(Some(b"token")));
    assert!(
        matches!(e, AuthError::NoCommonMechanism(ref m) if m.contains("1.2.840.113554.1.2.2")),
        "{e}"
    );
    assert!(invalid_parameter(&e));
    // Not SPNEGO, not NTLMSSP.
    assert!(invalid_parameter(&run(b"\x00garbage")));
    // A negTokenResp first.
    assert!(invalid_parameter(&run(&Client::resp(Some(b"x"), None))));
    // A second negTokenInit where the AUTHENTICATE should be.
    let mut s = server_after_root_negotiate(&db);
    assert!(invalid_parameter(&err(s.step(&init, &db))));
    // negTokenResp without a token.
    let mut s = server_after_root_negotiate(&db);
    assert!(invalid_parameter(&err(
        s.step(&Client::resp(None, None), &db)
    )));
    // Too big.
    let mut s = ServerAuth::new(samba_cfg());
    assert!(invalid_parameter(&err(s.step(&vec![0x60; 70_000], &db))));
    // A NEGOTIATE where the AUTHENTICATE should be.
    let mut s = server_after_root_negotiate(&db);
    let negotiate = &init[init.len() - 40..];
    let e = err(s.step(&wrap_auth(negotiate), &db));
    assert!(
        matches!(e, AuthError::Ntlmssp(NtlmError::WrongType { .. })),
        "{e}"
    );
}

/// Random mutations of every captured client blob: errors are fine, panics
/// are not. A fixed-seed xorshift keeps it reproducible.
#[test]
fn mutated_captures_never_panic() {
    let (_dir, db) = db_with(&[("root", "secret")]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let auths = [
        hex(ROOT_AUTH),
        hex(GUEST_AUTH),
        hex(WRONG_AUTH),
        hex(ANON_AUTH),
        hex(NULLPW_AUTH),
    ];
    for round in 0..3000 {
        let mut blob = auths[round % auths.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % blob.len();
            match next() % 3 {
                0 => blob[at] ^= 1 << (next() % 8),
                1 => blob[at] = next() as u8,
                _ => blob.truncate(at),
            }
            if blob.is_empty() {
                break;
            }
        }
        let mut s = server_after_root_negotiate(&db);
        let _ = s.step(&blob, &db);
        let mut init = hex(ROOT_INIT);
        let at = (next() as usize) % init.len();
        init[at] = next() as u8;
        let _ = ServerAuth::new(samba_cfg()).step(&init, &db);
    }
}

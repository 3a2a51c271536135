//! NTLM cryptography (MS-NLMP 3.3.2, 3.4.4, 3.4.5): NT hash, NTOWFv2,
//! NTProofStr, session keys and the NTLMSSP signing used for the SPNEGO
//! mechListMIC. Only the NTLMv2 side: LM and NTLMv1 are refused upstream.

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use rc4::{KeyInit, Rc4, StreamCipher, consts::U16};

use super::ntlmssp::flags;

/// MD4(UTF-16LE(password)).
pub fn nt_hash(password: &str) -> [u8; 16] {
    let mut md4 = Md4::new();
    for unit in password.encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    md4.finalize().into()
}

/// HMAC-MD5 of the concatenation of `parts`. The key is zero-padded to the
/// MD5 block size, which is what HMAC does with any key of up to 64 bytes,
/// so construction cannot fail.
pub fn hmac_md5(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(key);
    let mut mac = <Hmac<Md5> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

/// Windows upper-cases user names one UTF-16 unit at a time (no "ß" -> "SS");
/// keep a character when its upper case is not a single character.
fn upper_simple(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(UPPER(user) + domain)).
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut who = upper_simple(user);
    who.push_str(domain);
    hmac_md5(nt_hash, &[&utf16le(&who)])
}

/// NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || blob), where blob is
/// the NTLMv2 response after its first 16 bytes.
pub fn nt_proof_str(ntowf: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(ntowf, &[server_challenge, blob])
}

/// SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr); for NTLMv2 it is also
/// the KeyExchangeKey.
pub fn session_base_key(ntowf: &[u8; 16], nt_proof: &[u8; 16]) -> [u8; 16] {
    hmac_md5(ntowf, &[nt_proof])
}

/// RC4(key, data) in place, a fresh cipher each call.
pub fn rc4(key: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Rc4::<U16>::new(&(*key).into());
    cipher.apply_keystream(data);
}

const C2S_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const S2C_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const C2S_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const S2C_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// One direction's NTLMSSP keys.
#[derive(Clone)]
pub struct DirectionKeys {
    pub sign: [u8; 16],
    pub seal: [u8; 16],
}

/// The signing and sealing keys of an NTLMSSP context with extended session
/// security (MS-NLMP 3.4.5.2 SIGNKEY, 3.4.5.3 SEALKEY).
#[derive(Clone)]
pub struct SessionKeys {
    pub client: DirectionKeys,
    pub server: DirectionKeys,
    /// NTLMSSP_NEGOTIATE_KEY_EXCH: the checksum is RC4-sealed.
    pub key_exch: bool,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// Keys for `negotiated` flags (which must include extended session
    /// security: the caller checks).
    pub fn derive(exported: &[u8; 16], negotiated: u32) -> Self {
        // SEALKEY: the session key is cut to 16, 7 or 5 bytes by strength.
        let seal_input: &[u8] = if negotiated & flags::NEGOTIATE_128 != 0 {
            exported
        } else if negotiated & flags::NEGOTIATE_56 != 0 {
            &exported[..7]
        } else {
            &exported[..5]
        };
        SessionKeys {
            client: DirectionKeys {
                sign: md5(&[exported, C2S_SIGN]),
                seal: md5(&[seal_input, C2S_SEAL]),
            },
            server: DirectionKeys {
                sign: md5(&[exported, S2C_SIGN]),
                seal: md5(&[seal_input, S2C_SEAL]),
            },
            key_exch: negotiated & flags::NEGOTIATE_KEY_EXCH != 0,
        }
    }

    /// GSS_GetMIC of the first message in one direction (sequence number 0,
    /// fresh RC4 state): what the SPNEGO mechListMIC is.
    pub fn first_mic(&self, keys: &DirectionKeys, message: &[u8]) -> [u8; 16] {
        const SEQ: u32 = 0;
        let digest = hmac_md5(&keys.sign, &[&SEQ.to_le_bytes(), message]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&digest[..8]);
        if self.key_exch {
            rc4(&keys.seal, &mut checksum);
        }
        let mut mac = [0u8; 16];
        // Version 1, checksum, sequence number.
        mac[..4].copy_from_slice(&1u32.to_le_bytes());
        mac[4..12].copy_from_slice(&checksum);
        mac[12..].copy_from_slice(&SEQ.to_le_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MS-NLMP 4.2.1 common values and 4.2.4 (NTLMv2) results.
    const USER: &str = "User";
    const DOMAIN: &str = "Domain";
    const PASSWORD: &str = "Password";
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

    /// temp from MS-NLMP 3.3.2 for 4.2.4: 0x0101, zeros, time 0, client
    /// challenge, zeros, AV pairs (NbDomainName "Domain", NbComputerName
    /// "Server", EOL), zeros.
    fn blob_4_2_4() -> Vec<u8> {
        let mut b = vec![1, 1, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&CLIENT_CHALLENGE);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[
            0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00,
            0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00,
            0x65, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]);
        b.extend_from_slice(&[0; 4]);
        b
    }

    #[test]
    fn ms_nlmp_4_2_4_ntlmv2() {
        let nt = nt_hash(PASSWORD);
        // 4.2.2.1.2 NTOWFv1("Password")
        assert_eq!(
            nt,
            [
                0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca, 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f,
                0xd8, 0x52
            ]
        );
        // 4.2.4.1.1 NTOWFv2
        let ntowf = ntowf_v2(&nt, USER, DOMAIN);
        assert_eq!(
            ntowf,
            [
                0x0c, 0x86, 0x8a, 0x40, 0x3b, 0xfd, 0x7a, 0x93, 0xa3, 0x00, 0x1e, 0xf2, 0x2e, 0xf0,
                0x2e, 0x3f
            ]
        );
        // 4.2.4.2.2 NTProofStr
        let proof = nt_proof_str(&ntowf, &SERVER_CHALLENGE, &blob_4_2_4());
        assert_eq!(
            proof,
            [
                0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef,
                0x6a, 0x1c
            ]
        );
        // 4.2.4.1.2 Session Base Key
        let base = session_base_key(&ntowf, &proof);
        assert_eq!(
            base,
            [
                0x8d, 0xe4, 0x0c, 0xca, 0xdb, 0xc1, 0x4a, 0x82, 0xf1, 0x5c, 0xb0, 0xad, 0x0d, 0xe9,
                0x5c, 0xa3
            ]
        );
        // 4.2.4.2.3 Encrypted Session Key = RC4(KeyExchangeKey, RandomSessionKey),
        // and the server's RC4 of it gives the exported key back.
        let mut enc = RANDOM_SESSION_KEY;
        rc4(&base, &mut enc);
        assert_eq!(
            enc,
            [
                0xc5, 0xda, 0xd2, 0x54, 0x4f, 0xc9, 0x79, 0x90, 0x94, 0xce, 0x1c, 0xe9, 0x0b, 0xc9,
                0xd0, 0x3e
            ]
        );
        rc4(&base, &mut enc);
        assert_eq!(enc, RANDOM_SESSION_KEY);
    }

    #[test]
    fn ms_nlmp_4_2_4_4_wrap_signature() {
        // 4.2.4.4 GSS_WrapEx: plaintext "Plaintext" (UTF-16LE), sequence 0,
        // flags 0xe28a8233 (KEY_EXCH, 56, 128, ESS...). The client seals the
        // message and then the checksum with one RC4 stream; reproduce that
        // with our keys to check SIGNKEY/SEALKEY.
        let keys = SessionKeys::derive(&RANDOM_SESSION_KEY, 0xe28a_8233);
        let plain: Vec<u8> = "Plaintext"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let digest = hmac_md5(&keys.client.sign, &[&0u32.to_le_bytes(), &plain]);
        let mut stream = plain.clone();
        stream.extend_from_slice(&digest[..8]);
        rc4(&keys.client.seal, &mut stream);
        assert_eq!(
            stream[..18],
            [
                0x54, 0xe5, 0x01, 0x65, 0xbf, 0x19, 0x36, 0xdc, 0x99, 0x60, 0x20, 0xc1, 0x81, 0x1b,
                0x0f, 0x06, 0xfb, 0x5f
            ]
        );
        assert_eq!(
            stream[18..],
            [0x7f, 0xb3, 0x8e, 0xc5, 0xc5, 0x5d, 0x49, 0x76]
        );
    }

    #[test]
    fn upper_case_is_per_character() {
        assert_eq!(upper_simple("user"), "USER");
        assert_eq!(upper_simple("straße"), "STRAßE");
    }
}

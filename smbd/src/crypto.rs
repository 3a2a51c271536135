//! SMB2/3 signing, key derivation and encryption (MS-SMB2 3.1.4), on the
//! RustCrypto crates.

use aes::cipher::KeyInit;
use aes_gcm::aead::{AeadInPlace, generic_array::GenericArray};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

type HmacSha256 = Hmac<Sha256>;

/// How messages of a session are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgo {
    /// SMB 2.0.2 and 2.1: HMAC-SHA256 with the session key.
    HmacSha256,
    /// SMB 3.x: AES-128-CMAC with the derived signing key.
    AesCmac,
    /// SMB 3.1.1 when both sides list it in SIGNING_CAPABILITIES.
    AesGmac,
}

impl SigningAlgo {
    /// The SIGNING_CAPABILITIES id.
    pub fn id(self) -> u16 {
        match self {
            SigningAlgo::HmacSha256 => 0,
            SigningAlgo::AesCmac => 1,
            SigningAlgo::AesGmac => 2,
        }
    }
}

/// Computes the signature of `msg` (one SMB2 message, its signature field
/// zeroed by the caller or not: it is treated as zero here).
pub fn signature(algo: SigningAlgo, key: &[u8; 16], msg: &[u8], is_cancel: bool) -> [u8; 16] {
    signature_with_tail(algo, key, msg, &[], is_cancel)
}

/// The signature of the message made of `msg` followed by `tail`.
pub fn signature_with_tail(
    algo: SigningAlgo,
    key: &[u8; 16],
    msg: &[u8],
    tail: &[u8],
    is_cancel: bool,
) -> [u8; 16] {
    use crate::wire::header::field::SIGNATURE;
    let zero = [0u8; 16];
    let parts: [&[u8]; 4] = [&msg[..SIGNATURE.start], &zero, &msg[SIGNATURE.end..], tail];
    let mut out = [0u8; 16];
    match algo {
        SigningAlgo::HmacSha256 => {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
            for p in parts {
                mac.update(p);
            }
            out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        }
        SigningAlgo::AesCmac => {
            let mut mac = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(key).expect("16 bytes");
            for p in parts {
                mac.update(p);
            }
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        SigningAlgo::AesGmac => {
            // Nonce: MessageId, then a 32-bit field whose bit 0 says the
            // sender is the server and bit 1 that the message is a CANCEL.
            use crate::wire::header::field::{FLAGS, MESSAGE_ID};
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&msg[MESSAGE_ID]);
            let flags = u32::from_le_bytes(msg[FLAGS].try_into().expect("4 bytes"));
            let mut role = 0u32;
            if flags & crate::wire::header::flags::SERVER_TO_REDIR != 0 {
                role |= 1;
            }
            if is_cancel {
                role |= 2;
            }
            nonce[8..].copy_from_slice(&role.to_le_bytes());
            let gcm = aes_gcm::Aes128Gcm::new(GenericArray::from_slice(key));
            let mut aad = Vec::with_capacity(msg.len() + tail.len());
            for p in parts {
                aad.extend_from_slice(p);
            }
            let tag = gcm
                .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut [])
                .expect("empty plaintext");
            out.copy_from_slice(&tag);
        }
    }
    out
}

/// Constant-time comparison of a received signature.
pub fn verify(algo: SigningAlgo, key: &[u8; 16], msg: &[u8], is_cancel: bool) -> bool {
    use crate::wire::header::field::SIGNATURE;
    use subtle::ConstantTimeEq;
    let want = signature(algo, key, msg, is_cancel);
    msg.get(SIGNATURE)
        .is_some_and(|got| bool::from(got.ct_eq(&want)))
}

/// SP800-108 counter-mode KDF with HMAC-SHA256, as SMB3 uses it: one or
/// two blocks of HMAC(key, i || label || 0x00 || context || L).
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], bits: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 1u32;
    while out.len() * 8 < bits as usize {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
        mac.update(&i.to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&bits.to_be_bytes());
        out.extend_from_slice(&mac.finalize().into_bytes());
        i += 1;
    }
    out.truncate(bits as usize / 8);
    out
}

/// SMB 3.1.1 pre-authentication integrity hash (SHA-512 chain).
#[derive(Clone, PartialEq, Eq)]
pub struct Preauth(pub [u8; 64]);

impl Preauth {
    pub fn zero() -> Preauth {
        Preauth([0; 64])
    }

    pub fn update(&mut self, msg: &[u8]) {
        let mut h = Sha512::new();
        h.update(self.0);
        h.update(msg);
        self.0.copy_from_slice(&h.finalize());
    }
}

impl std::fmt::Debug for Preauth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preauth({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// Encryption algorithms (ENCRYPTION_CAPABILITIES ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Ccm,
    Aes128Gcm,
    Aes256Ccm,
    Aes256Gcm,
}

impl Cipher {
    pub fn id(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => 1,
            Cipher::Aes128Gcm => 2,
            Cipher::Aes256Ccm => 3,
            Cipher::Aes256Gcm => 4,
        }
    }

    pub fn from_id(id: u16) -> Option<Cipher> {
        match id {
            1 => Some(Cipher::Aes128Ccm),
            2 => Some(Cipher::Aes128Gcm),
            3 => Some(Cipher::Aes256Ccm),
            4 => Some(Cipher::Aes256Gcm),
            _ => None,
        }
    }

    /// Bytes of the transform header's nonce field used by this cipher.
    pub fn nonce_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => 11,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
        }
    }

    /// Key length in bits (the L of the key derivation).
    pub fn key_bits(self) -> u32 {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 128,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 256,
        }
    }
}

type Ccm = ccm::Ccm<aes::Aes128, ccm::consts::U16, ccm::consts::U11>;
type Ccm256 = ccm::Ccm<aes::Aes256, ccm::consts::U16, ccm::consts::U11>;

#[derive(Debug, thiserror::Error)]
#[error("message does not decrypt (wrong key or tampered)")]
pub struct DecryptError;

/// Encrypts `data` in place and returns the tag.
pub fn encrypt(cipher: Cipher, key: &[u8], nonce: &[u8], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    let tag = match cipher {
        Cipher::Aes128Ccm => Ccm::new(GenericArray::from_slice(&key[..16]))
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce[..11]), aad, data)
            .expect("length within CCM limits"),
        Cipher::Aes128Gcm => aes_gcm::Aes128Gcm::new(GenericArray::from_slice(&key[..16]))
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce[..12]), aad, data)
            .expect("length within GCM limits"),
        Cipher::Aes256Ccm => Ccm256::new(GenericArray::from_slice(&key[..32]))
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce[..11]), aad, data)
            .expect("length within CCM limits"),
        Cipher::Aes256Gcm => aes_gcm::Aes256Gcm::new(GenericArray::from_slice(&key[..32]))
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce[..12]), aad, data)
            .expect("length within GCM limits"),
    };
    let mut t = [0u8; 16];
    t.copy_from_slice(&tag);
    t
}

/// Decrypts `data` in place, checking the tag.
pub fn decrypt(
    cipher: Cipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), DecryptError> {
    let tag = GenericArray::from_slice(tag);
    match cipher {
        Cipher::Aes128Ccm => Ccm::new(GenericArray::from_slice(&key[..16]))
            .decrypt_in_place_detached(GenericArray::from_slice(&nonce[..11]), aad, data, tag),
        Cipher::Aes128Gcm => aes_gcm::Aes128Gcm::new(GenericArray::from_slice(&key[..16]))
            .decrypt_in_place_detached(GenericArray::from_slice(&nonce[..12]), aad, data, tag),
        Cipher::Aes256Ccm => Ccm256::new(GenericArray::from_slice(&key[..32]))
            .decrypt_in_place_detached(GenericArray::from_slice(&nonce[..11]), aad, data, tag),
        Cipher::Aes256Gcm => aes_gcm::Aes256Gcm::new(GenericArray::from_slice(&key[..32]))
            .decrypt_in_place_detached(GenericArray::from_slice(&nonce[..12]), aad, data, tag),
    }
    .map_err(|_| DecryptError)
}

/// The keys of an authenticated session.
#[derive(Clone)]
pub struct SessionKeys {
    pub signing: [u8; 16],
    /// Server to client (32 bytes for the AES-256 ciphers, else 16).
    pub encryption: Vec<u8>,
    /// Client to server.
    pub decryption: Vec<u8>,
    pub application: [u8; 16],
}

fn key16(v: Vec<u8>) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&v[..16]);
    k
}

impl SessionKeys {
    /// Derives the keys of a session for `dialect` from the authentication
    /// session key (and, for 3.1.1, the session's pre-auth hash).
    /// The cipher sets the length of the encryption keys (MS-SMB2
    /// 3.3.5.5.3: 256 bits for the AES-256 ciphers).
    pub fn derive(
        dialect: u16,
        cipher: Option<Cipher>,
        session_key: &[u8; 16],
        preauth: &Preauth,
    ) -> SessionKeys {
        let bits = cipher.map_or(128, Cipher::key_bits);
        let len = bits as usize / 8;
        let cut = |mut v: Vec<u8>| {
            v.truncate(len);
            v
        };
        if dialect >= 0x0311 {
            let ctx = &preauth.0[..];
            SessionKeys {
                signing: key16(kdf(session_key, b"SMBSigningKey\0", ctx, 128)),
                encryption: cut(kdf(session_key, b"SMBS2CCipherKey\0", ctx, bits)),
                decryption: cut(kdf(session_key, b"SMBC2SCipherKey\0", ctx, bits)),
                application: key16(kdf(session_key, b"SMBAppKey\0", ctx, 128)),
            }
        } else if dialect >= 0x0300 {
            SessionKeys {
                signing: key16(kdf(session_key, b"SMB2AESCMAC\0", b"SmbSign\0", 128)),
                encryption: cut(kdf(session_key, b"SMB2AESCCM\0", b"ServerOut\0", bits)),
                decryption: cut(kdf(session_key, b"SMB2AESCCM\0", b"ServerIn \0", bits)),
                application: key16(kdf(session_key, b"SMB2APP\0", b"SmbRpc\0", 128)),
            }
        } else {
            SessionKeys {
                signing: *session_key,
                encryption: vec![0; 16],
                decryption: vec![0; 16],
                application: *session_key,
            }
        }
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
    fn cmac_rfc4493_example_2() {
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let mut mac = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(&key).unwrap();
        mac.update(&hex("6bc1bee22e409f96e93d7e117393172a"));
        assert_eq!(
            mac.finalize().into_bytes().to_vec(),
            hex("070a16b46b4d4144f79bdd9dd04a287c")
        );
    }

    #[test]
    fn kdf_is_sp800_108_counter_mode() {
        // One block: HMAC-SHA256(K, 00000001 || label || 00 || ctx || 00000080)[..16].
        let k = [7u8; 16];
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&k).unwrap();
        mac.update(&[0, 0, 0, 1]);
        mac.update(b"SMB2AESCMAC\0");
        mac.update(&[0]);
        mac.update(b"SmbSign\0");
        mac.update(&[0, 0, 0, 128]);
        let want = mac.finalize().into_bytes()[..16].to_vec();
        assert_eq!(kdf(&k, b"SMB2AESCMAC\0", b"SmbSign\0", 128), want);
        assert_eq!(kdf(&k, b"x", b"y", 256).len(), 32);
    }

    #[test]
    fn encryption_round_trips_and_detects_tampering() {
        for cipher in [Cipher::Aes128Ccm, Cipher::Aes128Gcm] {
            let key = [3u8; 16];
            let nonce = [9u8; 16];
            let mut data = b"an SMB2 message".to_vec();
            let tag = encrypt(cipher, &key, &nonce, b"aad", &mut data);
            assert_ne!(&data[..], b"an SMB2 message");
            let mut copy = data.clone();
            decrypt(cipher, &key, &nonce, b"aad", &mut copy, &tag).unwrap();
            assert_eq!(&copy[..], b"an SMB2 message");
            data[0] ^= 1;
            assert!(decrypt(cipher, &key, &nonce, b"aad", &mut data, &tag).is_err());
        }
    }

    #[test]
    fn signing_ignores_the_signature_field_and_verifies() {
        let mut msg = vec![0u8; 80];
        msg[..4].copy_from_slice(&crate::wire::header::PROTOCOL_ID);
        for algo in [
            SigningAlgo::HmacSha256,
            SigningAlgo::AesCmac,
            SigningAlgo::AesGmac,
        ] {
            let key = [5u8; 16];
            let sig = signature(algo, &key, &msg, false);
            msg[48..64].copy_from_slice(&sig);
            assert!(verify(algo, &key, &msg, false));
            assert_eq!(signature(algo, &key, &msg, false), sig);
            msg[70] ^= 1;
            assert!(!verify(algo, &key, &msg, false));
            msg[70] ^= 1;
        }
    }
}

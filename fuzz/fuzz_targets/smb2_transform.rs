#![no_main]
//! The SMB3 TRANSFORM_HEADER in front of encrypted messages: parse -> emit
//! -> parse equality, then the AEAD wrappers: the message as sent fails
//! cleanly (no key), and what we encrypt with its nonce decrypts back.

use libfuzzer_sys::fuzz_target;
use smbd::conn::transform::{AAD, LEN, TransformHeader};
use smbd::crypto::{self, Cipher};

const KEY: [u8; 16] = *b"0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(t) = TransformHeader::parse(data) else {
        return;
    };
    let mut again = t.emit().to_vec();
    again.extend_from_slice(&data[LEN..]);
    assert_eq!(TransformHeader::parse(&again).unwrap(), t);
    for cipher in [Cipher::Aes128Ccm, Cipher::Aes128Gcm] {
        let mut plain = data[LEN..].to_vec();
        let _ = crypto::decrypt(cipher, &KEY, &t.nonce, &data[AAD], &mut plain, &t.signature);
        let mut sealed = data[LEN..].to_vec();
        let tag = crypto::encrypt(cipher, &KEY, &t.nonce, &data[AAD], &mut sealed);
        crypto::decrypt(cipher, &KEY, &t.nonce, &data[AAD], &mut sealed, &tag).unwrap();
        assert_eq!(sealed, &data[LEN..]);
    }
});

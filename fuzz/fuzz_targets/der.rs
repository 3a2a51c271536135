#![no_main]
//! The DER reader under SPNEGO: every element, at every depth it allows,
//! is re-encoded and read back with the same tag and contents.

use libfuzzer_sys::fuzz_target;
use smbd::auth::der::{Der, encode};

fn walk(mut d: Der<'_>) {
    while !d.is_empty() {
        let Ok(tlv) = d.read() else {
            return;
        };
        let enc = encode(tlv.tag, tlv.content);
        let mut again = Der::new(&enc);
        let back = again.read().unwrap();
        assert_eq!((back.tag, back.content), (tlv.tag, tlv.content));
        again.finish().unwrap();
        if tlv.tag & 0x20 != 0 {
            if let Ok(inner) = tlv.inner() {
                walk(inner);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(Der::new(data));
});

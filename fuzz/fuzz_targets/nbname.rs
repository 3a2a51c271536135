#![no_main]
//! common::netbios::NbName::decode and decode_exact at every offset of the
//! input (compression pointers point back into it); a decoded name encodes
//! and decodes to itself.

use common::netbios::NbName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for at in 0..data.len().min(64) {
        for exact in [false, true] {
            let r = if exact {
                NbName::decode_exact(data, at)
            } else {
                NbName::decode(data, at)
            };
            let Ok((name, end)) = r else {
                continue;
            };
            assert!(end > at && end <= data.len());
            let mut out = Vec::new();
            name.encode(&mut out);
            assert_eq!(out.len(), name.encoded_len());
            let (again, used) = if exact {
                NbName::decode_exact(&out, 0)
            } else {
                NbName::decode(&out, 0)
            }
            .expect("our own encoding decodes");
            assert_eq!((again, used), (name, out.len()));
        }
    }
});

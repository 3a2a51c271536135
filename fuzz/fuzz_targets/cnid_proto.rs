#![no_main]
//! The native CNID protocol's messages (bincode): the first byte picks
//! the message type, decoded from the rest; decode -> encode -> decode
//! equality.

use common::cnid::proto::{FromDbd, Reply, Request, ToDbd};
use common::codec::{decode, encode};
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($t:ty, $bytes:expr) => {
        if let Ok(v) = decode::<$t>($bytes) {
            let enc = encode(&v).unwrap();
            assert_eq!(decode::<$t>(&enc).unwrap(), v);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, msg)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => round_trip!(Request, msg),
        1 => round_trip!(Reply, msg),
        2 => round_trip!(ToDbd, msg),
        _ => round_trip!(FromDbd, msg),
    }
});

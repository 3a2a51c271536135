#![no_main]
//! The split of an SMB2 message into the elements of its compound
//! (NextCommand chains), and each element's header: parse -> emit -> parse.

use libfuzzer_sys::fuzz_target;
use smbd::conn::{MAX_COMPOUND, split_compound};
use smbd::wire::header::{HEADER_LEN, Header};

fuzz_target!(|data: &[u8]| {
    let Ok(elements) = split_compound(data) else {
        return;
    };
    assert!(!elements.is_empty() && elements.len() <= MAX_COMPOUND);
    // The elements tile the message, in order.
    let total: usize = elements.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(total, data.len());
    for (h, msg) in &elements {
        assert!(msg.len() >= HEADER_LEN);
        assert_eq!(&Header::parse(msg).unwrap(), h);
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(&Header::parse(&out).unwrap(), h);
        smbd_fuzz::parse_request(h, msg);
    }
});

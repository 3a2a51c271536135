#![no_main]
//! The split of an SMB2 message into the elements of its compound
//! (NextCommand chains), and each element's header: parse -> emit -> parse.

use libfuzzer_sys::fuzz_target;
use smbd::wire::header::{HEADER_LEN, Header, MAX_COMPOUND, split_compound};

fuzz_target!(|data: &[u8]| {
    let Ok(elements) = split_compound(data) else {
        return;
    };
    assert!(!elements.is_empty() && elements.len() <= MAX_COMPOUND);
    // The elements tile the message, in order.
    let mut at = 0;
    for (_, r) in &elements {
        assert_eq!(r.start, at);
        at = r.end;
    }
    assert_eq!(at, data.len());
    for (h, r) in &elements {
        let msg = &data[r.clone()];
        assert!(msg.len() >= HEADER_LEN);
        assert_eq!(&Header::parse(msg).unwrap(), h);
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(&Header::parse(&out).unwrap(), h);
        smbd_fuzz::parse_request(h, msg);
    }
});

#![no_main]
//! NEGOTIATE request parser with its negotiate contexts; the input is the
//! body after the SMB2 header. Each context has an encoder: emit -> parse
//! must give it back.

use libfuzzer_sys::fuzz_target;
use smbd::cmd::negotiate::{MAX_CONTEXTS, MAX_DIALECTS, emit_context, parse, parse_context};

fuzz_target!(|body: &[u8]| {
    let Ok(n) = parse(&smbd_fuzz::smb2_msg(body)) else {
        return;
    };
    assert!(!n.dialects.is_empty() && n.dialects.len() <= MAX_DIALECTS);
    assert!(n.contexts.len() <= MAX_CONTEXTS);
    for c in &n.contexts {
        let mut out = Vec::new();
        emit_context(c, &mut out);
        let kind = u16::from_le_bytes([out[0], out[1]]);
        let len = usize::from(u16::from_le_bytes([out[2], out[3]]));
        assert_eq!(out.len(), 8 + len);
        assert_eq!(&parse_context(kind, &out[8..]).unwrap(), c);
    }
});

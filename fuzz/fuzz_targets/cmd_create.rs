#![no_main]
//! CREATE request parser with its create contexts; the input is the body
//! after the SMB2 header. Contexts have an encoder (used for responses):
//! parse -> emit -> parse must give them back.

use libfuzzer_sys::fuzz_target;
use smbd::cmd::create::{emit_contexts, parse, parse_contexts};

fuzz_target!(|body: &[u8]| {
    let Ok(c) = parse(&smbd_fuzz::smb2_msg(body)) else {
        return;
    };
    let mut out = Vec::new();
    emit_contexts(&c.contexts, &mut out);
    assert_eq!(parse_contexts(&out).unwrap(), c.contexts);
});

#![no_main]
//! A create context chain on its own (CreateContextsOffset/Length already
//! resolved): parse -> emit -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::cmd::create::{MAX_CONTEXTS, emit_contexts, parse_contexts};

fuzz_target!(|data: &[u8]| {
    let Ok(ctxs) = parse_contexts(data) else {
        return;
    };
    assert!(ctxs.len() <= MAX_CONTEXTS);
    let mut out = Vec::new();
    emit_contexts(&ctxs, &mut out);
    assert_eq!(parse_contexts(&out).unwrap(), ctxs);
});

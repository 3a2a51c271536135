#![no_main]
//! RAP NetServerEnum2/3 request parameters (nmbd::sync::rap): parse ->
//! emit -> parse. Emission upper-cases the domain, so the first emission
//! normalises; from there on the request survives emit -> parse unchanged.

use libfuzzer_sys::fuzz_target;
use nmbd::sync::rap::NetServerEnumRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = NetServerEnumRequest::parse(data) else {
        return;
    };
    let Ok(bytes) = r.emit() else {
        return;
    };
    let again = NetServerEnumRequest::parse(&bytes).expect("our own emission parses");
    assert_eq!(again.emit().expect("emits again"), bytes);
    assert_eq!(NetServerEnumRequest::parse(&bytes).expect("parses"), again);
});

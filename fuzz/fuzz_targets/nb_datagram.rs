#![no_main]
//! nmbd's datagram service header (UDP 138): parse -> emit -> parse.

use libfuzzer_sys::fuzz_target;
use nmbd::wire::dgram::Datagram;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = Datagram::parse(data) else {
        return;
    };
    let bytes = d.to_vec();
    assert_eq!(bytes.len(), d.buffer_len());
    let mut buf = vec![0xa5u8; bytes.len()];
    assert_eq!(d.emit(&mut buf).expect("emit"), bytes.len());
    assert_eq!(buf, bytes);
    assert_eq!(Datagram::parse(&bytes).expect("our own emission parses"), d);
});

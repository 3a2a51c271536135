#![no_main]
//! The SMB1 Transaction mailslot write carried in datagram user data:
//! parse -> emit -> parse.

use libfuzzer_sys::fuzz_target;
use nmbd::wire::dgram::MailslotWrite;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = MailslotWrite::parse(data) else {
        return;
    };
    let bytes = m.to_vec();
    assert_eq!(bytes.len(), m.buffer_len());
    assert_eq!(MailslotWrite::parse(&bytes).expect("our own emission parses"), m);
});

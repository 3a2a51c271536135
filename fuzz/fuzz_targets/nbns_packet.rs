#![no_main]
//! nmbd's name service codec (UDP 137): any datagram -> Packet; what
//! parses is emitted again (unless over the 576-byte limit) and must parse
//! to the same Packet; the Message view must not panic either.

use libfuzzer_sys::fuzz_target;
use nmbd::wire::nbns::{Message, NbnsError, Packet};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Packet::parse(data) else {
        return;
    };
    let _ = Message::from_packet(p.clone());
    match p.to_bytes() {
        Ok(bytes) => {
            let again = Packet::parse(&bytes).expect("our own emission parses");
            assert_eq!(again, p);
            let mut buf = vec![0xa5u8; bytes.len()];
            assert_eq!(p.emit(&mut buf), Ok(bytes.len()));
            assert_eq!(buf, bytes);
        }
        Err(NbnsError::TooLong(_)) => {}
        Err(e) => panic!("emit failed: {e}"),
    }
});

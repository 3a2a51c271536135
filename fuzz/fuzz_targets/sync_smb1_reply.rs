#![no_main]
//! Replies a browse-list sync reads from a peer (nmbd::sync::smb1): the
//! input is a sequence of SMB1 messages (u16-length-prefixed pieces), each
//! run through every reply parser; TRANSACTION parts are reassembled and a
//! complete reply parsed as NetServerEnum. The reassembled reply never
//! exceeds what the request allowed.

use libfuzzer_sys::fuzz_target;
use nmbd::sync::rap::NetServerEnumResponse;
use nmbd::sync::smb1::{
    Message, NegotiateResponse, SessionResponse, SessionSetupResponse, TransactionAssembly,
    TransactionPart, TreeConnectResponse,
};

fuzz_target!(|data: &[u8]| {
    if let [kind, rest @ ..] = data {
        let _ = SessionResponse::parse(*kind, rest);
    }
    let mut assembly = TransactionAssembly::new(8, 0xffff);
    for piece in smbd_fuzz::pieces(data) {
        let Ok(m) = Message::parse(piece) else {
            continue;
        };
        let _ = NegotiateResponse::parse(&m);
        let _ = SessionSetupResponse::parse(&m);
        let _ = TreeConnectResponse::parse(&m);
        let Ok(part) = TransactionPart::parse(&m) else {
            continue;
        };
        match assembly.add(&part) {
            Ok(true) => {
                assert!(assembly.params.len() <= 8 && assembly.data.len() <= 0xffff);
                let _ = NetServerEnumResponse::parse(&assembly.params, &assembly.data);
                assembly = TransactionAssembly::new(8, 0xffff);
            }
            Ok(false) => {}
            Err(_) => assembly = TransactionAssembly::new(8, 0xffff),
        }
    }
});

#![no_main]
//! Connection-oriented DCE/RPC PDUs. The whole input is framed as a PDU
//! (header, body, auth verifier); then the first byte picks a body parser
//! (BIND/ALTER_CONTEXT, BIND_ACK, BIND_NAK, REQUEST, RESPONSE, FAULT) for
//! the rest, and each must round-trip: parse -> emit -> parse.

use libfuzzer_sys::fuzz_target;
use smbd::dcerpc::pdu::{Bind, BindAck, BindNak, Fault, Frame, Header, Request, Response, pfc};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data) {
        // We emit little-endian only; a big-endian header is read but
        // never sent back.
        if h.drep[0] & 0xf0 == 0x10 {
            assert_eq!(Header::parse(&h.emit()).unwrap(), h);
        }
    }
    if let Ok(f) = Frame::parse(data) {
        assert_eq!(16 + f.body.len() + f.auth.len(), data.len());
    }
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Ok(b) = Bind::parse(body) {
                assert_eq!(Bind::parse(&b.emit()).unwrap(), b);
            }
        }
        1 => {
            if let Ok(b) = BindAck::parse(body) {
                assert_eq!(BindAck::parse(&b.emit()).unwrap(), b);
            }
        }
        2 => {
            if let Ok(b) = BindNak::parse(body) {
                assert_eq!(BindNak::parse(&b.emit()).unwrap(), b);
            }
        }
        3 => {
            let flags = if which & 0x80 != 0 {
                pfc::OBJECT_UUID
            } else {
                0
            };
            if let Ok(r) = Request::parse(flags, body) {
                assert_eq!(Request::parse(flags, &r.emit()).unwrap(), r);
            }
        }
        4 => {
            if let Ok(r) = Response::parse(body) {
                assert_eq!(Response::parse(&r.emit()).unwrap(), r);
            }
        }
        _ => {
            if let Ok(f) = Fault::parse(body) {
                assert_eq!(Fault::parse(&f.emit()).unwrap(), f);
            }
        }
    }
});

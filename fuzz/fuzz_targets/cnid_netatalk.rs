#![no_main]
//! The netatalk CNID wire format (afpd <-> cnid_metad/cnid_dbd): the first
//! byte picks request, reply or the metad hand-off, parsed from the rest;
//! parse -> emit -> parse equality.

use common::cnid::netatalk::{Handoff, Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, msg)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(r) = Request::parse(msg) {
                let mut out = Vec::new();
                r.emit(&mut out);
                assert_eq!(Request::parse(&out).unwrap(), r);
            }
        }
        1 => {
            if let Ok(r) = Reply::parse(msg) {
                let mut out = Vec::new();
                r.emit(&mut out);
                assert_eq!(Reply::parse(&out).unwrap(), r);
            }
        }
        _ => {
            if let Ok((h, used)) = Handoff::parse(msg) {
                assert!(used <= msg.len());
                let mut out = Vec::new();
                h.emit(&mut out);
                let (back, n) = Handoff::parse(&out).unwrap();
                assert_eq!((back, n), (h, out.len()));
            }
        }
    }
});

#![no_main]
//! wkssvc NDR stubs: NetWkstaGetInfo request (first byte even) or
//! response (odd), parse -> emit -> parse; a request also runs the call,
//! whose answer must decode.

use libfuzzer_sys::fuzz_target;
use smbd::dcerpc::wkssvc::{NetWkstaGetInfoIn, NetWkstaGetInfoOut, call, opnum};

fuzz_target!(|data: &[u8]| {
    let Some((&which, stub)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        if let Ok(v) = NetWkstaGetInfoIn::parse(stub) {
            assert_eq!(NetWkstaGetInfoIn::parse(&v.emit()).unwrap(), v);
            let out = call(&smbd_fuzz::snapshot(), opnum::NET_WKSTA_GET_INFO, stub).unwrap();
            NetWkstaGetInfoOut::parse(&out).unwrap();
        }
    } else if let Ok(v) = NetWkstaGetInfoOut::parse(stub) {
        assert_eq!(NetWkstaGetInfoOut::parse(&v.emit()).unwrap(), v);
    }
});

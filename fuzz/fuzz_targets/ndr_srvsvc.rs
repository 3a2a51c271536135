#![no_main]
//! srvsvc NDR stubs. The first byte picks one of the six codecs
//! (NetShareEnumAll, NetShareGetInfo, NetSrvGetInfo; request and response)
//! for the rest, which must round-trip: parse -> emit -> parse. Requests
//! also run the call itself, whose answer must decode.

use libfuzzer_sys::fuzz_target;
use smbd::dcerpc::srvsvc::{
    NetShareEnumAllIn, NetShareEnumAllOut, NetShareGetInfoIn, NetShareGetInfoOut, NetSrvGetInfoIn,
    NetSrvGetInfoOut, call, opnum,
};

macro_rules! round_trip {
    ($t:ty, $stub:expr) => {
        match <$t>::parse($stub) {
            Ok(v) => {
                assert_eq!(<$t>::parse(&v.emit()).unwrap(), v);
                true
            }
            Err(_) => false,
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, stub)) = data.split_first() else {
        return;
    };
    let snapshot = smbd_fuzz::snapshot();
    match which % 6 {
        0 => {
            if round_trip!(NetShareEnumAllIn, stub) {
                let out = call(&snapshot, opnum::NET_SHARE_ENUM_ALL, stub).unwrap();
                NetShareEnumAllOut::parse(&out).unwrap();
            }
        }
        1 => drop(round_trip!(NetShareEnumAllOut, stub)),
        2 => {
            if round_trip!(NetShareGetInfoIn, stub) {
                let out = call(&snapshot, opnum::NET_SHARE_GET_INFO, stub).unwrap();
                NetShareGetInfoOut::parse(&out).unwrap();
            }
        }
        3 => drop(round_trip!(NetShareGetInfoOut, stub)),
        4 => {
            if round_trip!(NetSrvGetInfoIn, stub) {
                let out = call(&snapshot, opnum::NET_SRV_GET_INFO, stub).unwrap();
                NetSrvGetInfoOut::parse(&out).unwrap();
            }
        }
        _ => drop(round_trip!(NetSrvGetInfoOut, stub)),
    }
});

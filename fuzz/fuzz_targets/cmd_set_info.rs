#![no_main]
//! SET_INFO request parser with the information buffers it decodes
//! (rename/link, disposition, EA lists, security descriptors, ...); the
//! input is the body after the SMB2 header. The buffers that have an
//! encoder must come back equal: parse -> encode -> parse.

use libfuzzer_sys::fuzz_target;
use smbd::ntvfs::info::SetFileInfo;
use smbd::wire::info::{encode_ea_list, encode_sd, parse_ea_list, parse_sd};

fuzz_target!(|body: &[u8]| {
    let Ok(s) = smbd::cmd::set_info::parse(&smbd_fuzz::smb2_msg(body)) else {
        return;
    };
    match s.info {
        SetFileInfo::FullEa(eas) => {
            let mut out = Vec::new();
            encode_ea_list(&eas, &mut out);
            assert_eq!(parse_ea_list(&out).unwrap(), eas);
        }
        SetFileInfo::Security { descriptor, .. } => {
            let mut out = Vec::new();
            encode_sd(&descriptor, &mut out);
            assert_eq!(parse_sd(&out).unwrap(), descriptor);
        }
        _ => {}
    }
});

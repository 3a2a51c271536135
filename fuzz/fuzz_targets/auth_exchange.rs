#![no_main]
//! A whole SESSION_SETUP authentication exchange: the server's state
//! machine (SPNEGO, NTLMSSP, NTLMv2 check, MIC, mechListMIC) fed a
//! sequence of security blobs. The first byte picks the guest policy
//! (value % 3), whether the password database knows "root" (bit 6 clear)
//! and whether null sessions are allowed (bit 7); the rest is
//! u16-length-prefixed blobs (see `smbd_fuzz::pieces`).

use libfuzzer_sys::fuzz_target;
use smbd::auth::{AuthConfig, GuestPolicy, PassDb, ServerAuth, Step};

/// A fixed server challenge: the fuzzer's runs must be reproducible.
const CHALLENGE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let cfg = AuthConfig {
        netbios_name: "FUZZ".into(),
        workgroup: "WORKGROUP".into(),
        dns_domain: String::new(),
        map_to_guest: match mode % 3 {
            0 => GuestPolicy::Never,
            1 => GuestPolicy::BadUser,
            _ => GuestPolicy::BadPassword,
        },
        allow_anonymous: mode & 0x80 != 0,
    };
    let mut db = PassDb::empty("/nonexistent/smbpasswd");
    if mode & 0x40 == 0 {
        db.set_password("root", 0, "secret").unwrap();
    }
    let mut auth = ServerAuth::with_challenge(cfg, CHALLENGE, 0x01d9_7989_5f0a_c602);
    for blob in smbd_fuzz::pieces(rest) {
        match auth.step(blob, &db) {
            Ok(Step::Continue(_)) => {}
            Ok(Step::Done(..)) | Err(_) => {
                // Finished: every further step is refused.
                assert!(auth.step(blob, &db).is_err());
                let _ = auth.reject_token();
                return;
            }
        }
    }
});

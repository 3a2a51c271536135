#![no_main]
//! MS-BRWS browser frames (the mailslot payload): parse -> emit -> parse.
//! Emission cuts over-long names and comments to their fields (browse.rs),
//! so the first emission normalises: from there on the frame must survive
//! emit -> parse -> emit unchanged.

use libfuzzer_sys::fuzz_target;
use nmbd::wire::browse::BrowseFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = BrowseFrame::parse(data) else {
        return;
    };
    let bytes = f.to_vec();
    let again = BrowseFrame::parse(&bytes).expect("our own emission parses");
    assert_eq!(again.to_vec(), bytes);
    assert_eq!(BrowseFrame::parse(&again.to_vec()).expect("parses"), again);
});

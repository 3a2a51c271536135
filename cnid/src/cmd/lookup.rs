//! `cnid VOLUME lookup PATH`: prints the id of PATH, or fails with "not
//! found". Like every CNID lookup it repairs stale records it meets.

use std::path::Path;

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool, path: &Path) -> Result<(), Failure> {
    let id = t.path_id(path, false).await?.ok_or(Failure::NotFound)?;
    println!("{id}");
    Ok(())
}

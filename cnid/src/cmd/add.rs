//! `cnid VOLUME add PATH`: prints the id of PATH, adding it and its parent
//! directories when the database does not know them.

use std::path::Path;

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool, path: &Path) -> Result<(), Failure> {
    let id = t.path_id(path, true).await?.ok_or(Failure::NotFound)?;
    println!("{id}");
    Ok(())
}

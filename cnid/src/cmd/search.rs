//! `cnid VOLUME search PREFIX`: records whose name starts with PREFIX,
//! ignoring case, as dump lines.

use std::ffi::OsString;

use common::cnid::proto::MAX_SEARCH;

use super::{Tool, name_arg};
use crate::Failure;

pub async fn run(t: &mut Tool, prefix: OsString) -> Result<(), Failure> {
    let prefix = name_arg(prefix)?;
    let found = t.client.search(&prefix, MAX_SEARCH).await?;
    if found.is_empty() {
        return Err(Failure::NotFound);
    }
    for r in found {
        println!("{r}");
    }
    Ok(())
}

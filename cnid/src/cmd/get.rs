//! `cnid VOLUME get DID NAME`: prints the id of NAME in directory DID.

use std::ffi::OsString;

use common::cnid::Cnid;

use super::{Tool, name_arg};
use crate::Failure;

pub async fn run(t: &mut Tool, did: Cnid, name: OsString) -> Result<(), Failure> {
    let name = name_arg(name)?;
    let id = t.client.get(did, &name).await?.ok_or(Failure::NotFound)?;
    println!("{id}");
    Ok(())
}

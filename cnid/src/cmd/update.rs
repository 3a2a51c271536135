//! `cnid VOLUME update ID PATH`: makes ID stand for the file now at PATH
//! (a move or rename done behind the database's back).

use std::path::Path;

use common::cnid::{Cnid, CnidError};

use super::Tool;
use crate::Failure;
use crate::walk;

pub async fn run(t: &mut Tool, id: Cnid, path: &Path) -> Result<(), Failure> {
    let names = walk::components(&t.volume, path)?;
    let Some((last, parents)) = names.split_last() else {
        return Err(CnidError::InvalidArgument("the volume root keeps id 2".into()).into());
    };
    let did = t.dir_id(parents, true).await?.ok_or(Failure::NotFound)?;
    let entry = walk::entry_at(&walk::join(&t.volume, &names), did, last)?;
    t.client.update(id, &entry).await?;
    Ok(())
}

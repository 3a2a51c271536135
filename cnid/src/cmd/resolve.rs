//! `cnid VOLUME resolve ID`: prints the parent directory id and the name.
//! The volume root (2) is not stored; its parent is 1 and its name the
//! volume directory's.

use common::cnid::Cnid;

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool, id: Cnid) -> Result<(), Failure> {
    if id == Cnid::ROOT {
        let name = t
            .volume
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        println!(
            "{} {}",
            Cnid::PARENT_OF_ROOT,
            name.unwrap_or_else(|| "/".into())
        );
        return Ok(());
    }
    let (did, name) = t.client.resolve(id).await?.ok_or(Failure::NotFound)?;
    println!("{did} {name}");
    Ok(())
}

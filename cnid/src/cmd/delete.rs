//! `cnid VOLUME delete ID`.

use common::cnid::Cnid;

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool, id: Cnid) -> Result<(), Failure> {
    if t.client.delete(id).await? {
        Ok(())
    } else {
        Err(Failure::NotFound)
    }
}

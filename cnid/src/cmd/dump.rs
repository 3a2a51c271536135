//! `cnid VOLUME dump`: every record, one line each: id did type dev ino name
//! (names escaped so each record stays on one line).

use std::io::Write;

use common::cnid::Cnid;
use common::cnid::proto::MAX_DUMP;

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut after = Cnid::INVALID;
    loop {
        let batch = t.client.dump(after, MAX_DUMP).await?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = last.id;
        let mut out = stdout.lock();
        for r in &batch {
            if writeln!(out, "{r}").is_err() {
                return Ok(());
            }
        }
    }
}

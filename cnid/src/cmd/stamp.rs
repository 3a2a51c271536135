//! `cnid VOLUME stamp`: the database stamp, 16 hex digits.

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool) -> Result<(), Failure> {
    println!("{}", t.client.stamp().await?);
    Ok(())
}

//! `cnid VOLUME status`: what the serving cnid_dbd reports about itself.

use super::Tool;
use crate::Failure;

pub async fn run(t: &mut Tool) -> Result<(), Failure> {
    let s = t.client.status().await?;
    let p = &s.params;
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    println!("pid {}", s.pid);
    println!("uid {}", s.uid);
    println!("gid {}", s.gid);
    println!("volume {}", show(&s.volume));
    println!("dbdir {}", show(&s.dbdir));
    println!("usock_file {}", show(&s.usock));
    println!("backlog {}", p.backlog);
    println!("cachesize {}", p.cachesize);
    println!("nosync {}", u8::from(p.nosync));
    println!("flush_frequency {}", p.flush_frequency);
    println!("flush_interval {}", p.flush_interval);
    println!("fd_table_size {}", p.fd_table_size);
    println!("idle_timeout {}", p.idle_timeout);
    let names = |v: &[common::dbparam::Principal]| {
        v.iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    println!("allow_users {}", names(&p.allow_users));
    println!("allow_groups {}", names(&p.allow_groups));
    println!("clients {}", s.clients);
    println!("records {}", s.records);
    println!("requests {}", s.requests);
    println!("evictions {}", s.evictions);
    println!("flushes {}", s.flushes);
    println!("uptime {}", s.uptime_secs);
    Ok(())
}

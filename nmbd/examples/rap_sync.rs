//! Pulls the browse lists of a peer as nmbd's sync does and prints them:
//! `rap_sync ADDR:PORT PEERNAME OURNAME WORKGROUP [--local]`
//! (for trying nmbd::sync against a real server, and for the captures in
//! nmbd/tools/capture-samba-rap.sh).

use std::net::SocketAddrV4;
use std::time::Duration;

use nmbd::sync::{SyncRequest, sync_lists};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: rap_sync ADDR:PORT PEERNAME OURNAME WORKGROUP [--local]");
        std::process::exit(2);
    }
    let peer: SocketAddrV4 = match args[0].parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rap_sync: {}: {e}", args[0]);
            std::process::exit(2);
        }
    };
    let req = SyncRequest {
        peer,
        called: &args[1],
        called_suffix: 0x20,
        calling: &args[2],
        workgroup: &args[3],
        local_only: args.iter().any(|a| a == "--local"),
        servers: true,
    };
    match sync_lists(&req, Duration::from_secs(30)).await {
        Ok(s) => {
            println!("domain {:?}", s.server_domain);
            for w in &s.workgroups {
                println!(
                    "workgroup {:16} {:08x} {:?}",
                    w.name, w.server_type, w.comment
                );
            }
            for v in &s.servers {
                println!("server {:16} {:08x} {:?}", v.name, v.server_type, v.comment);
            }
        }
        Err(e) => {
            eprintln!("rap_sync: {e}");
            std::process::exit(1);
        }
    }
}

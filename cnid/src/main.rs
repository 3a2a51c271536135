//! cnid: the CNID client and admin tool.
//!
//! ```text
//! cnid [--socket PATH] VOLUME add PATH | lookup PATH | resolve ID | get DID NAME
//!                             update ID PATH | delete ID | search PREFIX | stamp
//!                             dump | scan | check [--repair] | status
//! cnid bench [options]
//! ```
//! Output is made for scripts; errors go to stderr. Exit status: 0 done,
//! 1 not found (or, for check, problems left), 2 any other error.

mod bench;
mod cmd;
mod walk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::cnid::{BlockingClient, ClientConfig, CnidError, paths};

#[derive(Parser, Debug)]
#[command(
    name = "cnid",
    version,
    about = "Query and maintain the CNID database of a volume through cnid_metad",
    after_help = "Paths are relative to the volume root, or absolute inside the volume.\n\
                  Exit status: 0 done, 1 not found (check: problems left), 2 other errors.\n\
                  `cnid bench --help` describes the load generator."
)]
struct Args {
    /// cnid_metad's socket (or a cnid_dbd's own usock_file).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    timeout: u64,
    /// The volume's root directory.
    volume: PathBuf,
    #[command(subcommand)]
    command: cmd::Command,
}

pub enum Failure {
    NotFound,
    /// Already reported on stderr.
    Reported(u8),
    Error(CnidError),
}

impl From<CnidError> for Failure {
    fn from(e: CnidError) -> Self {
        match e {
            CnidError::NotFound => Failure::NotFound,
            e => Failure::Error(e),
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "bench") {
        return bench::main(&argv[1..]);
    }
    if argv.get(1).is_some_and(|a| a == bench::RAW_SERVER) {
        return bench::raw_server_main(&argv[1..]);
    }
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::NotFound) => {
            eprintln!("cnid: not found");
            ExitCode::from(1)
        }
        Err(Failure::Reported(code)) => ExitCode::from(code),
        Err(Failure::Error(e)) => {
            eprintln!("cnid: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let volume = std::fs::canonicalize(&args.volume).map_err(|e| {
        CnidError::InvalidArgument(format!("volume {}: {e}", args.volume.display()))
    })?;
    let socket = args.socket.unwrap_or_else(paths::default_metad_socket);
    let mut cfg = ClientConfig::new(socket, volume.clone());
    cfg.name = "cnid".into();
    cfg.timeout = Duration::from_secs(args.timeout.max(1));
    let client = BlockingClient::connect(cfg).await?;
    let mut tool = cmd::Tool { client, volume };
    cmd::run(&mut tool, args.command).await
}

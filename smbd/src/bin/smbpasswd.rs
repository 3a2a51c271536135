//! smbpasswd: manage smbd's password database with Samba's verbs.
//!
//! ```text
//! smbpasswd [-c FILE] [-s] -a USER    add USER (a Unix account), or set its password
//! smbpasswd [-c FILE] -x USER         delete USER
//! smbpasswd [-c FILE] -d USER         disable USER
//! smbpasswd [-c FILE] -e USER         enable USER
//! ```
//! The database is `<private dir>/smbpasswd` of the smb.conf given with -c
//! (default /etc/samba/smb.conf). With -s the new password is read twice
//! from standard input, one line each, without prompting.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use smbd::auth::PassDb;

#[derive(Parser, Debug)]
#[command(name = "smbpasswd", version, about = "Manage smbd's password database")]
struct Args {
    /// The smb.conf naming the private dir.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = common::smbconf::DEFAULT_PATH)]
    config: PathBuf,
    /// Read the new password from stdin (twice), without prompting.
    #[arg(short = 's')]
    stdin: bool,
    /// Add the user (or set its password).
    #[arg(short = 'a', group = "verb")]
    add: bool,
    /// Delete the user.
    #[arg(short = 'x', group = "verb")]
    delete: bool,
    /// Disable the user.
    #[arg(short = 'd', group = "verb")]
    disable: bool,
    /// Enable the user.
    #[arg(short = 'e', group = "verb")]
    enable: bool,
    user: String,
}

fn read_password(stdin_mode: bool) -> Result<String, String> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |prompt: &str| -> Result<String, String> {
        if !stdin_mode && std::io::stdin().is_terminal() {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        match lines.next() {
            Some(Ok(l)) => Ok(l.trim_end_matches('\r').to_string()),
            Some(Err(e)) => Err(format!("cannot read the password: {e}")),
            None => Err("no password given on standard input".into()),
        }
    };
    let first = ask("New SMB password:")?;
    let second = ask("Retype new SMB password:")?;
    if first != second {
        return Err("mismatch - password unchanged".into());
    }
    Ok(first)
}

fn run(args: Args) -> Result<String, String> {
    let (conf, _warnings) = common::smbconf::load(&args.config, &[]).map_err(|e| e.to_string())?;
    let path = conf.global.private_dir.join("smbpasswd");
    if !(args.add || args.delete || args.disable || args.enable) {
        return Err("say what to do: -a, -x, -d or -e".into());
    }
    let mut db = PassDb::load(&path).map_err(|e| e.to_string())?;
    let msg = if args.add {
        let user = nix::unistd::User::from_name(&args.user)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "user {} has no Unix account; create it first (useradd)",
                    args.user
                )
            })?;
        let password = read_password(args.stdin)?;
        let existed = db.lookup(&args.user).is_some();
        db.set_password(&args.user, user.uid.as_raw(), &password)
            .map_err(|e| e.to_string())?;
        if existed {
            format!("Password changed for user {}.", args.user)
        } else {
            format!("Added user {}.", args.user)
        }
    } else if args.delete {
        if !db.remove(&args.user) {
            return Err(format!(
                "user {} is not in the password database",
                args.user
            ));
        }
        format!("Deleted user {}.", args.user)
    } else {
        let on = args.disable;
        db.set_disabled(&args.user, on).map_err(|e| e.to_string())?;
        format!(
            "{} user {}.",
            if on { "Disabled" } else { "Enabled" },
            args.user
        )
    };
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    }
    db.save().map_err(|e| e.to_string())?;
    Ok(msg)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smbpasswd: {e}");
            ExitCode::FAILURE
        }
    }
}

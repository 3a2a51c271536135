//! smbd driven by Debian's smbclient (Samba 4.17), the way an admin and a
//! user would: file operations for a user and for guest on every dialect,
//! signed and encrypted, large files byte for byte, share listing, and the
//! smb.conf rules (read only, valid/invalid users, masks, guest mapping,
//! signing, protocol limits), smbpasswd's verbs, and Unix permissions per
//! user. Every test starts its own smbd on a free port in a scratch
//! directory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use system_tests::*;

const PASSWORD: &str = "Pass-w0rd";

/// The dialect names smbclient's -m takes, oldest first.
const DIALECTS: [&str; 5] = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"];

/// A scratch directory with an smbd serving shares from it.
struct Env {
    scratch: Scratch,
    smbd: Smbd,
}

impl Env {
    /// `shares` are (name, extra lines); each share's directory is
    /// `<scratch>/<name>`, mode 0777 so guest and test users can write.
    fn new(global: &str, shares: &[(&str, &str)]) -> Env {
        let scratch = Scratch::new();
        let mut text = String::new();
        for (name, extra) in shares {
            let dir = scratch.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            text.push_str(&format!("[{name}]\n  path = {}\n{extra}\n", dir.display()));
        }
        std::fs::create_dir_all(scratch.path().join("local")).unwrap();
        std::fs::create_dir_all(scratch.path().join("smbd")).unwrap();
        let smbd = Smbd::start(&scratch.path().join("smbd"), global, &text);
        Env { scratch, smbd }
    }

    fn share(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// A path for the client's own files.
    fn local(&self, name: &str) -> PathBuf {
        self.scratch.path().join("local").join(name)
    }

    /// Runs smbclient against `share` with `args` (auth, dialect,
    /// protection) and the `-c` command string; stdout and stderr together.
    fn run(&self, share: &str, args: &[&str], cmds: &str) -> Ran {
        let mut all = args.to_vec();
        if !cmds.is_empty() {
            all.push("-c");
            all.push(cmds);
        }
        Ran::from(self.smbd.smbclient(share, &all))
    }

    fn list(&self, args: &[&str]) -> Ran {
        Ran::from(
            Command::new("smbclient")
                .arg("-L")
                .arg("//127.0.0.1")
                .arg("-p")
                .arg(self.smbd.port.to_string())
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("smbclient runs"),
        )
    }
}

/// What an smbclient run printed, and whether every command succeeded.
struct Ran {
    ok: bool,
    out: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            ok: o.status.success(),
            out: format!("{}{}", stdout(&o), stderr(&o)),
        }
    }
}

impl Ran {
    /// Every command succeeded (for runs with -d, whose debug output names
    /// NT_STATUS codes as a matter of course).
    #[track_caller]
    fn succeeded(self, what: &str) -> String {
        assert!(self.ok, "{what} failed:\n{}", self.out);
        self.out
    }

    /// Every command succeeded and printed no error.
    #[track_caller]
    fn must(self, what: &str) -> String {
        assert!(self.ok, "{what} failed:\n{}", self.out);
        assert!(
            !self.out.contains("NT_STATUS_"),
            "{what} printed an error:\n{}",
            self.out
        );
        self.out
    }

    /// A command failed with `status` (smbclient's exit code is no guide:
    /// a failed mkdir or rm still exits 0).
    #[track_caller]
    fn fails_with(self, status: &str, what: &str) -> String {
        assert!(
            self.out.contains(status),
            "{what} should fail with {status}:\n{}",
            self.out
        );
        self.out
    }
}

fn user_auth() -> String {
    format!("{}%{PASSWORD}", whoami())
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures replay.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Compares two files chunk by chunk and names the first differing offset.
#[track_caller]
fn same_file(a: &Path, b: &Path) {
    use std::io::Read;
    let (ma, mb) = (std::fs::metadata(a).unwrap(), std::fs::metadata(b).unwrap());
    assert_eq!(
        ma.len(),
        mb.len(),
        "{} and {} differ in size",
        a.display(),
        b.display()
    );
    let mut fa = std::io::BufReader::new(std::fs::File::open(a).unwrap());
    let mut fb = std::io::BufReader::new(std::fs::File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut off = 0u64;
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            break;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            let i = ba[..n]
                .iter()
                .zip(&bb[..n])
                .position(|(x, y)| x != y)
                .unwrap();
            panic!(
                "{} and {} differ at byte {}",
                a.display(),
                b.display(),
                off + i as u64
            );
        }
        off += n as u64;
    }
}

/// The `ls` line for `name`: (attributes, size).
fn ls_entry(out: &str, name: &str) -> Option<(String, u64)> {
    out.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(name)?;
        // Name, blanks, attribute letters, blanks, size, date.
        let mut words = rest.split_whitespace();
        let first = words.next()?;
        let (attrs, size) = match first.parse::<u64>() {
            Ok(n) => (String::new(), n),
            Err(_) => (first.to_string(), words.next()?.parse().ok()?),
        };
        rest.starts_with(' ').then_some((attrs, size))
    })
}

/// `allinfo` printed sensible fields for a file of `size` bytes.
#[track_caller]
fn check_allinfo(out: &str, size: u64, dir: bool, altname: &dyn Fn(&str) -> bool) {
    let field = |k: &str| -> &str {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::trim)
            .unwrap_or_else(|| panic!("allinfo has no {k}:\n{out}"))
    };
    let alt = field("altname:");
    assert!(altname(alt), "altname {alt:?}:\n{out}");
    let year = {
        // The year of "now" as allinfo prints times (UTC).
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let days = secs / 86400;
        // Civil year from days since 1970 (good to the day, enough here).
        let mut y = 1970;
        let mut d = days as i64;
        loop {
            let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                366
            } else {
                365
            };
            if d < len {
                break y;
            }
            d -= len;
            y += 1;
        }
    };
    for k in [
        "create_time:",
        "access_time:",
        "write_time:",
        "change_time:",
    ] {
        let t = field(k);
        assert!(
            t.ends_with(&format!("{year} UTC")),
            "{k} {t:?} is not a time of this year:\n{out}"
        );
    }
    let attrs = field("attributes:");
    if dir {
        assert!(attrs.starts_with('D'), "attributes {attrs:?}:\n{out}");
        assert!(!out.contains("stream: [::$DATA]"), "{out}");
    } else {
        assert!(attrs.starts_with('A'), "attributes {attrs:?}:\n{out}");
        let stream = field("stream:");
        assert_eq!(stream, format!("[::$DATA], {size} bytes"), "{out}");
    }
}

/// An 8.3 name as Samba mangles long names: 8 characters with `~` at 6,
/// upper case, then the extension.
fn mangled(alt: &str, ext: &str) -> bool {
    let (base, e) = alt.split_once('.').unwrap_or((alt, ""));
    base.len() == 8 && base.as_bytes()[6] == b'~' && e == ext && alt == alt.to_uppercase()
}

/// mkdir, put, ls, rename (to a long name), allinfo, get, rm, rmdir as the
/// given logon; checks every step on the server's disk and in smbclient's
/// output. Returns the uid that owned the file on the server.
fn exercise(env: &Env, share: &str, args: &[&str], tag: &str) -> u32 {
    let what = format!("{tag} on //{share}");
    let data = random_bytes(200_000 + tag.len() * 1000, tag.bytes().map(u64::from).sum());
    let src = env.local(&format!("{tag}.src"));
    let back = env.local(&format!("{tag}.back"));
    std::fs::write(&src, &data).unwrap();
    let dir = format!("dir-{tag}");
    let on_disk = env.share(share).join(&dir);

    let out = env
        .run(
            share,
            args,
            &format!(
                "mkdir {dir}; put {} {dir}\\f.bin; ls {dir}\\*",
                src.display()
            ),
        )
        .must(&format!("mkdir/put/ls {what}"));
    assert!(on_disk.is_dir(), "{what}: mkdir left no directory");
    assert_eq!(
        std::fs::read(on_disk.join("f.bin")).unwrap(),
        data,
        "{what}: put"
    );
    let (attrs, size) = ls_entry(&out, "f.bin").unwrap_or_else(|| panic!("{what}: ls:\n{out}"));
    assert_eq!(size, data.len() as u64, "{what}: ls size:\n{out}");
    assert!(attrs.contains('A'), "{what}: ls attributes:\n{out}");
    let owner = std::fs::metadata(on_disk.join("f.bin")).unwrap().uid();

    let out = env
        .run(
            share,
            args,
            &format!(
                "rename {dir}\\f.bin \"{dir}\\Renamed long name.data\"; allinfo \"{dir}\\Renamed long name.data\"; get \"{dir}\\Renamed long name.data\" {}",
                back.display()
            ),
        )
        .must(&format!("rename/allinfo/get {what}"));
    assert!(!on_disk.join("f.bin").exists(), "{what}: rename");
    assert!(
        on_disk.join("Renamed long name.data").is_file(),
        "{what}: rename"
    );
    // The extension is longer than three characters: the short name has none.
    check_allinfo(&out, data.len() as u64, false, &|a| mangled(a, ""));
    assert_eq!(std::fs::read(&back).unwrap(), data, "{what}: get");

    let out = env
        .run(share, args, &format!("allinfo {dir}"))
        .must(&format!("allinfo of a directory {what}"));
    check_allinfo(&out, 0, true, &|a| a == dir || mangled(a, ""));

    let out = env
        .run(
            share,
            args,
            &format!("rm \"{dir}\\Renamed long name.data\"; rmdir {dir}; ls"),
        )
        .must(&format!("rm/rmdir {what}"));
    assert!(!on_disk.exists(), "{what}: rmdir");
    assert!(
        ls_entry(&out, &dir).is_none(),
        "{what}: ls after rmdir:\n{out}"
    );
    owner
}

/// Which dialect smbclient negotiated (from its -d 4 output).
fn negotiated(out: &str) -> Option<String> {
    let i = out.find("negotiated dialect[")? + "negotiated dialect[".len();
    Some(out[i..].split(']').next()?.to_string())
}

/// A Unix account made for one test (as root) and removed when dropped.
struct UnixUser {
    name: String,
    uid: u32,
}

impl UnixUser {
    /// `smbit<pid><tag>`. useradd fails while another one holds the lock
    /// on /etc/passwd (tests run in parallel): it is retried.
    fn create(tag: &str) -> UnixUser {
        let name = format!("smbit{}{tag}", std::process::id());
        let mut last = String::new();
        for _ in 0..100 {
            let o = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/usr/sbin/nologin"])
                .args(["--user-group", &name])
                .output()
                .expect("useradd runs");
            if o.status.success() {
                let uid = nix::unistd::User::from_name(&name)
                    .unwrap()
                    .expect("the new user")
                    .uid
                    .as_raw();
                return UnixUser { name, uid };
            }
            last = stderr(&o);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("useradd {name}: {last}");
    }
}

impl Drop for UnixUser {
    fn drop(&mut self) {
        // userdel also removes the group --user-group made; it too is
        // retried while another test holds the lock.
        for _ in 0..100 {
            match Command::new("userdel").arg(&self.name).output() {
                Ok(o) if o.status.success() || o.status.code() == Some(6) => return,
                Ok(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
                Err(_) => return,
            }
        }
    }
}

/// The user the operations run as: a throwaway Unix account as root (so
/// its files' owner shows it was really that user), else whoever runs the
/// tests.
fn test_user(tag: &str) -> (String, u32, Option<UnixUser>) {
    if is_root() {
        let u = UnixUser::create(tag);
        (u.name.clone(), u.uid, Some(u))
    } else {
        (whoami(), nix::unistd::geteuid().as_raw(), None)
    }
}

#[test]
fn user_operations_on_every_dialect_signed_and_encrypted() {
    let (user, uid, _guard) = test_user("ops");
    let env = Env::new("", &[("share", "  read only = no\n  guest ok = yes")]);
    env.smbd.add_user(&user, PASSWORD);
    let auth = format!("{user}%{PASSWORD}");
    for d in DIALECTS {
        for prot in ["off", "sign", "encrypt"] {
            let prot_arg = format!("--client-protection={prot}");
            let args = ["-U", &auth, "-m", d, &prot_arg];
            if prot == "encrypt" && d.starts_with("SMB2") {
                // SMB 2.x has no encryption: the client refuses to go on,
                // exactly as against Samba.
                let r = env.run("share", &args, "ls");
                assert!(!r.ok, "encryption on {d}:\n{}", r.out);
                assert!(
                    r.out.contains("doesn't support SMB3 encryption"),
                    "encryption on {d}:\n{}",
                    r.out
                );
                continue;
            }
            let mut a = args.to_vec();
            a.extend(["-d", "4"]);
            let out = env
                .run("share", &a, "ls")
                .succeeded(&format!("ls {d} {prot}"));
            assert_eq!(negotiated(&out).as_deref(), Some(d), "{out}");
            let owner = exercise(&env, "share", &args, &format!("user-{d}-{prot}"));
            assert_eq!(owner, uid, "files put by {user} belong to them");
        }
    }
}

#[test]
fn guest_operations_and_the_guest_account() {
    let env = Env::new(
        "  guest account = nobody",
        &[
            ("share", "  read only = no\n  guest ok = yes"),
            ("private", "  read only = no"),
        ],
    );
    env.smbd.add_user(&whoami(), PASSWORD);
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody")
        .uid
        .as_raw();
    // Files guests create belong to the guest account when smbd runs as
    // root (otherwise everything belongs to the daemon's own user).
    let want = if is_root() {
        nobody
    } else {
        nix::unistd::geteuid().as_raw()
    };
    for d in ["SMB2_02", "SMB3_11"] {
        // Anonymous (-N) and an unknown user (map to guest = bad user).
        for (how, auth) in [
            ("anon", &["-N"][..]),
            ("baduser", &["-U", "no-such-user%x"][..]),
        ] {
            let mut args = auth.to_vec();
            args.extend(["-m", d]);
            let owner = exercise(&env, "share", &args, &format!("guest-{how}-{d}"));
            assert_eq!(owner, want, "guest's files belong to the guest account");
            // A share without guest ok refuses guests at tree connect.
            env.run("private", &args, "ls").fails_with(
                "NT_STATUS_ACCESS_DENIED",
                &format!("guest {how} on private {d}"),
            );
            // Guests have no session key: signing or encryption cannot be
            // had (the client gives up at session setup, as with Samba).
            for prot in ["sign", "encrypt"] {
                let p = format!("--client-protection={prot}");
                let mut a = args.clone();
                a.push(&p);
                let r = env.run("share", &a, "ls");
                assert!(!r.ok, "guest {how} with {prot} on {d}:\n{}", r.out);
            }
        }
    }
    // A wrong password for a real user is not turned into guest.
    env.run("share", &["-U", &format!("{}%wrong", whoami())], "ls")
        .fails_with("NT_STATUS_LOGON_FAILURE", "wrong password");
    // The user still reaches the private share.
    env.run("private", &["-U", &user_auth()], "ls")
        .must("user on private");
}

#[test]
fn map_to_guest_never_refuses_unknown_users() {
    let env = Env::new(
        "  map to guest = never",
        &[("share", "  read only = no\n  guest ok = yes")],
    );
    env.run("share", &["-U", "no-such-user%x"], "ls")
        .fails_with(
            "NT_STATUS_LOGON_FAILURE",
            "unknown user, map to guest = never",
        );
}

#[test]
fn large_files_round_trip_byte_for_byte() {
    const SIZE: usize = 128 << 20;
    let env = Env::new("", &[("share", "  read only = no\n  guest ok = yes")]);
    env.smbd.add_user(&whoami(), PASSWORD);
    let src = env.local("big.src");
    std::fs::write(&src, random_bytes(SIZE + 12345, 42)).unwrap();
    let auth = user_auth();
    for (tag, args) in [
        (
            "smb2-signed",
            vec!["-U", &auth, "-m", "SMB2_02", "--client-protection=sign"],
        ),
        (
            "smb311-encrypted",
            vec!["-U", &auth, "-m", "SMB3_11", "--client-protection=encrypt"],
        ),
        ("smb311-guest", vec!["-N", "-m", "SMB3_11"]),
    ] {
        let back = env.local(&format!("big.{tag}"));
        let started = std::time::Instant::now();
        env.run(
            "share",
            &args,
            &format!(
                "put {} {tag}.bin; get {tag}.bin {}",
                src.display(),
                back.display()
            ),
        )
        .must(&format!("put/get of {SIZE} bytes, {tag}"));
        eprintln!(
            "{tag}: put+get {} MiB in {:?}",
            SIZE >> 20,
            started.elapsed()
        );
        same_file(&src, &env.share("share").join(format!("{tag}.bin")));
        same_file(&src, &back);
        std::fs::remove_file(&back).unwrap();
        std::fs::remove_file(env.share("share").join(format!("{tag}.bin"))).unwrap();
    }
}

#[test]
fn share_listing() {
    let env = Env::new(
        "  server string = Test File Server",
        &[
            ("public", "  comment = Everyone's files\n  guest ok = yes"),
            ("docs", "  comment = Documents"),
            ("hidden", "  browseable = no"),
        ],
    );
    env.smbd.add_user(&whoami(), PASSWORD);
    for args in [vec!["-U", &user_auth()[..]], vec!["-N"]] {
        for d in ["SMB2_02", "SMB3_11"] {
            let mut a = args.clone();
            a.extend(["-m", d]);
            let out = env.list(&a).out;
            let row = |name: &str| {
                out.lines()
                    .map(str::split_whitespace)
                    .map(Iterator::collect::<Vec<_>>)
                    .find(|w| w.first() == Some(&name))
            };
            let public = row("public").unwrap_or_else(|| panic!("{out}"));
            assert_eq!(public[1..], ["Disk", "Everyone's", "files"], "{out}");
            assert_eq!(row("docs").unwrap()[1..], ["Disk", "Documents"], "{out}");
            let ipc = row("IPC$").unwrap_or_else(|| panic!("{out}"));
            assert_eq!(ipc[1], "IPC", "{out}");
            assert!(row("hidden").is_none(), "browseable = no is listed:\n{out}");
            assert!(out.contains("Sharename"), "{out}");
        }
    }
    // Not listed, but it can be used.
    env.run("hidden", &["-U", &user_auth()], "ls")
        .must("ls on a browseable = no share");
}

#[test]
fn read_only_share_refuses_writes() {
    let env = Env::new(
        "",
        &[
            ("ro", "  read only = yes\n  guest ok = yes"),
            ("ro2", "  writeable = no"),
            ("rw", "  read only = no"),
        ],
    );
    env.smbd.add_user(&whoami(), PASSWORD);
    let auth = user_auth();
    std::fs::write(env.share("ro").join("kept.txt"), b"keep me").unwrap();
    std::fs::create_dir(env.share("ro").join("sub")).unwrap();
    std::fs::write(env.share("ro2").join("kept.txt"), b"keep me").unwrap();
    let src = env.local("new.txt");
    std::fs::write(&src, b"new").unwrap();
    for (share, args) in [
        ("ro", vec!["-U", &auth[..]]),
        ("ro", vec!["-N"]),
        ("ro", vec!["-U", &auth[..], "-m", "SMB2_02"]),
        ("ro2", vec!["-U", &auth[..]]),
    ] {
        let what = format!("{share} {args:?}");
        // Reading works.
        let back = env.local("kept.back");
        env.run(share, &args, &format!("get kept.txt {}", back.display()))
            .must(&format!("get on {what}"));
        assert_eq!(std::fs::read(&back).unwrap(), b"keep me");
        // Every kind of change is refused and nothing changes on disk.
        for (cmd, status) in [
            (
                format!("put {} new.txt", src.display()),
                "NT_STATUS_ACCESS_DENIED",
            ),
            (
                format!("put {} kept.txt", src.display()),
                "NT_STATUS_ACCESS_DENIED",
            ),
            ("mkdir newdir".to_string(), "NT_STATUS_ACCESS_DENIED"),
            ("rm kept.txt".to_string(), "NT_STATUS_ACCESS_DENIED"),
            (
                "rename kept.txt other.txt".to_string(),
                "NT_STATUS_ACCESS_DENIED",
            ),
        ] {
            env.run(share, &args, &cmd)
                .fails_with(status, &format!("{cmd} on {what}"));
        }
        if share == "ro" {
            env.run(share, &args, "rmdir sub")
                .fails_with("NT_STATUS_ACCESS_DENIED", &format!("rmdir on {what}"));
            assert!(env.share("ro").join("sub").is_dir());
        }
        let mut names: Vec<String> = std::fs::read_dir(env.share(share))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let want: &[&str] = if share == "ro" {
            &["kept.txt", "sub"]
        } else {
            &["kept.txt"]
        };
        assert_eq!(names, want, "{what}");
        assert_eq!(
            std::fs::read(env.share(share).join("kept.txt")).unwrap(),
            b"keep me"
        );
    }
    // The writable share next to them takes the same commands.
    env.run(
        "rw",
        &["-U", &auth],
        &format!(
            "put {} new.txt; mkdir newdir; rename new.txt other.txt",
            src.display()
        ),
    )
    .must("writes on rw");
    assert!(env.share("rw").join("other.txt").is_file());
}

#[test]
fn valid_users_and_invalid_users() {
    let me = whoami();
    let group = nix::unistd::Group::from_gid(nix::unistd::getegid())
        .unwrap()
        .expect("our group")
        .name;
    let env = Env::new(
        "",
        &[
            ("mine", &format!("  read only = no\n  valid users = {me}")),
            ("others", "  read only = no\n  valid users = somebody-else"),
            (
                "bygroup",
                &format!("  read only = no\n  valid users = @{group}"),
            ),
            (
                "notme",
                &format!("  read only = no\n  invalid users = {me}"),
            ),
            (
                "both",
                &format!("  read only = no\n  valid users = {me}\n  invalid users = {me}"),
            ),
            (
                "mine-guest",
                &format!("  guest ok = yes\n  valid users = {me}"),
            ),
            ("open", "  guest ok = yes\n  invalid users = nobody-else"),
        ],
    );
    env.smbd.add_user(&me, PASSWORD);
    let auth = user_auth();
    let user = ["-U", &auth[..]];
    for share in ["mine", "bygroup", "mine-guest", "open"] {
        env.run(share, &user, "ls")
            .must(&format!("{me} on {share}"));
    }
    for share in ["others", "notme", "both"] {
        env.run(share, &user, "ls")
            .fails_with("NT_STATUS_ACCESS_DENIED", &format!("{me} on {share}"));
    }
    // Guest (the guest account, nobody) is not in valid users either,
    // unless the tests run as nobody.
    if me != "nobody" {
        env.run("mine-guest", &["-N"], "ls")
            .fails_with("NT_STATUS_ACCESS_DENIED", "guest on mine-guest");
    }
    env.run("open", &["-N"], "ls").must("guest on open");
}

#[test]
fn create_mask_and_directory_mask_shape_unix_modes() {
    let env = Env::new(
        "",
        &[
            (
                "masked",
                "  read only = no\n  create mask = 0640\n  directory mask = 0750",
            ),
            (
                "tight",
                "  read only = no\n  create mask = 0600\n  directory mask = 0700",
            ),
            ("default", "  read only = no"),
        ],
    );
    env.smbd.add_user(&whoami(), PASSWORD);
    let src = env.local("f.txt");
    std::fs::write(&src, b"mode").unwrap();
    let mode = |p: PathBuf| std::fs::metadata(&p).unwrap().mode() & 0o7777;
    for (share, file, dir) in [
        ("masked", 0o640, 0o750),
        ("tight", 0o600, 0o700),
        // Samba's defaults: create mask 0744, directory mask 0755.
        ("default", 0o744, 0o755),
    ] {
        env.run(
            share,
            &["-U", &user_auth()],
            &format!(
                "put {} f.txt; mkdir d; mkdir d\\e; put {} d\\e\\g.txt",
                src.display(),
                src.display()
            ),
        )
        .must(&format!("put/mkdir on {share}"));
        let root = env.share(share);
        assert_eq!(
            mode(root.join("f.txt")) & !0o100,
            file & !0o100,
            "{share} file"
        );
        assert_eq!(
            mode(root.join("f.txt")) & !file,
            0,
            "{share} file within the mask"
        );
        assert_eq!(mode(root.join("d")), dir, "{share} directory");
        assert_eq!(mode(root.join("d/e")), dir, "{share} subdirectory");
        assert_eq!(
            mode(root.join("d/e/g.txt")) & !file,
            0,
            "{share} file in a subdirectory"
        );
    }
}

/// Runs our smbpasswd with the test's smb.conf.
fn smbpasswd(env: &Env, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut c = Command::new(bin("smbpasswd"))
        .arg("-c")
        .arg(&env.smbd.conf)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // -x, -d and -e read nothing and may be gone before this is written.
    let _ = c.stdin.take().unwrap().write_all(input.as_bytes());
    c.wait_with_output().unwrap()
}

#[test]
fn smbpasswd_verbs_decide_who_logs_on() {
    let env = Env::new(
        "",
        &[
            ("share", "  read only = no\n  guest ok = yes"),
            ("private", "  read only = no"),
        ],
    );
    let me = whoami();
    let db = env.smbd.dir.join("private/smbpasswd");
    let ok = |o: Output, what: &str| {
        assert!(o.status.success(), "smbpasswd {what}: {}", stderr(&o));
        stdout(&o)
    };
    let logon = |pw: &str| env.run("private", &["-U", &format!("{me}%{pw}")], "ls");

    // -a reads the password twice from stdin with -s.
    assert_eq!(
        ok(
            smbpasswd(&env, &["-s", "-a", &me], "first-pw\nfirst-pw\n"),
            "-a"
        ),
        format!("Added user {me}.\n")
    );
    assert!(db.is_file(), "the database lives in the private dir");
    logon("first-pw").must("logon after -a");
    logon("other").fails_with("NT_STATUS_LOGON_FAILURE", "wrong password");
    // Two different passwords change nothing.
    let o = smbpasswd(&env, &["-s", "-a", &me], "a-pw\nb-pw\n");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("mismatch"), "{}", stderr(&o));
    logon("first-pw").must("logon after a mismatch");
    // -a again sets a new password; the old one stops working.
    assert_eq!(
        ok(
            smbpasswd(&env, &["-s", "-a", &me], "second-pw\nsecond-pw\n"),
            "-a again"
        ),
        format!("Password changed for user {me}.\n")
    );
    logon("second-pw").must("logon with the new password");
    logon("first-pw").fails_with("NT_STATUS_LOGON_FAILURE", "old password");

    // -d disables, -e enables.
    ok(smbpasswd(&env, &["-d", &me], ""), "-d");
    logon("second-pw").fails_with("NT_STATUS_ACCOUNT_DISABLED", "disabled user");
    ok(smbpasswd(&env, &["-e", &me], ""), "-e");
    logon("second-pw").must("logon after -e");

    // -x deletes: the name is now unknown, so map to guest = bad user makes
    // it a guest, who may not use the private share but may use the guest
    // one (as guest).
    assert_eq!(
        ok(smbpasswd(&env, &["-x", &me], ""), "-x"),
        format!("Deleted user {me}.\n")
    );
    logon("second-pw").fails_with("NT_STATUS_ACCESS_DENIED", "deleted user on private");
    let src = env.local("g.txt");
    std::fs::write(&src, b"g").unwrap();
    env.run(
        "share",
        &["-U", &format!("{me}%second-pw")],
        &format!("put {} g.txt", src.display()),
    )
    .must("deleted user as guest on share");
    if is_root() {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
        assert_eq!(
            std::fs::metadata(env.share("share").join("g.txt"))
                .unwrap()
                .uid(),
            nobody.as_raw(),
            "a deleted user is guest"
        );
    }

    // Errors: unknown users, users without a Unix account.
    let o = smbpasswd(&env, &["-x", &me], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = smbpasswd(&env, &["-d", "no-such-user"], "");
    assert_eq!(o.status.code(), Some(1));
    let o = smbpasswd(&env, &["-s", "-a", "no-such-unix-user"], "p\np\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no-such-unix-user"), "{}", stderr(&o));
}

#[test]
fn server_signing_mandatory() {
    let env = Env::new(
        "  server signing = mandatory",
        &[("share", "  read only = no\n  guest ok = yes")],
    );
    env.smbd.add_user(&whoami(), PASSWORD);
    let auth = user_auth();
    for d in ["SMB2_02", "SMB3_11"] {
        // A client that would not sign by itself signs because the server
        // requires it; one that insists on signing gets it.
        for prot in ["off", "sign", "encrypt"] {
            if prot == "encrypt" && d == "SMB2_02" {
                continue;
            }
            let p = format!("--client-protection={prot}");
            env.run("share", &["-U", &auth, "-m", d, &p], "ls")
                .must(&format!("user {d} {prot}"));
        }
        // Guests have no key to sign with: as Samba does, they get an
        // unsigned guest session.
        env.run("share", &["-N", "-m", d], "ls")
            .must(&format!("guest {d}"));
    }
    // Unsigned requests on an authenticated session are refused: see
    // smbd_python.rs (smbclient always signs when the server requires it).
}

#[test]
fn server_min_and_max_protocol() {
    let max = Env::new(
        "  server max protocol = SMB2_10",
        &[("share", "  guest ok = yes")],
    );
    let out = max
        .run("share", &["-N", "-d", "4"], "ls")
        .succeeded("default client against max SMB2_10");
    assert_eq!(negotiated(&out).as_deref(), Some("SMB2_10"), "{out}");
    let out = max
        .run("share", &["-N", "-d", "4", "-m", "SMB2_02"], "ls")
        .succeeded("SMB2_02 against max SMB2_10");
    assert_eq!(negotiated(&out).as_deref(), Some("SMB2_02"), "{out}");
    max.run("share", &["-N", "--option=clientminprotocol=SMB3_00"], "ls")
        .fails_with(
            "NT_STATUS_NOT_SUPPORTED",
            "SMB3 only client against max SMB2_10",
        );

    let min = Env::new(
        "  server min protocol = SMB3_00\n  server max protocol = SMB3_02",
        &[("share", "  guest ok = yes")],
    );
    let out = min
        .run("share", &["-N", "-d", "4"], "ls")
        .succeeded("default client");
    assert_eq!(negotiated(&out).as_deref(), Some("SMB3_02"), "{out}");
    for d in ["SMB2_02", "SMB2_10"] {
        min.run("share", &["-N", "-m", d], "ls").fails_with(
            "NT_STATUS_NOT_SUPPORTED",
            &format!("{d} against min SMB3_00"),
        );
    }
    let out = min
        .run("share", &["-N", "-d", "4", "-m", "SMB3_00"], "ls")
        .succeeded("SMB3_00 against min SMB3_00");
    assert_eq!(negotiated(&out).as_deref(), Some("SMB3_00"), "{out}");
}

#[test]
fn unix_permissions_apply_per_user() {
    if !require_root("unix_permissions_apply_per_user") {
        return;
    }
    let u = UnixUser::create("perm");
    let env = Env::new(
        "  guest account = nobody",
        &[("share", "  read only = no\n  guest ok = yes")],
    );
    let root = env.share("share");
    // The share's root is root's, 0755: nobody else may create there.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("secret.txt"), b"root only").unwrap();
    std::fs::set_permissions(
        root.join("secret.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(root.join("public.txt"), b"everyone reads").unwrap();
    std::fs::set_permissions(
        root.join("public.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::create_dir(root.join("closed")).unwrap();
    std::fs::set_permissions(root.join("closed"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(root.join("closed/inside.txt"), b"x").unwrap();
    // A directory of the test user's own, and one open to all.
    std::fs::create_dir(root.join("mine")).unwrap();
    nix::unistd::chown(
        &root.join("mine"),
        Some(nix::unistd::Uid::from_raw(u.uid)),
        None,
    )
    .unwrap();
    std::fs::create_dir(root.join("drop")).unwrap();
    std::fs::set_permissions(root.join("drop"), std::fs::Permissions::from_mode(0o777)).unwrap();
    env.smbd.add_user(&u.name, PASSWORD);
    env.smbd.add_user("root", PASSWORD);
    let src = env.local("up.txt");
    std::fs::write(&src, b"uploaded").unwrap();
    let back = env.local("back.txt");
    let user_auth = format!("{}%{PASSWORD}", u.name);

    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody")
        .uid
        .as_raw();
    for (who, args, uid) in [
        (u.name.as_str(), vec!["-U", &user_auth[..]], u.uid),
        ("guest", vec!["-N"], nobody),
    ] {
        // Root's 0600 file is denied; the 0644 one reads.
        env.run(
            "share",
            &args,
            &format!("get secret.txt {}", back.display()),
        )
        .fails_with(
            "NT_STATUS_ACCESS_DENIED",
            &format!("{who} reads secret.txt"),
        );
        env.run(
            "share",
            &args,
            &format!("get public.txt {}", back.display()),
        )
        .must(&format!("{who} reads public.txt"));
        assert_eq!(std::fs::read(&back).unwrap(), b"everyone reads");
        // Writing over a file they may only read, deleting in a directory
        // they may not write, listing a directory they may not read.
        env.run("share", &args, &format!("put {} public.txt", src.display()))
            .fails_with(
                "NT_STATUS_ACCESS_DENIED",
                &format!("{who} overwrites public.txt"),
            );
        env.run("share", &args, "rm public.txt").fails_with(
            "NT_STATUS_ACCESS_DENIED",
            &format!("{who} deletes public.txt"),
        );
        env.run("share", &args, &format!("put {} new.txt", src.display()))
            .fails_with(
                "NT_STATUS_ACCESS_DENIED",
                &format!("{who} creates in root's directory"),
            );
        env.run("share", &args, "mkdir newdir").fails_with(
            "NT_STATUS_ACCESS_DENIED",
            &format!("{who} mkdir in root's directory"),
        );
        env.run("share", &args, "ls closed\\*").fails_with(
            "NT_STATUS_ACCESS_DENIED",
            &format!("{who} lists a 0700 directory"),
        );
        assert_eq!(
            std::fs::read(root.join("public.txt")).unwrap(),
            b"everyone reads"
        );
        assert!(!root.join("new.txt").exists() && !root.join("newdir").exists());

        // Where the Unix permissions allow, it works, and the files are theirs.
        let dir = if who == "guest" { "drop" } else { "mine" };
        env.run(
            "share",
            &args,
            &format!(
                "put {} {dir}\\{who}.txt; mkdir {dir}\\sub-{who}; get {dir}\\{who}.txt {}; rename {dir}\\{who}.txt {dir}\\{who}-2.txt",
                src.display(),
                back.display()
            ),
        )
        .must(&format!("{who} writes in {dir}"));
        let f = root.join(format!("{dir}/{who}-2.txt"));
        assert_eq!(std::fs::read(&f).unwrap(), b"uploaded");
        assert_eq!(
            std::fs::metadata(&f).unwrap().uid(),
            uid,
            "{who} owns the file"
        );
        assert_eq!(
            std::fs::metadata(root.join(format!("{dir}/sub-{who}")))
                .unwrap()
                .uid(),
            uid,
            "{who} owns the directory"
        );
    }
    // Guest may not delete the user's files in the user's directory...
    env.run("share", &["-N"], &format!("rm mine\\{}-2.txt", u.name))
        .fails_with("NT_STATUS_ACCESS_DENIED", "guest deletes the user's file");
    // ...and the user may delete their own.
    env.run(
        "share",
        &["-U", &user_auth],
        &format!("rm mine\\{}-2.txt; rmdir mine\\sub-{}", u.name, u.name),
    )
    .must("the user deletes their files");
    // Root reads everything.
    env.run(
        "share",
        &["-U", &format!("root%{PASSWORD}")],
        &format!("get secret.txt {}; ls closed\\*", back.display()),
    )
    .must("root reads secret.txt");
    assert_eq!(std::fs::read(&back).unwrap(), b"root only");

    // guest account names whom guests become.
    let other = Env::new(
        &format!("  guest account = {}", u.name),
        &[("share", "  read only = no\n  guest ok = yes")],
    );
    for args in [&["-N"][..], &["-U", "no-such-user%x"][..]] {
        other
            .run("share", args, &format!("put {} g.txt", src.display()))
            .must("guest put with guest account set");
        assert_eq!(
            std::fs::metadata(other.share("share").join("g.txt"))
                .unwrap()
                .uid(),
            u.uid,
            "guest is the guest account"
        );
        std::fs::remove_file(other.share("share").join("g.txt")).unwrap();
    }
}

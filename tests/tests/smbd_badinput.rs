//! Bad input to smbd over the network: malformed messages of the ten
//! classes in reference/smb2-clients.md, slow clients and resource
//! exhaustion. Each must get the protocol's error or a closed connection
//! for that client alone and a log line naming the client, while every
//! other client carries on.

use std::path::PathBuf;
use std::time::Duration;

use system_tests::smb2::*;
use system_tests::*;

const PASSWORD: &str = "Secret-123";

struct Env {
    _scratch: Scratch,
    smbd: Smbd,
    share: PathBuf,
    user: String,
}

impl Env {
    fn start(global_extra: &str) -> Env {
        let scratch = Scratch::new();
        let share = scratch.volume("share", None);
        let smbd = Smbd::start(
            scratch.path(),
            global_extra,
            &format!(
                "[share]\n  path = {}\n  read only = no\n  guest ok = yes\n  wide links = no\n",
                share.display()
            ),
        );
        let user = whoami();
        smbd.add_user(&user, PASSWORD);
        Env {
            _scratch: scratch,
            smbd,
            share,
            user,
        }
    }

    fn port(&self) -> u16 {
        self.smbd.port
    }

    /// A logged-on client connected to the share.
    fn client(&self) -> Client {
        Client::ready(self.port(), Some((&self.user, PASSWORD)), "share")
    }

    /// Asserts the log has a line naming `who` and containing `what`.
    fn logged(&self, who: &Client, what: &str) -> String {
        let peer = format!("peer={}", who.addr());
        self.smbd.wait_log_line(&[&peer, what]).unwrap_or_else(|| {
            panic!(
                "no log line with {peer:?} and {what:?}:\n{}",
                self.smbd.log_text()
            )
        })
    }

    /// smbd still runs, `bystander` (connected before the bad input) and
    /// a new client are both served.
    fn others_carry_on(&mut self, bystander: &mut Client) {
        assert!(self.smbd.running(), "smbd died:\n{}", self.smbd.log_text());
        assert_eq!(bystander.echo().status, status::SUCCESS);
        let name = format!("bystander-{}.txt", bystander.addr().port());
        let fid = bystander
            .create(
                &name,
                access::READ_DATA | access::WRITE_DATA,
                disposition::OVERWRITE_IF,
                0,
            )
            .expect("bystander creates a file");
        let w = bystander.call(cmd::WRITE, &body::write(fid, 0, b"still here"));
        assert_eq!(w.status, status::SUCCESS);
        assert_eq!(bystander.close(fid).status, status::SUCCESS);
        assert_eq!(
            std::fs::read(self.share.join(&name)).unwrap(),
            b"still here"
        );
        let mut fresh = self.client();
        assert_eq!(fresh.echo().status, status::SUCCESS);
    }

    /// A real client lists the share (skipped where smbclient is not
    /// installed).
    fn smbclient_ls(&self) {
        if std::process::Command::new("smbclient")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("smbclient not installed; its check skipped");
            return;
        }
        let pass = format!("{}%{PASSWORD}", self.user);
        let o = self.smbd.smbclient("share", &["-U", &pass, "-c", "ls"]);
        assert!(
            o.status.success() && stdout(&o).contains("blocks available"),
            "smbclient ls: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
}

/// A raw connection whose bad bytes must end it: closed within a few
/// seconds, with a log line naming it and saying `why`.
fn closes_with(env: &Env, c: &mut Client, why: &str) {
    assert!(
        c.closed_within(Duration::from_secs(10)),
        "connection not closed ({why})"
    );
    env.logged(c, why);
}

fn le16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}

fn le32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}

/// An SMB2 message with `command` and `body` for a raw connection.
fn raw_msg(command: u16, message_id: u64, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    Header {
        credit_charge: 1,
        command,
        credits: 1,
        flags: 0,
        next_command: 0,
        message_id,
        tree_id: 0,
        session_id: 0,
    }
    .emit(&mut m);
    m.extend_from_slice(body);
    m
}

/// Sends `body` as `command` on a logged-on client and returns the status.
fn status_of(c: &mut Client, command: u16, body: &[u8]) -> u32 {
    c.call(command, body).status
}

fn open_file(c: &mut Client, name: &str) -> FileId {
    c.create(
        name,
        access::READ_DATA
            | access::WRITE_DATA
            | access::READ_EA
            | access::WRITE_EA
            | access::READ_ATTRIBUTES
            | access::READ_CONTROL
            | access::WRITE_DAC
            | access::SYNCHRONIZE,
        disposition::OPEN_IF,
        options::NON_DIRECTORY_FILE,
    )
    .unwrap_or_else(|s| panic!("create {name}: {s:#x}"))
}

fn open_root(c: &mut Client) -> FileId {
    c.create(
        "",
        access::FILE_LIST_DIRECTORY | access::READ_ATTRIBUTES | access::SYNCHRONIZE,
        disposition::OPEN,
        options::DIRECTORY_FILE,
    )
    .unwrap_or_else(|s| panic!("open the share root: {s:#x}"))
}

// ---------------------------------------------------------------------------
// 1. NetBIOS session length vs SMB header; bad protocol ids.

#[test]
fn nbss_lengths_and_protocol_ids() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut short_header = vec![0xfe, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0];
    short_header.truncate(10);
    let mut bad_size = raw_msg(cmd::NEGOTIATE, 0, &body::negotiate(&DIALECTS, &[], 0));
    le16(&mut bad_size, 4, 65);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("zero length", vec![0, 0, 0, 0], "not an SMB2 message"),
        (
            "shorter than the SMB2 header",
            nbss(&short_header),
            "bad SMB2 header",
        ),
        (
            "longer than any message",
            vec![0, 0xff, 0xff, 0xff],
            "exceeds",
        ),
        ("bad protocol id", nbss(&[b'X'; 100]), "not an SMB2 message"),
        (
            "header StructureSize 65",
            nbss(&bad_size),
            "bad SMB2 header",
        ),
        (
            "unknown NBSS packet type",
            vec![0x99, 0, 0, 4, 1, 2, 3, 4],
            "unexpected NetBIOS session packet type",
        ),
        (
            "SESSION REQUEST on port 445",
            vec![0x81, 0, 0, 4, 1, 2, 3, 4],
            "unexpected NetBIOS session packet type",
        ),
        (
            "truncated SMB1 negotiate",
            nbss(&[0xff, b'S', b'M', b'B', 0x72]),
            "SMB1 request other than NEGOTIATE",
        ),
    ];
    for (what, bytes, why) in &cases {
        let mut c = Client::connect(env.port());
        c.send_raw(bytes).unwrap();
        assert!(
            c.closed_within(Duration::from_secs(10)),
            "{what}: connection not closed"
        );
        env.logged(&c, why);
    }
    // The same after negotiation and logon.
    let mut c = env.client();
    c.send_raw(&[0, 0, 0, 0]).unwrap();
    closes_with(&env, &mut c, "not an SMB2 message");
    let mut c = env.client();
    c.send_raw(&nbss(&[0xff, b'S', b'M', b'B', 0x72, 0, 0, 0]))
        .unwrap();
    closes_with(&env, &mut c, "SMB1 message after negotiation");
    let mut c = env.client();
    c.send_raw(&[0, 0x90, 0, 0]).unwrap();
    closes_with(&env, &mut c, "exceeds");
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 2. Body size vs StructureSize and the data area.

#[test]
fn structure_sizes_and_short_bodies() {
    let mut env = Env::start("");
    let mut bystander = env.client();

    // Before negotiation: a NEGOTIATE with more dialects than bytes.
    let mut c = Client::connect(env.port());
    let mut n = body::negotiate(&DIALECTS, &[], 0);
    le16(&mut n, 2, 1000);
    let r = c.call(cmd::NEGOTIATE, &n);
    assert_eq!(r.status, status::INVALID_PARAMETER);
    env.logged(&c, "bad NEGOTIATE");
    // A NEGOTIATE with the wrong StructureSize, then one cut short.
    let mut n = body::negotiate(&DIALECTS, &[], 0);
    le16(&mut n, 0, 37);
    assert_eq!(c.call(cmd::NEGOTIATE, &n).status, status::INVALID_PARAMETER);
    assert_eq!(
        c.call(cmd::NEGOTIATE, &n[..20]).status,
        status::INVALID_PARAMETER
    );
    // The connection is still usable: a good NEGOTIATE works.
    c.negotiate(&DIALECTS);

    let mut c = env.client();
    let fid = open_file(&mut c, "f.txt");
    // Wrong StructureSize.
    assert_eq!(
        status_of(&mut c, cmd::ECHO, &[9, 0, 0, 0]),
        status::INVALID_PARAMETER
    );
    env.logged(&c, "wrong StructureSize");
    // Bodies cut inside the fixed part, for every command; the header
    // alone; a byte of body.
    for command in 0u16..=0x12 {
        if matches!(command, cmd::NEGOTIATE | cmd::CANCEL) {
            continue;
        }
        for cut in [0usize, 1, 2, 7] {
            let body = match command {
                cmd::CREATE => body::create("x", 1, 1, 0, &[]),
                cmd::READ => body::read(fid, 0, 1),
                cmd::WRITE => body::write(fid, 0, b"abc"),
                cmd::SET_INFO => body::set_info(fid, 1, 4, 0, &[0; 40]),
                cmd::QUERY_INFO => body::query_info(fid, 1, 5, 0, 100),
                cmd::SESSION_SETUP => body::session_setup(b"x", 0),
                cmd::TREE_CONNECT => body::tree_connect("\\\\x\\share"),
                _ => {
                    let mut b = vec![0u8; 64];
                    le16(&mut b, 0, 57);
                    b
                }
            };
            let cut = cut.min(body.len());
            let st = status_of(&mut c, command, &body[..cut]);
            assert!(
                st >> 30 == 3,
                "command {command:#x} with {cut} body bytes: status {st:#x}"
            );
        }
    }
    env.logged(&c, "malformed request");
    // Buffers that lie outside the message.
    let mut b = body::create("name.txt", 1, 1, 0, &[]);
    le16(&mut b, 44, 0xfff0); // NameOffset
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::create("name.txt", 1, 1, 0, &[]);
    le16(&mut b, 46, 0xfffe); // NameLength
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::create("name.txt", 1, 1, 0, &[]);
    le16(&mut b, 44, 10); // NameOffset inside the header
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::tree_connect("\\\\127.0.0.1\\share");
    le16(&mut b, 6, 0xfffe); // PathLength
    assert_eq!(
        status_of(&mut c, cmd::TREE_CONNECT, &b),
        status::INVALID_PARAMETER
    );
    env.logged(&c, "bad TREE_CONNECT");
    let mut b = body::query_directory(open_root(&mut c), "*");
    le16(&mut b, 24, 0xfff0); // FileNameOffset
    assert_eq!(
        status_of(&mut c, cmd::QUERY_DIRECTORY, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::query_info(fid, 1, 5, 0, 100);
    le16(&mut b, 8, 0xfff0); // InputBufferOffset
    le32(&mut b, 12, 100); // InputBufferLength
    assert_eq!(
        status_of(&mut c, cmd::QUERY_INFO, &b),
        status::INVALID_PARAMETER
    );
    let mut ioctl = vec![0u8; 57];
    le16(&mut ioctl, 0, 57);
    le32(&mut ioctl, 4, 0x0014_0204); // FSCTL_VALIDATE_NEGOTIATE_INFO
    ioctl[8..24].copy_from_slice(&[0xff; 16]);
    le32(&mut ioctl, 24, 0xffff_fff0); // InputOffset
    le32(&mut ioctl, 28, 24); // InputCount
    le32(&mut ioctl, 48, 1); // Flags: FSCTL
    assert_eq!(
        status_of(&mut c, cmd::IOCTL, &ioctl),
        status::INVALID_PARAMETER
    );
    // An unknown command code.
    assert_eq!(
        status_of(&mut c, 0x77, &[4, 0, 0, 0]),
        status::INVALID_PARAMETER
    );
    env.logged(&c, "unknown command");
    // After all that, the same connection still works.
    assert_eq!(c.echo().status, status::SUCCESS);
    assert_eq!(c.close(fid).status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 3. NEGOTIATE contexts with offsets/counts beyond the buffer.

const SMB311: [u16; 5] = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];

fn negotiate_311(c: &mut Client, contexts: &[u8], count: u16, patch: impl Fn(&mut Vec<u8>)) -> u32 {
    let mut b = body::negotiate(&SMB311, contexts, count);
    patch(&mut b);
    c.call(cmd::NEGOTIATE, &b).status
}

#[test]
fn negotiate_contexts_beyond_the_buffer_and_duplicates() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let preauth = body::preauth_context();
    let cipher = body::neg_context(2, &[1, 0, 2, 0]);
    let mut two = preauth.clone();
    two.extend_from_slice(&cipher);
    // A well-formed 3.1.1 negotiation succeeds (the baseline).
    let mut c = Client::connect(env.port());
    assert_eq!(negotiate_311(&mut c, &two, 2, |_| {}), status::SUCCESS);

    type Patch = Box<dyn Fn(&mut Vec<u8>)>;
    let ctx_at = 36 + 2 * SMB311.len(); // body offset of the first context
    let ctx_at = (64 + ctx_at).next_multiple_of(8) - 64;
    let cases: Vec<(&str, Vec<u8>, u16, Patch)> = vec![
        (
            "offset far beyond the message",
            two.clone(),
            2,
            Box::new(|b| le32(b, 28, 0xffff_0000)),
        ),
        (
            "offset inside the header",
            two.clone(),
            2,
            Box::new(|b| le32(b, 28, 8)),
        ),
        ("more contexts than sent", two.clone(), 9, Box::new(|_| {})),
        ("count 65535", two.clone(), 0xffff, Box::new(|_| {})),
        (
            "DataLength beyond the message",
            two.clone(),
            2,
            Box::new(move |b| le16(b, ctx_at + 2, 0xfff0)),
        ),
        (
            "HashAlgorithmCount beyond the context",
            two.clone(),
            2,
            Box::new(move |b| le16(b, ctx_at + 8, 0x7fff)),
        ),
        (
            "SaltLength beyond the context",
            two.clone(),
            2,
            Box::new(move |b| le16(b, ctx_at + 10, 0xfff0)),
        ),
        (
            "no hash algorithm",
            body::neg_context(1, &[0, 0, 0, 0]),
            1,
            Box::new(|_| {}),
        ),
        ("no preauth context", cipher.clone(), 1, Box::new(|_| {})),
        (
            "preauth with an empty salt and no algorithm listed",
            body::neg_context(1, &[0, 0, 0, 0, 0, 0]),
            1,
            Box::new(|_| {}),
        ),
        (
            "two preauth contexts",
            [preauth.clone(), preauth.clone()].concat(),
            2,
            Box::new(|_| {}),
        ),
        (
            "two encryption contexts",
            [preauth.clone(), cipher.clone(), cipher.clone()].concat(),
            3,
            Box::new(|_| {}),
        ),
        (
            "no cipher",
            [preauth.clone(), body::neg_context(2, &[0, 0])].concat(),
            2,
            Box::new(|_| {}),
        ),
    ];
    for (what, ctxs, count, patch) in &cases {
        let mut c = Client::connect(env.port());
        let st = negotiate_311(&mut c, ctxs, *count, patch);
        assert_eq!(st, status::INVALID_PARAMETER, "{what}");
        env.logged(&c, "NEGOTIATE");
    }
    // Only hash algorithms we do not have.
    let mut c = Client::connect(env.port());
    let other_hash = body::neg_context(1, &[1, 0, 0, 0, 0x77, 0x00]);
    let st = negotiate_311(&mut c, &other_hash, 1, |_| {});
    assert_eq!(
        st, 0xc05d_0000,
        "STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP"
    );
    env.logged(&c, "no pre-auth hash in common");
    // After a refused NEGOTIATE the connection may try again.
    assert_eq!(negotiate_311(&mut c, &two, 2, |_| {}), status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 4. SESSION_SETUP blobs.

/// Starts an NTLMSSP exchange on a negotiated client; returns the
/// CHALLENGE and leaves the client's session id set.
fn challenge(c: &mut Client, flags: u32) -> ntlmssp::Challenge {
    let r = c.call(
        cmd::SESSION_SETUP,
        &body::session_setup(&ntlmssp::negotiate_with(flags), 0),
    );
    assert_eq!(r.status, status::MORE_PROCESSING_REQUIRED);
    c.session_id = r.session_id;
    ntlmssp::parse_challenge(security_blob(&r))
}

#[test]
fn session_setup_blobs() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let user = env.user.clone();
    let mut c = Client::connect(env.port());
    c.negotiate(&DIALECTS);

    // First blobs that are no token at all.
    let spnego_overrun = [0x60, 0x82, 0xff, 0xf0, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05];
    let spnego_nested = {
        // NegTokenInit whose inner lengths exceed their parents.
        let mut v = vec![0x60, 0x20, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        v.extend_from_slice(&[0xa0, 0x7f, 0x30, 0x7f, 0xa0, 0x7f, 0x30, 0x7f]);
        v.resize(34, 0);
        v
    };
    let firsts: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"hello, world".to_vec()),
        ("SPNEGO length overrun", spnego_overrun.to_vec()),
        ("SPNEGO nested overrun", spnego_nested),
        ("truncated NTLMSSP NEGOTIATE", b"NTLMSSP\0\x01\0\0".to_vec()),
        ("NTLMSSP AUTHENTICATE first", {
            let mut m = ntlmssp::negotiate();
            m[8] = 3;
            m
        }),
    ];
    for (what, blob) in &firsts {
        c.session_id = 0;
        let r = c.call(cmd::SESSION_SETUP, &body::session_setup(blob, 0));
        assert_eq!(r.status, status::INVALID_PARAMETER, "{what}");
        env.logged(&c, "authentication failed");
    }

    // AUTHENTICATE messages that lie.
    let field = |m: &mut Vec<u8>, at: usize, len: u16, off: u32| {
        le16(m, at, len);
        le16(m, at + 2, len);
        le32(m, at + 4, off);
    };
    type Break = Box<dyn Fn(&ntlmssp::Challenge, &str) -> Vec<u8>>;
    let kx = ntlmssp::FLAGS | ntlmssp::KEY_EXCH;
    let cases: Vec<(&str, Break, u32)> = vec![
        (
            "NT response offset beyond the message",
            Box::new(move |ch, user| {
                let (nt, _) = ntlmssp::ntlmv2(user, PASSWORD, ch);
                let mut m = ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS);
                field(&mut m, 20, nt.len() as u16, 0xffff_fff0);
                m
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "user name length beyond the message",
            Box::new(move |ch, user| {
                let (nt, _) = ntlmssp::ntlmv2(user, PASSWORD, ch);
                let mut m = ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS);
                le16(&mut m, 36, 0xfff0);
                m
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "short NTLMv2 response",
            Box::new(|_, user| {
                ntlmssp::authenticate(&[0; 24], &[0x55; 20], "", user, &[], ntlmssp::FLAGS)
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "NTLMv2 blob with an AV pair overrun",
            Box::new(|ch, user| {
                let mut nt = vec![0x55; 16];
                nt.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
                nt.extend_from_slice(&[0; 8]);
                nt.extend_from_slice(&[0x11; 8]);
                nt.extend_from_slice(&[0; 4]);
                nt.extend_from_slice(&[2, 0, 0xff, 0xff, 0x41, 0x41]); // AvLen 65535
                let _ = ch;
                ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS)
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "oversized session key",
            Box::new(move |ch, user| {
                assert_ne!(ch.flags & ntlmssp::KEY_EXCH, 0);
                let (nt, _) = ntlmssp::ntlmv2(user, PASSWORD, ch);
                ntlmssp::authenticate(&[0; 24], &nt, "", user, &[0x77; 300], kx)
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "key exchange without a key",
            Box::new(move |ch, user| {
                let (nt, _) = ntlmssp::ntlmv2(user, PASSWORD, ch);
                ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], kx)
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "truncated AUTHENTICATE",
            Box::new(move |ch, user| {
                let (nt, _) = ntlmssp::ntlmv2(user, PASSWORD, ch);
                let m = ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS);
                m[..40].to_vec()
            }),
            status::INVALID_PARAMETER,
        ),
        (
            "wrong password",
            Box::new(move |ch, user| {
                let (nt, _) = ntlmssp::ntlmv2(user, "not the password", ch);
                ntlmssp::authenticate(&[0; 24], &nt, "", user, &[], ntlmssp::FLAGS)
            }),
            status::LOGON_FAILURE,
        ),
    ];
    for (what, make, want) in &cases {
        c.session_id = 0;
        let ch = challenge(&mut c, kx);
        let r = c.call(
            cmd::SESSION_SETUP,
            &body::session_setup(&make(&ch, &user), 0),
        );
        assert_eq!(r.status, *want, "{what}");
        env.logged(&c, "authentication failed");
        // The failed session is gone.
        let r = c.call(cmd::TREE_CONNECT, &body::tree_connect("\\\\x\\share"));
        assert_eq!(r.status, status::USER_SESSION_DELETED, "{what}");
    }
    // A security buffer beyond the message; a session id nobody has.
    c.session_id = 0;
    let mut b = body::session_setup(&ntlmssp::negotiate(), 0);
    le16(&mut b, 14, 0xfff0);
    assert_eq!(
        status_of(&mut c, cmd::SESSION_SETUP, &b),
        status::INVALID_PARAMETER
    );
    env.logged(&c, "bad SESSION_SETUP");
    c.session_id = 0x1234_5678;
    assert_eq!(
        status_of(
            &mut c,
            cmd::SESSION_SETUP,
            &body::session_setup(&ntlmssp::negotiate(), 0)
        ),
        status::USER_SESSION_DELETED
    );
    // After all that the same connection logs on.
    c.session_id = 0;
    assert_eq!(c.login(&user, PASSWORD).status, status::SUCCESS);
    assert_eq!(c.tree_connect("share").status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 5. CREATE contexts.

#[test]
fn create_contexts() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = env.client();
    let mxac = body::create_context(b"MxAc", &[]);
    let qfid = body::create_context(b"QFid", &[]);
    let chain = |a: &[u8], b: &[u8]| {
        let mut v = a.to_vec();
        v.resize(a.len().next_multiple_of(8), 0);
        let next = v.len() as u32;
        le32(&mut v, 0, next);
        v.extend_from_slice(b);
        v
    };
    let good = chain(&mxac, &qfid);
    let r = c.call(
        cmd::CREATE,
        &body::create("ctx.txt", 1, disposition::OPEN_IF, 0, &good),
    );
    assert_eq!(r.status, status::SUCCESS, "well-formed contexts");

    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = body::create_context(b"ExtA", &[0u8; 24]);
        f(&mut v);
        v
    };
    let many = {
        let mut v = Vec::new();
        for _ in 0..40 {
            let mut e = body::create_context(b"MxAc", &[]);
            e.resize(24, 0);
            le32(&mut e, 0, 24);
            v.extend_from_slice(&e);
        }
        let last = v.len() - 24;
        le32(&mut v, last, 0);
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "name offset beyond the context",
            with(&|v| le16(v, 4, 0x7ff0)),
        ),
        (
            "name offset inside the fixed part",
            with(&|v| le16(v, 4, 2)),
        ),
        ("name length beyond", with(&|v| le16(v, 6, 0xfff0))),
        ("data offset beyond", with(&|v| le16(v, 10, 0xfff0))),
        ("data length beyond", with(&|v| le32(v, 12, 0xffff_fff0))),
        ("data overlapping the name", with(&|v| le16(v, 10, 16))),
        ("no name", with(&|v| le16(v, 6, 0))),
        ("Next inside the fixed part", with(&|v| le32(v, 0, 8))),
        (
            "Next misaligned",
            chain(&mxac, &qfid)
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 0 { 0x11 } else { *b })
                .collect(),
        ),
        ("Next beyond the buffer", with(&|v| le32(v, 0, 0x1000))),
        ("Next past the last", with(&|v| le32(v, 0, 48))),
        ("more contexts than allowed", many),
        ("a bare fixed part", vec![0u8; 10]),
    ];
    for (what, ctxs) in &cases {
        let st = status_of(
            &mut c,
            cmd::CREATE,
            &body::create("ctx.txt", 1, disposition::OPEN_IF, 0, ctxs),
        );
        assert_eq!(st, status::INVALID_PARAMETER, "{what}");
    }
    env.logged(&c, "malformed request");
    // The context list itself misplaced: misaligned, overlapping the
    // name, beyond the message.
    let mut b = body::create("ctx.txt", 1, disposition::OPEN_IF, 0, &good);
    let off = u32::from_le_bytes(b[48..52].try_into().unwrap());
    le32(&mut b, 48, off + 4);
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::create("ctx.txt", 1, disposition::OPEN_IF, 0, &good);
    le32(&mut b, 48, 120); // where the name is
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    let mut b = body::create("ctx.txt", 1, disposition::OPEN_IF, 0, &good);
    le32(&mut b, 52, 0x10_0000);
    assert_eq!(
        status_of(&mut c, cmd::CREATE, &b),
        status::INVALID_PARAMETER
    );
    assert_eq!(c.echo().status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 6. READ/WRITE DataOffset/Length; huge lengths and offsets.

#[test]
fn read_write_offsets_and_lengths() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = env.client();
    let fid = open_file(&mut c, "rw.txt");
    assert_eq!(
        status_of(&mut c, cmd::WRITE, &body::write(fid, 0, b"0123456789")),
        status::SUCCESS
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "DataOffset beyond the message",
            body::write_raw(fid, 0, 0xfff0, 10, b"0123456789"),
        ),
        (
            "Length beyond the message",
            body::write_raw(fid, 0, 112, 0xffff_fff0, b"0123456789"),
        ),
        (
            "DataOffset inside the header",
            body::write_raw(fid, 0, 8, 10, b"0123456789"),
        ),
        ("offset beyond 2^63", body::write(fid, 1 << 63, b"x")),
        ("offset near 2^64", body::write(fid, u64::MAX - 3, b"xxxx")),
    ];
    for (what, b) in &cases {
        let st = status_of(&mut c, cmd::WRITE, b);
        assert!(st >> 30 == 3, "WRITE {what}: {st:#x}");
    }
    env.logged(&c, "WRITE data");
    // A WRITE larger than its credit charge allows.
    let big = vec![0x61; 200 * 1024];
    let mut h = c.header(cmd::WRITE);
    h.credit_charge = 1;
    let r = c.call_with(h, &body::write(fid, 0, &big));
    assert_eq!(
        r.status,
        status::INVALID_PARAMETER,
        "200 KiB WRITE charged 1"
    );
    for (what, off, len) in [
        ("Length 4 GiB", 0u64, u32::MAX),
        ("Length beyond MaxReadSize", 0, 16 << 20),
        ("Length above its credit charge", 0, 1 << 20),
    ] {
        let st = status_of(&mut c, cmd::READ, &body::read(fid, off, len));
        assert_eq!(st, status::INVALID_PARAMETER, "READ {what}");
    }
    for (what, off) in [("offset 2^63", 1u64 << 63), ("offset 2^64-1", u64::MAX)] {
        let st = status_of(&mut c, cmd::READ, &body::read(fid, off, 10));
        assert!(st >> 30 == 3, "READ {what}: {st:#x}");
    }
    let r = c.call(cmd::READ, &body::read(fid, 0, 10));
    assert_eq!(r.status, status::SUCCESS);
    assert_eq!(&r.msg[80..90], b"0123456789", "the file was not damaged");
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 7. EA lists (SET_INFO FileFullEaInformation).

/// One FILE_FULL_EA_INFORMATION entry.
fn ea(next: u32, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&next.to_le_bytes()); // 0 NextEntryOffset
    e.push(0); //                                4 Flags
    e.push(name.len() as u8); //                 5 EaNameLength
    e.extend_from_slice(&(value.len() as u16).to_le_bytes()); // 6 EaValueLength
    e.extend_from_slice(name); //                8 EaName
    e.push(0);
    e.extend_from_slice(value);
    e
}

#[test]
fn ea_lists() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = env.client();
    let fid = open_file(&mut c, "ea.txt");
    let mut looping = ea(0, b"A", b"v");
    le32(&mut looping, 0, 0); // ends; then one that points at itself
    let self_loop = {
        let mut v = ea(12, b"AB", b"");
        v.resize(12, 0);
        v
    };
    let many: Vec<u8> = (0..5000).flat_map(|_| ea(12, b"A", b"v")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "NextEntryOffset beyond the buffer",
            ea(0x1000, b"NAME", b"value"),
        ),
        ("NextEntryOffset inside the entry", {
            let mut v = ea(4, b"NAME", b"value");
            v.extend_from_slice(&ea(0, b"B", b"b"));
            v
        }),
        ("NextEntryOffset 2^32-1", ea(u32::MAX, b"NAME", b"value")),
        ("name length beyond", {
            let mut v = ea(0, b"NAME", b"value");
            v[5] = 200;
            v
        }),
        ("value length beyond", {
            let mut v = ea(0, b"NAME", b"value");
            le16(&mut v, 6, 0xfff0);
            v
        }),
        ("name without its NUL", {
            let mut v = ea(0, b"NAME", b"value");
            v[12] = b'X';
            v
        }),
        ("a chain that never ends", self_loop.repeat(2000)),
        ("more entries than allowed", many),
        ("a bare header", vec![0, 0, 0, 0, 0]),
    ];
    for (what, list) in &cases {
        let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 1, 15, 0, list));
        assert_eq!(st, status::INVALID_PARAMETER, "{what}");
    }
    env.logged(&c, "EA");
    // The SET_INFO buffer itself beyond the message.
    let b = body::set_info_raw(fid, 1, 15, 0, 96, 0xffff, &ea(0, b"A", b"v"));
    assert_eq!(
        status_of(&mut c, cmd::SET_INFO, &b),
        status::INVALID_PARAMETER
    );
    let b = body::set_info_raw(fid, 1, 15, 0, 0xfff0, 12, &ea(0, b"A", b"v"));
    assert_eq!(
        status_of(&mut c, cmd::SET_INFO, &b),
        status::INVALID_PARAMETER
    );
    // An EA list in a CREATE context (ExtA) is checked the same way.
    let ctx = body::create_context(b"ExtA", &ea(0x1000, b"NAME", b"value"));
    let st = status_of(
        &mut c,
        cmd::CREATE,
        &body::create("ea2.txt", 1, disposition::OPEN_IF, 0, &ctx),
    );
    assert_eq!(st, status::INVALID_PARAMETER, "ExtA with a bad EA list");
    assert_eq!(c.close(fid).status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 8. Compounds.

/// Builds a compound of (header, body) pairs for `c`, each taking the
/// next message id.
fn compound_of(c: &mut Client, parts: &[(Header, Vec<u8>)]) -> Vec<u8> {
    let msgs: Vec<Vec<u8>> = parts
        .iter()
        .map(|(h, b)| {
            let mut h = *h;
            h.message_id = c.next_id;
            c.message(h, b)
        })
        .collect();
    compound(&msgs)
}

fn related(mut h: Header) -> Header {
    h.flags |= flags::RELATED_OPERATIONS;
    h
}

/// Sends a compound and collects every response to it (interim ones
/// skipped).
fn run_compound(c: &mut Client, msg: &[u8], count: usize) -> Vec<Response> {
    c.send_msg(msg).unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        match c.recv() {
            Recv::Msg(rs) => out.extend(rs),
            other => panic!("compound: {other:?} after {} responses", out.len()),
        }
    }
    out
}

#[test]
fn compounds() {
    let mut env = Env::start("");
    let mut bystander = env.client();

    // Broken chains end the connection.
    type Patch = Box<dyn Fn(&mut Vec<u8>)>;
    let broken: Vec<(&str, Patch, &str)> = vec![
        (
            "misaligned NextCommand",
            Box::new(|m| le32(m, 20, 68)),
            "bad NextCommand",
        ),
        (
            "NextCommand past the end",
            Box::new(|m| le32(m, 20, 4096)),
            "bad NextCommand",
        ),
        (
            "NextCommand inside the header",
            Box::new(|m| le32(m, 20, 8)),
            "bad NextCommand",
        ),
    ];
    for (what, patch, why) in &broken {
        let mut c = env.client();
        let h = c.header(cmd::ECHO);
        let mut m = compound_of(&mut c, &[(h, body::echo()), (h, body::echo())]);
        patch(&mut m);
        c.send_msg(&m).unwrap();
        assert!(c.closed_within(Duration::from_secs(10)), "{what}");
        env.logged(&c, why);
    }
    let mut c = env.client();
    let h = c.header(cmd::ECHO);
    let parts: Vec<(Header, Vec<u8>)> = (0..65).map(|_| (h, body::echo())).collect();
    let m = compound_of(&mut c, &parts);
    c.send_msg(&m).unwrap();
    closes_with(&env, &mut c, "more than 64");

    // A first request marked related has nothing to inherit: it fails
    // alone (as in Samba), the rest of the chain goes on.
    let mut c = env.client();
    let parts = [
        (
            related(c.header(cmd::CREATE)),
            body::create("first.txt", 1, disposition::OPEN_IF, 0, &[]),
        ),
        (c.header(cmd::ECHO), body::echo()),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 2);
    assert_eq!(
        rs[0].status,
        status::INVALID_PARAMETER,
        "first request related"
    );
    assert_eq!(rs[1].status, status::SUCCESS);
    env.logged(&c, "command=\"CREATE\"");

    // Related operations after TREE_DISCONNECT and LOGOFF.
    let mut c = env.client();
    let create = body::create("rel.txt", 1, disposition::OPEN_IF, 0, &[]);
    let parts = [
        (c.header(cmd::TREE_DISCONNECT), body::tree_disconnect()),
        (related(c.header(cmd::CREATE)), create.clone()),
        (related(c.header(cmd::CLOSE)), body::close(FileId::RELATED)),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 3);
    assert_eq!(rs[0].status, status::SUCCESS);
    assert_eq!(
        rs[1].status,
        status::NETWORK_NAME_DELETED,
        "CREATE after TREE_DISCONNECT"
    );
    assert!(
        rs[2].status >> 30 == 3,
        "CLOSE of nothing: {:#x}",
        rs[2].status
    );
    env.logged(&c, "command=\"CREATE\"");
    assert_eq!(c.echo().status, status::SUCCESS);

    let mut c = env.client();
    let parts = [
        (c.header(cmd::LOGOFF), body::logoff()),
        (related(c.header(cmd::CREATE)), create.clone()),
        (
            related(c.header(cmd::TREE_DISCONNECT)),
            body::tree_disconnect(),
        ),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 3);
    assert_eq!(rs[0].status, status::SUCCESS);
    // The session they would inherit is gone: nothing to inherit (as in
    // Samba).
    assert_eq!(
        rs[1].status,
        status::INVALID_PARAMETER,
        "CREATE after LOGOFF"
    );
    assert_eq!(
        rs[2].status,
        status::INVALID_PARAMETER,
        "TREE_DISCONNECT after LOGOFF"
    );
    // And an unrelated request naming the old session finds none.
    let r = c.call(cmd::CREATE, &create);
    assert_eq!(r.status, status::USER_SESSION_DELETED);
    assert_eq!(c.echo().status, status::SUCCESS);

    // Related operations on a handle that was closed earlier in the chain;
    // a related element whose own ids disagree with the chain's (they are
    // ignored: the chain's apply); a failed CREATE fails what follows.
    std::fs::write(env.share.join("rel.txt"), b"x").unwrap();
    let mut c = env.client();
    let mut bogus = related(c.header(cmd::READ));
    bogus.session_id = 0xdead_beef;
    bogus.tree_id = 0x7777;
    let parts = [
        (c.header(cmd::CREATE), create.clone()),
        (bogus, body::read(FileId::RELATED, 0, 1)),
        (related(c.header(cmd::CLOSE)), body::close(FileId::RELATED)),
        (
            related(c.header(cmd::READ)),
            body::read(FileId::RELATED, 0, 1),
        ),
        (related(c.header(cmd::CLOSE)), body::close(FileId::RELATED)),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 5);
    assert_eq!(rs[0].status, status::SUCCESS);
    assert_eq!(rs[1].status, status::SUCCESS, "READ with the chain's ids");
    assert_eq!(
        rs[1].session_id, c.session_id,
        "related READ keeps the chain's session"
    );
    assert_eq!(rs[2].status, status::SUCCESS);
    assert_eq!(rs[3].status, status::FILE_CLOSED, "READ after CLOSE");
    assert_eq!(rs[4].status, status::FILE_CLOSED, "second CLOSE");
    let parts = [
        (
            c.header(cmd::CREATE),
            body::create("no\\such\\dir.txt", 1, disposition::OPEN, 0, &[]),
        ),
        (
            related(c.header(cmd::READ)),
            body::read(FileId::RELATED, 0, 1),
        ),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 2);
    assert!(rs[0].status >> 30 == 3);
    assert_eq!(
        rs[1].status, rs[0].status,
        "the failure carries down the chain"
    );
    // An unrelated element naming the related file id has no file.
    let parts = [
        (c.header(cmd::ECHO), body::echo()),
        (c.header(cmd::READ), body::read(FileId::RELATED, 0, 1)),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 2);
    assert_eq!(rs[1].status, status::FILE_CLOSED);
    // CHANGE_NOTIFY cannot wait in the middle of a chain.
    let dir = open_root(&mut c);
    let parts = [
        (c.header(cmd::CHANGE_NOTIFY), body::change_notify(dir, 0x17)),
        (c.header(cmd::CHANGE_NOTIFY), body::change_notify(dir, 0x17)),
        (c.header(cmd::ECHO), body::echo()),
    ];
    let m = compound_of(&mut c, &parts);
    let rs = run_compound(&mut c, &m, 3);
    assert_eq!(
        rs[0].status,
        status::INTERNAL_ERROR,
        "CHANGE_NOTIFY mid-chain"
    );
    assert_eq!(
        rs[1].status,
        status::INTERNAL_ERROR,
        "CHANGE_NOTIFY mid-chain"
    );
    assert_eq!(rs[2].status, status::SUCCESS);
    env.logged(&c, "command=\"CHANGE_NOTIFY\"");
    assert_eq!(c.close(dir).status, status::SUCCESS);
    assert_eq!(c.echo().status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 9. Security descriptors.

/// A self-relative SD: owner S-1-5-32-544, a DACL with one ACE for
/// S-1-1-0. Offsets: owner 20, DACL 36.
fn sd() -> Vec<u8> {
    let sid_admins = [1u8, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0];
    let sid_world = [1u8, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut v = vec![1, 0];
    v.extend_from_slice(&(0x8004u16).to_le_bytes()); // SELF_RELATIVE | DACL_PRESENT
    v.extend_from_slice(&20u32.to_le_bytes()); //  4 OffsetOwner
    v.extend_from_slice(&0u32.to_le_bytes()); //   8 OffsetGroup
    v.extend_from_slice(&0u32.to_le_bytes()); //  12 OffsetSacl
    v.extend_from_slice(&36u32.to_le_bytes()); // 16 OffsetDacl
    v.extend_from_slice(&sid_admins); //          20
    let ace_size = 8 + sid_world.len();
    v.extend_from_slice(&[2, 0]); //              36 AclRevision, Sbz1
    v.extend_from_slice(&((8 + ace_size) as u16).to_le_bytes()); // AclSize
    v.extend_from_slice(&1u16.to_le_bytes()); //  AceCount
    v.extend_from_slice(&0u16.to_le_bytes()); //  Sbz2
    v.extend_from_slice(&[0, 0]); //              44 ACE: ACCESS_ALLOWED, flags
    v.extend_from_slice(&(ace_size as u16).to_le_bytes()); // AceSize
    v.extend_from_slice(&0x001f_01ffu32.to_le_bytes()); // Mask
    v.extend_from_slice(&sid_world); //           52
    v
}

#[test]
fn security_descriptors() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = env.client();
    let fid = open_file(&mut c, "sd.txt");
    let good = sd();
    let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 3, 0, 4, &good));
    assert_ne!(
        st,
        status::INVALID_PARAMETER,
        "a well-formed SD is not malformed"
    );
    let patched = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = sd();
        f(&mut v);
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "DACL offset beyond the buffer",
            patched(&|v| le32(v, 16, 0x1000)),
        ),
        ("DACL offset 2^32-1", patched(&|v| le32(v, 16, u32::MAX))),
        ("owner offset beyond", patched(&|v| le32(v, 4, 0xffff_fff0))),
        ("owner inside the header", patched(&|v| le32(v, 4, 2))),
        (
            "AclSize beyond the buffer",
            patched(&|v| le16(v, 38, 0xfff0)),
        ),
        ("AceCount 65535", patched(&|v| le16(v, 40, 0xffff))),
        ("AceCount beyond the ACL", patched(&|v| le16(v, 40, 3))),
        ("AceSize 0", patched(&|v| le16(v, 46, 0))),
        ("AceSize beyond the ACL", patched(&|v| le16(v, 46, 0x100))),
        ("owner SubAuthorityCount 200", patched(&|v| v[21] = 200)),
        (
            "owner SubAuthorityCount 15, bytes for 2",
            patched(&|v| v[21] = 15),
        ),
        ("ACE SID SubAuthorityCount 255", patched(&|v| v[53] = 255)),
        ("revision 9", patched(&|v| v[0] = 9)),
        ("cut short", sd()[..10].to_vec()),
    ];
    for (what, b) in &cases {
        let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 3, 0, 4, b));
        assert_eq!(st, status::INVALID_PARAMETER, "{what}");
    }
    env.logged(&c, "malformed request");
    // The same in a CREATE SecD context.
    for (what, b) in &cases {
        let ctx = body::create_context(b"SecD", b);
        let st = status_of(
            &mut c,
            cmd::CREATE,
            &body::create("secd.txt", 1, disposition::OPEN_IF, 0, &ctx),
        );
        assert_eq!(st, status::INVALID_PARAMETER, "SecD: {what}");
    }
    assert_eq!(c.close(fid).status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// 10. Paths and pipe names.

#[test]
fn paths_stay_in_the_share() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    std::fs::create_dir(env.share.join("sub")).unwrap();
    std::fs::write(env.share.join("sub/inside.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("/etc", env.share.join("escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", env.share.join("pw")).unwrap();
    std::os::unix::fs::symlink("../../../../../../etc", env.share.join("sub/up")).unwrap();
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let mut c = env.client();
    let names = [
        "..\\etc\\passwd",
        "sub\\..\\..\\etc\\passwd",
        "\\etc\\passwd",
        "\\\\127.0.0.1\\share\\..\\..\\etc\\passwd",
        "sub/../../etc/passwd",
        "sub\\..//..\\etc/passwd",
        "/etc/passwd",
        "C:\\etc\\passwd",
        "escape\\passwd",
        "pw",
        "sub\\up\\passwd",
        "escape",
        "sub\\up",
        "..",
        "sub\\.\\..\\..",
        "sub\\inside.txt:..\\..\\etc\\passwd",
        "sub\\inside.txt\0..\\x",
    ];
    for name in names {
        for dir in [false, true] {
            let opts = if dir { options::DIRECTORY_FILE } else { 0 };
            let r = c.call(
                cmd::CREATE,
                &body::create(
                    name,
                    access::READ_DATA | access::SYNCHRONIZE,
                    disposition::OPEN,
                    opts,
                    &[],
                ),
            );
            let Ok(fid) = create_result(&r) else {
                continue;
            };
            // Whatever opened must not be what lies outside.
            let rd = c.call(cmd::READ, &body::read(fid, 0, 65536));
            if rd.status == status::SUCCESS {
                assert_ne!(&rd.msg[80..], &passwd[..], "{name} read /etc/passwd");
            }
            let q = c.call(cmd::QUERY_DIRECTORY, &body::query_directory(fid, "*"));
            if q.status == status::SUCCESS {
                let listing = String::from_utf16_lossy(
                    &q.msg[72..]
                        .chunks_exact(2)
                        .map(|p| u16::from_le_bytes([p[0], p[1]]))
                        .collect::<Vec<_>>(),
                );
                assert!(!listing.contains("passwd"), "{name} lists /etc");
            }
            c.close(fid);
        }
    }
    env.logged(&c, "command=\"CREATE\"");
    // Creating through the links does not create outside the share.
    for name in ["escape\\smbd-badinput-test", "sub\\up\\smbd-badinput-test"] {
        let st = c
            .create(name, access::WRITE_DATA, disposition::CREATE, 0)
            .map(|_| 0)
            .unwrap_or_else(|s| s);
        assert!(st >> 30 == 3, "create {name}: {st:#x}");
    }
    assert!(!std::path::Path::new("/etc/smbd-badinput-test").exists());
    // Renames cannot move a file out either.
    let fid = c
        .create(
            "sub\\inside.txt",
            access::READ_DATA | 0x0001_0000, // DELETE
            disposition::OPEN,
            0,
        )
        .expect("open for rename");
    for target in [
        "..\\outside.txt",
        "\\..\\outside.txt",
        "/tmp/outside.txt",
        "sub\\..\\..\\outside.txt",
        "escape\\smbd-badinput-test",
        "sub\\up\\smbd-badinput-test",
        "C:\\outside.txt",
    ] {
        let name = utf16(target);
        let mut info = vec![0u8; 16]; // ReplaceIfExists, Reserved, RootDirectory
        info.extend_from_slice(&(name.len() as u32).to_le_bytes());
        info.extend_from_slice(&name);
        let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 1, 10, 0, &info));
        assert!(st >> 30 == 3, "rename to {target}: {st:#x}");
    }
    // (A rename inside the share works, so the above failed for their
    // targets, not their form.)
    let name = utf16("sub\\renamed.txt");
    let mut info = vec![0u8; 16];
    info.extend_from_slice(&(name.len() as u32).to_le_bytes());
    info.extend_from_slice(&name);
    let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 1, 10, 0, &info));
    assert_eq!(st, status::SUCCESS, "rename inside the share");
    // A FileNameLength beyond the buffer.
    let mut info = vec![0u8; 16];
    info.extend_from_slice(&0xffffu32.to_le_bytes());
    info.extend_from_slice(&utf16("x.txt"));
    let st = status_of(&mut c, cmd::SET_INFO, &body::set_info(fid, 1, 10, 0, &info));
    assert_eq!(st, status::INVALID_PARAMETER);
    c.close(fid);
    assert!(env.share.join("sub/renamed.txt").exists());
    assert!(!std::path::Path::new("/etc/smbd-badinput-test").exists());
    assert!(!env.share.parent().unwrap().join("outside.txt").exists());
    env.others_carry_on(&mut bystander);
}

#[test]
fn symlink_swapped_during_access() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let real = env.share.join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("passwd"), b"inside").unwrap();
    let link = env.share.join("swap-link");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let target = env.share.join("d");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Swap "d" between the real directory and the link to /etc as fast
    // as possible.
    let swapper = {
        let stop = stop.clone();
        let (real, link, target) = (real.clone(), link.clone(), target.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(&real, &target);
                let _ = std::fs::rename(&target, &real);
                let _ = std::fs::rename(&link, &target);
                let _ = std::fs::rename(&target, &link);
                n += 1;
            }
            n
        })
    };
    let mut c = env.client();
    let mut opened = 0;
    for _ in 0..300 {
        if let Ok(fid) = c.create("d\\passwd", access::READ_DATA, disposition::OPEN, 0) {
            opened += 1;
            let rd = c.call(cmd::READ, &body::read(fid, 0, 65536));
            if rd.status == status::SUCCESS {
                assert_eq!(&rd.msg[80..], b"inside", "read through the swapped link");
            }
            c.close(fid);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("{opened} of 300 opens succeeded during {swaps} swaps");
    env.others_carry_on(&mut bystander);
}

#[test]
fn pipe_names_with_paths() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = Client::ready(env.port(), Some((&env.user.clone(), PASSWORD)), "IPC$");
    let ok = c.create(
        "srvsvc",
        access::READ_DATA | access::WRITE_DATA,
        disposition::OPEN,
        0,
    );
    let fid = ok.expect("srvsvc opens");
    c.close(fid);
    for name in [
        "..\\..\\..\\etc\\passwd",
        "/etc/passwd",
        "\\etc\\passwd",
        "srvsvc\\..\\..\\etc\\passwd",
        "srvsvc/../../tmp/x",
        "\\\\127.0.0.1\\pipe\\..\\..\\x",
        "..\\srvsvc",
        "/tmp/evil.so",
        "srvsvc\0evil",
    ] {
        let st = c
            .create(
                name,
                access::READ_DATA | access::WRITE_DATA,
                disposition::OPEN,
                0,
            )
            .map(|_| 0)
            .unwrap_or_else(|s| s);
        assert_eq!(st, status::OBJECT_NAME_NOT_FOUND, "pipe {name:?}");
    }
    env.logged(&c, "command=\"CREATE\"");
    // DCE/RPC that lies about its fragment length, and garbage.
    let fid = c
        .create(
            "srvsvc",
            access::READ_DATA | access::WRITE_DATA,
            disposition::OPEN,
            0,
        )
        .unwrap();
    let mut pdu = vec![5, 0, 11, 3, 0x10, 0, 0, 0]; // v5.0 BIND, first+last, little-endian
    pdu.extend_from_slice(&0xffffu16.to_le_bytes()); // frag_length
    pdu.extend_from_slice(&0u16.to_le_bytes()); // auth_length
    pdu.extend_from_slice(&1u32.to_le_bytes()); // call_id
    pdu.extend_from_slice(&[0x41; 40]);
    for data in [pdu.clone(), vec![0xff; 300], pdu[..10].to_vec()] {
        let w = c.call(cmd::WRITE, &body::write(fid, 0, &data));
        let r = c.call(cmd::READ, &body::read(fid, 0, 4096));
        assert!(
            w.status >> 30 == 3 || r.status >> 30 == 3,
            "garbage on srvsvc: write {:#x}, read {:#x}",
            w.status,
            r.status
        );
    }
    c.close(fid);
    assert_eq!(c.echo().status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// Transforms and signatures.

#[test]
fn compression_and_encryption_transforms() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    // SMBGhost (CVE-2020-0796): a COMPRESSION_TRANSFORM_HEADER whose
    // OriginalCompressedSegmentSize and Offset overflow when added.
    let mut ghost = vec![0xfc, b'S', b'M', b'B'];
    ghost.extend_from_slice(&u32::MAX.to_le_bytes()); // OriginalCompressedSegmentSize
    ghost.extend_from_slice(&1u16.to_le_bytes()); //     CompressionAlgorithm: LZNT1
    ghost.extend_from_slice(&0u16.to_le_bytes()); //     Flags
    ghost.extend_from_slice(&u32::MAX.to_le_bytes()); // Offset
    ghost.extend_from_slice(&[0x41; 64]);
    for logged_on in [false, true] {
        let mut c = if logged_on {
            env.client()
        } else {
            Client::connect(env.port())
        };
        c.send_msg(&ghost).unwrap();
        closes_with(&env, &mut c, "not an SMB2 message");
    }
    // An encryption transform for a session nobody has, one cut short,
    // one whose size does not match.
    let mut c = env.client();
    let mut t = vec![0xfd, b'S', b'M', b'B'];
    t.extend_from_slice(&[0; 32]); // Signature, Nonce
    t.extend_from_slice(&64u32.to_le_bytes()); // OriginalMessageSize
    t.extend_from_slice(&[0, 0, 1, 0]); // Reserved, Flags: encrypted
    t.extend_from_slice(&0x4242u64.to_le_bytes()); // SessionId
    t.extend_from_slice(&[0; 64]);
    c.send_msg(&t).unwrap();
    closes_with(&env, &mut c, "unknown session");
    let mut c = env.client();
    c.send_msg(&t[..40]).unwrap();
    closes_with(&env, &mut c, "truncated transform header");
    let mut c = env.client();
    let mut t2 = t.clone();
    le32(&mut t2, 36, 0xffff_ffff);
    c.send_msg(&t2).unwrap();
    closes_with(&env, &mut c, "OriginalMessageSize");
    env.others_carry_on(&mut bystander);
}

#[test]
fn bad_signatures() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = env.client();
    c.sign = true;
    let fid = open_file(&mut c, "signed.txt");
    // One bit of the signature flipped; a signed request with a modified
    // body; the SIGNED flag with an all-zero signature.
    for what in ["flipped bit", "modified body", "zero signature"] {
        let h = c.header(cmd::READ);
        let mut m = c.message(h, &body::read(fid, 0, 10));
        match what {
            "flipped bit" => m[50] ^= 1,
            "modified body" => m[64 + 4] ^= 1,
            _ => m[48..64].fill(0),
        }
        c.send_msg(&m).unwrap();
        let r = c.response();
        assert_eq!(r.status, status::ACCESS_DENIED, "{what}");
    }
    env.logged(&c, "bad or missing signature");
    // Correctly signed requests still work.
    let r = c.call(cmd::READ, &body::read(fid, 0, 10));
    assert!(r.status == status::SUCCESS || r.status == 0xc000_0011);
    // A guest session has no key: a request flagged as signed is refused.
    let mut g = Client::ready(env.port(), None, "share");
    let mut h = g.header(cmd::CREATE);
    h.flags |= flags::SIGNED;
    let r = g.call_with(h, &body::create("g.txt", 1, disposition::OPEN_IF, 0, &[]));
    assert_eq!(r.status, status::ACCESS_DENIED);
    env.logged(&g, "bad or missing signature");
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// Credits.

#[test]
fn credit_overflow() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    // A message id beyond the granted window.
    let mut c = env.client();
    let mut h = c.header(cmd::ECHO);
    h.message_id = c.granted + 10;
    let m = c.message(h, &body::echo());
    c.send_msg(&m).unwrap();
    closes_with(&env, &mut c, "outside the granted window");
    // A huge CreditCharge.
    let mut c = env.client();
    let mut h = c.header(cmd::READ);
    h.credit_charge = 0xffff;
    let m = c.message(h, &body::read(FileId([0; 16]), 0, 1));
    c.send_msg(&m).unwrap();
    closes_with(&env, &mut c, "outside the granted window");
    // The last message id there is, and one reused.
    let mut c = env.client();
    let mut h = c.header(cmd::ECHO);
    h.message_id = u64::MAX;
    let m = c.message(h, &body::echo());
    c.send_msg(&m).unwrap();
    closes_with(&env, &mut c, "outside the granted window");
    let mut c = env.client();
    let mut h = c.header(cmd::ECHO);
    h.message_id = c.next_id - 1;
    let m = c.message(h, &body::echo());
    c.send_msg(&m).unwrap();
    closes_with(&env, &mut c, "message id");
    // Asking for every credit there is gets no more than the cap, and the
    // window holds.
    let mut c = env.client();
    let mut h = c.header(cmd::ECHO);
    h.credits = u16::MAX;
    let r = c.call_with(h, &body::echo());
    assert!(r.credits as u64 <= 8192, "granted {}", r.credits);
    assert_eq!(c.echo().status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// Resource exhaustion.

#[test]
fn too_many_sessions_on_one_connection() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    let mut c = Client::connect(env.port());
    c.negotiate(&DIALECTS);
    // Half-done session setups each hold a session; the limit is 64.
    let mut refused = None;
    for i in 0..80 {
        c.session_id = 0;
        let r = c.call(
            cmd::SESSION_SETUP,
            &body::session_setup(&ntlmssp::negotiate(), 0),
        );
        if r.status != status::MORE_PROCESSING_REQUIRED {
            assert_eq!(r.status, status::INSUFFICIENT_RESOURCES);
            refused = Some(i);
            break;
        }
    }
    assert_eq!(refused, Some(64), "the 65th session is refused");
    env.logged(&c, "too many sessions");
    // The connection itself carries on.
    assert_eq!(c.echo().status, status::SUCCESS);
    env.others_carry_on(&mut bystander);
}

#[test]
fn too_many_opens() {
    let mut env = Env::start("  max open files = 40\n");
    let mut bystander = env.client();
    let mut c = env.client();
    let mut fids = Vec::new();
    let mut refused = None;
    for i in 0..60 {
        match c.create(
            &format!("open-{i}.txt"),
            access::READ_DATA,
            disposition::OPEN_IF,
            0,
        ) {
            Ok(f) => fids.push(f),
            Err(s) => {
                assert_eq!(s, status::TOO_MANY_OPENED_FILES);
                refused = Some(i);
                break;
            }
        }
    }
    assert_eq!(refused, Some(40));
    env.logged(&c, "too many open files");
    // Closing one makes room again.
    assert_eq!(c.close(fids.pop().unwrap()).status, status::SUCCESS);
    let f = open_file(&mut c, "one-more.txt");
    fids.push(f);
    assert_eq!(
        c.create(
            "and-another.txt",
            access::READ_DATA,
            disposition::OPEN_IF,
            0
        ),
        Err(status::TOO_MANY_OPENED_FILES)
    );
    // A second tree of the same connection shares the count; a tree
    // disconnect gives its opens back.
    let mut c2 = env.client();
    for f in fids.drain(..) {
        c.close(f);
    }
    let t1 = c.tree_id;
    assert_eq!(c.tree_connect("share").status, status::SUCCESS);
    for i in 0..40 {
        c.create(
            &format!("t2-{i}.txt"),
            access::READ_DATA,
            disposition::OPEN_IF,
            0,
        )
        .expect("opens on the second tree");
    }
    c.tree_id = t1;
    assert_eq!(
        c.create("t1.txt", access::READ_DATA, disposition::OPEN_IF, 0),
        Err(status::TOO_MANY_OPENED_FILES)
    );
    // Other clients are not limited by this one.
    for i in 0..10 {
        c2.create(
            &format!("other-{i}.txt"),
            access::READ_DATA,
            disposition::OPEN_IF,
            0,
        )
        .expect("another client opens");
    }
    env.others_carry_on(&mut bystander);
}

#[test]
fn too_many_pending_requests() {
    let mut env = Env::start("  max pending requests = 50\n");
    let mut bystander = env.client();
    let mut c = env.client();
    let dir = open_root(&mut c);
    // CHANGE_NOTIFY requests wait until something changes: each stays
    // pending. The 51st request in flight ends the connection (the
    // waiting ones are answered NOTIFY_CLEANUP as it goes).
    let mut pending = 0;
    for _ in 0..60 {
        let h = c.header(cmd::CHANGE_NOTIFY);
        let m = c.message(h, &body::change_notify(dir, 0x17));
        if c.send_msg(&m).is_err() {
            break;
        }
        match c.recv() {
            Recv::Msg(rs) if rs[0].status == status::PENDING => pending += 1,
            Recv::Msg(rs) => {
                assert_eq!(rs[0].status, status::NOTIFY_CLEANUP);
                break;
            }
            Recv::Closed => break,
            Recv::Timeout => panic!("no interim response"),
        }
    }
    assert_eq!(pending, 50);
    assert!(c.closed_within(Duration::from_secs(10)));
    env.logged(&c, "too many requests in flight");
    env.others_carry_on(&mut bystander);
}

// ---------------------------------------------------------------------------
// Slow clients.

#[test]
fn half_sent_packets() {
    let mut env = Env::start("  stall timeout = 3\n");
    let mut bystander = env.client();
    let start = std::time::Instant::now();
    // Connects and says nothing.
    let mut silent = Client::connect(env.port());
    // Sends 10 bytes of a NEGOTIATE, then nothing.
    let mut early = Client::connect(env.port());
    let neg = nbss(&raw_msg(
        cmd::NEGOTIATE,
        0,
        &body::negotiate(&DIALECTS, &[], 0),
    ));
    early.send_raw(&neg[..10]).unwrap();
    // Logged on, then 10 bytes of an ECHO and nothing.
    let mut late = env.client();
    let h = late.header(cmd::ECHO);
    let echo = nbss(&late.message(h, &body::echo()));
    late.send_raw(&echo[..10]).unwrap();
    // Only the frame header.
    let mut header_only = env.client();
    header_only.send_raw(&[0, 0, 0, 100]).unwrap();
    // Meanwhile everyone else is served at once.
    env.others_carry_on(&mut bystander);
    assert!(start.elapsed() < Duration::from_secs(3), "others waited");
    for (c, why) in [
        (&mut silent, "no NEGOTIATE in time"),
        // Whichever comes first: the NEGOTIATE deadline or the stall.
        (&mut early, "closing connection"),
        (&mut late, "stalled"),
        (&mut header_only, "stalled"),
    ] {
        assert!(
            c.closed_within(Duration::from_secs(10)),
            "{why}: not dropped"
        );
        env.logged(c, why);
    }
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "dropped too early"
    );
    env.others_carry_on(&mut bystander);
    env.smbclient_ls();
}

fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn client_that_never_reads() {
    let mut env = Env::start("  stall timeout = 3\n");
    let mut bystander = env.client();
    let mut c = env.client();
    let fid = open_file(&mut c, "big.bin");
    std::fs::write(env.share.join("big.bin"), vec![0x5a; 65536]).unwrap();
    // Enough credits for everything below.
    let mut h = c.header(cmd::ECHO);
    h.credits = 4000;
    c.call_with(h, &body::echo());
    assert!(
        c.granted - c.next_id > 3000,
        "credits: {}",
        c.granted - c.next_id
    );
    let before = rss_kib(env.smbd.pid());
    // READs of 64 KiB each, never reading a reply; each request padded so
    // the request side fills up too, and asking for one credit back so
    // the window moves on with the replies the server builds.
    c.stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut sent = 0;
    let mut blocked = false;
    while sent < 6000 {
        let mut h = c.header(cmd::READ);
        h.credits = 1;
        let mut b = body::read(fid, 0, 65536);
        b.resize(16 * 1024, 0);
        let m = c.message(h, &b);
        if c.send_msg(&m).is_err() {
            blocked = true;
            break;
        }
        sent += 1;
    }
    let grown = rss_kib(env.smbd.pid()).saturating_sub(before);
    eprintln!("{sent} requests sent (blocked: {blocked}); smbd's RSS grew {grown} KiB");
    assert!(
        blocked,
        "smbd kept reading {sent} requests from a client that reads nothing"
    );
    assert!(
        grown < 200 * 1024,
        "smbd buffered {grown} KiB for one client"
    );
    // Others are served meanwhile; after the stall timeout the client is
    // dropped.
    env.others_carry_on(&mut bystander);
    env.logged(&c, "stopped reading");
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        match std::io::Read::read(&mut c.stream, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    eprintln!("drained {drained} bytes before the close");
    env.others_carry_on(&mut bystander);
    env.smbclient_ls();
}

// ---------------------------------------------------------------------------
// Every request, every field: each single-byte, u16 and u32 change of
// well-formed requests gets an answer or a closed connection, never a
// panic or a hang.

/// FSCTL_VALIDATE_NEGOTIATE_INFO input matching `Client::negotiate`.
fn ioctl_validate(fid: FileId) -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    input.extend_from_slice(&[0x42; 16]); //        Guid
    input.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode
    input.extend_from_slice(&(DIALECTS.len() as u16).to_le_bytes());
    for d in DIALECTS {
        input.extend_from_slice(&d.to_le_bytes());
    }
    let mut b = vec![0u8; 56];
    le16(&mut b, 0, 57); //                         StructureSize
    le32(&mut b, 4, 0x0014_0204); //                CtlCode
    b[8..24].copy_from_slice(&fid.0); //            FileId
    le32(&mut b, 24, 64 + 56); //                   InputOffset
    le32(&mut b, 28, input.len() as u32); //        InputCount
    le32(&mut b, 44, 4096); //                      MaxOutputResponse
    le32(&mut b, 48, 1); //                         Flags: FSCTL
    b.extend_from_slice(&input);
    b
}

fn lock_body(fid: FileId) -> Vec<u8> {
    let mut b = vec![0u8; 24];
    le16(&mut b, 0, 48); //                         StructureSize
    le16(&mut b, 2, 1); //                          LockCount
    b[8..24].copy_from_slice(&fid.0);
    b.extend_from_slice(&10u64.to_le_bytes()); //   Offset
    b.extend_from_slice(&5u64.to_le_bytes()); //    Length
    b.extend_from_slice(&0x12u32.to_le_bytes()); // EXCLUSIVE | FAIL_IMMEDIATELY
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn field_mutations() {
    let mut env = Env::start("");
    let mut bystander = env.client();
    std::fs::write(env.share.join("m.txt"), b"mutations").unwrap();
    let setup = |env: &Env| {
        let mut c = env.client();
        let fid = open_file(&mut c, "m.txt");
        let dir = open_root(&mut c);
        (c, fid, dir)
    };
    let (mut c, fid, dir) = setup(&env);
    let templates: Vec<(u16, Vec<u8>)> = vec![
        (
            cmd::CREATE,
            body::create(
                "m2.txt",
                1,
                disposition::OPEN_IF,
                0,
                &body::create_context(b"SecD", &sd()),
            ),
        ),
        (cmd::WRITE, body::write(fid, 3, b"abc")),
        (cmd::READ, body::read(fid, 0, 9)),
        (cmd::LOCK, lock_body(fid)),
        (cmd::IOCTL, ioctl_validate(FileId([0xff; 16]))),
        (
            cmd::SET_INFO,
            body::set_info(fid, 1, 15, 0, &ea(0, b"NAME", b"value")),
        ),
        (cmd::SET_INFO, body::set_info(fid, 3, 0, 4, &sd())),
        (cmd::SET_INFO, body::set_info(fid, 1, 4, 0, &[0u8; 40])),
        (cmd::QUERY_INFO, body::query_info(fid, 1, 18, 0, 4096)),
        (cmd::QUERY_INFO, body::query_info(fid, 3, 0, 7, 4096)),
        (cmd::QUERY_INFO, body::query_info(fid, 2, 1, 0, 4096)),
        (cmd::QUERY_DIRECTORY, body::query_directory(dir, "*")),
        (
            cmd::TREE_CONNECT,
            body::tree_connect("\\\\127.0.0.1\\share"),
        ),
        (cmd::CLOSE, body::close(FileId([0x11; 16]))),
        (cmd::ECHO, body::echo()),
    ];
    let (mut sent, mut closed) = (0, 0);
    for (command, template) in &templates {
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for at in 0..template.len() {
            for v in [0x00u8, 0xff, 0x80, 0x07] {
                let mut b = template.clone();
                b[at] = v;
                variants.push(b);
            }
            if at % 2 == 0 && at + 2 <= template.len() {
                let mut b = template.clone();
                le16(&mut b, at, 0xffff);
                variants.push(b);
            }
            if at % 4 == 0 && at + 4 <= template.len() {
                for v in [u32::MAX, 0x7fff_ffff, 0x0001_0000] {
                    let mut b = template.clone();
                    le32(&mut b, at, v);
                    variants.push(b);
                }
            }
        }
        for b in variants.iter().filter(|b| *b != template) {
            let h = c.header(*command);
            let m = c.message(h, b);
            sent += 1;
            let answered = c.send_msg(&m).is_ok()
                && match c.recv() {
                    Recv::Msg(_) => true,
                    Recv::Closed => false,
                    Recv::Timeout => panic!("{command:#x}: no answer to {b:02x?}"),
                };
            if !answered {
                // Only the VALIDATE_NEGOTIATE_INFO mismatch may end it.
                assert_eq!(*command, cmd::IOCTL, "closed after {b:02x?}");
                closed += 1;
                let (c2, f2, d2) = setup(&env);
                assert_eq!((f2, d2), (fid, dir), "same ids on a new connection");
                c = c2;
            }
        }
    }
    eprintln!("{sent} mutated requests, {closed} connections ended");
    let log = env.smbd.log_text();
    assert!(!log.contains("panicked"), "{log}");
    env.others_carry_on(&mut bystander);
}

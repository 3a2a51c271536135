//! Routes each request to its handler: connection-level commands here and
//! in `session`/`tree`, file commands to the tree's NTVFS backend. The
//! front end parses and emits; the backend decides what things mean.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::session::{self, Session};
use super::tree::{self, Tree};
use super::{Connection, Outcome, Request, Wake};
use crate::cmd;
use crate::ntvfs::info::{FileInfo, FsInfo};
use crate::ntvfs::types::fsctl;
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::header::{Command, HEADER_LEN};
use crate::wire::reader::WireError;

const LOG: &str = "smbd::request";

fn bad(conn: &Connection, req: &Request, e: WireError) -> Outcome {
    tracing::info!(target: LOG, peer = %conn.peer, command = req.header.command.name(), "malformed request: {e}");
    Outcome::err(NtStatus::INVALID_PARAMETER)
}

/// Polls `f` once: its output when it is ready at once.
fn now<T>(f: &mut Pin<Box<dyn Future<Output = T> + Send>>) -> Option<T> {
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

pub async fn dispatch(conn: &Arc<Connection>, req: &Request) -> Outcome {
    let h = &req.header;
    let Some(negd) = conn.negotiated() else {
        if h.command == Command::NEGOTIATE {
            return session::negotiate(conn, req).await;
        }
        return Outcome::Disconnect(format!("{} before NEGOTIATE", h.command.name()));
    };
    match h.command {
        Command::NEGOTIATE => return session::negotiate(conn, req).await,
        Command::SESSION_SETUP => return session::session_setup(conn, req).await,
        Command::ECHO => {
            if let Err(e) = cmd::echo::parse(&req.msg) {
                return bad(conn, req, e);
            }
            let mut body = Vec::new();
            cmd::echo::emit(&mut body);
            return Outcome::ok(body);
        }
        _ => {}
    }
    let Some(session) = conn.session(req.session_id).filter(|s| s.is_valid()) else {
        return Outcome::err(NtStatus::USER_SESSION_DELETED);
    };
    match req.encrypted {
        Some(sid) if sid != session.id => return Outcome::err(NtStatus::ACCESS_DENIED),
        Some(_) => {}
        None => {
            if session.encrypt_data() {
                tracing::info!(target: LOG, peer = %conn.peer, "unencrypted request on a session that requires encryption");
                return Outcome::err(NtStatus::ACCESS_DENIED);
            }
            if !session.verify(&req.msg, h, negd.signing) {
                tracing::warn!(target: LOG, peer = %conn.peer, command = h.command.name(), "bad or missing signature");
                return Outcome::err(NtStatus::ACCESS_DENIED);
            }
        }
    }
    match h.command {
        Command::LOGOFF => return session::logoff(conn, req).await,
        Command::TREE_CONNECT => return tree::connect(conn, req).await,
        Command::TREE_DISCONNECT => return tree::disconnect(conn, req).await,
        _ => {}
    }
    let Some(tree) = session.tree(req.tree_id) else {
        return Outcome::err(NtStatus::NETWORK_NAME_DELETED);
    };
    if tree.encrypt && req.encrypted.is_none() {
        return Outcome::err(NtStatus::ACCESS_DENIED);
    }
    let ctx = RequestCtx {
        user: tree.user.clone(),
        client: conn.peer,
        message_id: h.message_id,
        dialect: negd.dialect,
        breaks: tree.breaks.clone(),
        hint: AsyncHint::default(),
    };
    file_command(conn, req, &session, &tree, ctx, negd.dialect).await
}

/// The file a request names, with FileId 0xFF..FF meaning the file of the
/// previous related request.
fn resolve(req: &Request, id: FileId) -> Result<FileId, NtStatus> {
    let id = if id == FileId::RELATED {
        req.related_file.ok_or(req.related_err)?
    } else {
        id
    };
    *req.used_file.lock().expect("used file") = Some(id);
    Ok(id)
}

/// A credit charge large enough for `len` bytes (SMB 2.1 and later).
fn charge_ok(req: &Request, dialect: u16, len: u32) -> bool {
    if dialect < 0x0210 {
        return len <= 65536;
    }
    let needed = len.div_ceil(65536).max(1);
    u32::from(req.header.credit_charge.max(1)) >= needed
}

/// Fits info `data` into the client's buffer: the whole, a truncated part
/// with BUFFER_OVERFLOW (variable-length classes), or INFO_LENGTH_MISMATCH
/// when not even the fixed part fits.
fn fit(mut data: Vec<u8>, max: u32, fixed: usize) -> (NtStatus, Vec<u8>) {
    let max = max as usize;
    if data.len() <= max {
        return (NtStatus::SUCCESS, data);
    }
    if max < fixed {
        return (NtStatus::INFO_LENGTH_MISMATCH, Vec::new());
    }
    data.truncate(max);
    (NtStatus::BUFFER_OVERFLOW, data)
}

/// The smallest buffer a variable-length class answers into (with
/// BUFFER_OVERFLOW); below it, INFO_LENGTH_MISMATCH. The sizes are
/// Windows' (smbtorture smb2.getinfo.qfile_buffercheck and
/// qfs_buffercheck): the fixed part rounded up to 8 where Windows does.
fn file_fixed(info: &FileInfo) -> usize {
    match info {
        FileInfo::All(_) => 104,
        FileInfo::Name { .. } | FileInfo::NormalizedName { .. } => 4,
        FileInfo::AlternateName { .. } => 8,
        FileInfo::Stream(_) => 32,
        FileInfo::FullEa(_) => 0,
        _ => usize::MAX,
    }
}

fn fs_fixed(info: &FsInfo) -> usize {
    match info {
        FsInfo::Volume { .. } => 24,
        FsInfo::Attribute { .. } => 16,
        _ => usize::MAX,
    }
}

fn encode_query(out: &QueryInfoOut) -> (Vec<u8>, usize) {
    let mut data = Vec::new();
    let fixed = match out {
        QueryInfoOut::File(i) => {
            crate::wire::info::encode_file_info(i, &mut data);
            file_fixed(i)
        }
        QueryInfoOut::Fs(i) => {
            crate::wire::info::encode_fs_info(i, &mut data);
            fs_fixed(i)
        }
        QueryInfoOut::Security(sd) => {
            crate::wire::info::encode_sd(sd, &mut data);
            usize::MAX - 1
        }
    };
    let fixed = if fixed == usize::MAX {
        data.len()
    } else {
        fixed
    };
    (data, fixed)
}

async fn file_command(
    conn: &Arc<Connection>,
    req: &Request,
    _session: &Arc<Session>,
    tree: &Arc<Tree>,
    ctx: RequestCtx,
    dialect: u16,
) -> Outcome {
    let b = &tree.backend;
    let result: Result<Outcome, NtStatus> = async {
        Ok(match req.header.command {
            Command::CREATE => {
                let mut io = match cmd::create::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                tree.reserve_open(conn)?;
                io.file_id = conn.new_file_id();
                // A create that must wait for an oplock break goes async
                // when it is the last request of its compound (only such
                // may: MS-SMB2 3.3.4.4); otherwise the compound waits.
                let backend = b.clone();
                let pending = req.pending.clone();
                let hint = ctx.hint.clone();
                let ctx2 = ctx.clone();
                let reserved = tree.clone();
                let mut fut: Pin<Box<dyn Future<Output = NtResult<CreateOut>> + Send>> =
                    Box::pin(async move {
                        tokio::select! {
                            r = backend.create(&ctx2, io) => r,
                            _ = pending.woken() => Err(NtStatus::CANCELLED),
                        }
                        .inspect_err(|_| reserved.release_open())
                    });
                let o = if req.last_in_chain {
                    tokio::select! {
                        biased;
                        r = &mut fut => r?,
                        _ = hint.wait() => {
                            return Ok(Outcome::Async {
                                rest: Box::pin(async move {
                                    match fut.await {
                                        Ok(o) => {
                                            let mut full = vec![0u8; HEADER_LEN];
                                            cmd::create::emit(&o, &mut full);
                                            (NtStatus::SUCCESS, full.split_off(HEADER_LEN))
                                        }
                                        Err(s) => (s, Vec::new()),
                                    }
                                }),
                            });
                        }
                    }
                } else {
                    fut.await?
                };
                let mut full = vec![0u8; HEADER_LEN];
                cmd::create::emit(&o, &mut full);
                Outcome::on_file(NtStatus::SUCCESS, full.split_off(HEADER_LEN), o.file_id)
            }
            Command::CLOSE => {
                let mut io = match cmd::close::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                let closed = b.close(&ctx, io).await;
                if closed.as_ref().err() != Some(&NtStatus::FILE_CLOSED) {
                    tree.release_open();
                }
                let o = closed?;
                conn.cleanup_pending(io.file_id);
                let mut body = Vec::new();
                cmd::close::emit(&o, &mut body);
                Outcome::ok(body)
            }
            Command::FLUSH => {
                let mut io = match cmd::flush::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                b.flush(&ctx, io).await?;
                let mut body = Vec::new();
                cmd::flush::emit(&mut body);
                Outcome::on_file(NtStatus::SUCCESS, body, io.file_id)
            }
            Command::READ => {
                let mut io = match cmd::read::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                if io.length > super::MAX_IO || !charge_ok(req, dialect, io.length) {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let o = b.read(&ctx, io).await?;
                let status = if o.truncated {
                    NtStatus::BUFFER_OVERFLOW
                } else {
                    NtStatus::SUCCESS
                };
                if o.data.is_empty() {
                    let mut body = Vec::new();
                    cmd::read::emit(&o, &mut body);
                    Outcome::on_file(status, body, io.file_id)
                } else {
                    // The data follows the fixed part as its own buffer,
                    // sent without being copied behind the header.
                    let mut body = Vec::new();
                    cmd::read::emit_head(o.data.len(), o.remaining, &mut body);
                    Outcome::Data {
                        status,
                        body,
                        data: o.data,
                        file: Some(io.file_id),
                    }
                }
            }
            Command::WRITE => {
                let mut io = match cmd::write::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                if io.data.len() > super::MAX_IO as usize
                    || !charge_ok(req, dialect, io.data.len() as u32)
                {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let fid = io.file_id;
                let o = b.write(&ctx, io).await?;
                let mut body = Vec::new();
                cmd::write::emit(&o, &mut body);
                Outcome::on_file(NtStatus::SUCCESS, body, fid)
            }
            Command::LOCK => {
                let mut io = match cmd::lock::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                req.pending.set_file(io.file_id, req.tree_id);
                let backend = b.clone();
                let pending = req.pending.clone();
                let ctx = ctx.clone();
                let mut fut: Pin<Box<dyn Future<Output = (NtStatus, Vec<u8>)> + Send>> =
                    Box::pin(async move {
                        tokio::select! {
                            r = backend.lock(&ctx, io) => match r {
                                Ok(()) => {
                                    let mut body = Vec::new();
                                    cmd::lock::emit(&mut body);
                                    (NtStatus::SUCCESS, body)
                                }
                                Err(s) => (s, Vec::new()),
                            },
                            w = pending.woken() => match w {
                                // A close of the handle ends the wait.
                                Wake::Cancel => (NtStatus::CANCELLED, Vec::new()),
                                Wake::Cleanup => (NtStatus::RANGE_NOT_LOCKED, Vec::new()),
                            },
                        }
                    });
                match now(&mut fut) {
                    Some((status, body)) => Outcome::reply(status, body),
                    None if req.last_in_chain => Outcome::Async { rest: fut },
                    None => {
                        let (status, body) = fut.await;
                        Outcome::reply(status, body)
                    }
                }
            }
            Command::IOCTL => {
                let mut io = match cmd::ioctl::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                if io.input.len() > super::MAX_IO as usize || io.max_output_response > super::MAX_IO
                {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let code = io.ctl_code;
                let out = match code {
                    fsctl::VALIDATE_NEGOTIATE_INFO => return Ok(validate_negotiate(conn, &io)),
                    fsctl::QUERY_NETWORK_INTERFACE_INFO => {
                        // Not about a file: the FileId must be all ones.
                        if io.file_id != FileId::RELATED {
                            return Err(NtStatus::INVALID_PARAMETER);
                        }
                        let output = interfaces(conn);
                        if output.len() > io.max_output_response as usize {
                            return Err(NtStatus::BUFFER_TOO_SMALL);
                        }
                        IoctlOut {
                            input: vec![],
                            output,
                            status: NtStatus::SUCCESS,
                        }
                    }
                    fsctl::DFS_GET_REFERRALS | fsctl::DFS_GET_REFERRALS_EX => {
                        return Err(NtStatus::FS_DRIVER_REQUIRED);
                    }
                    _ => {
                        io.file_id = resolve(req, io.file_id)?;
                        b.ioctl(&ctx, io.clone()).await?
                    }
                };
                let mut out = out;
                let mut status = out.status;
                if out.output.len() > io.max_output_response as usize {
                    out.output.truncate(io.max_output_response as usize);
                    status = NtStatus::BUFFER_OVERFLOW;
                }
                let mut body = Vec::new();
                cmd::ioctl::emit(code, io.file_id, &out, &mut body);
                Outcome::reply(status, body)
            }
            Command::QUERY_DIRECTORY => {
                let mut io = match cmd::query_directory::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                if io.max_output > super::MAX_IO || !charge_ok(req, dialect, io.max_output) {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let class = io.class;
                let fid = io.file_id;
                let o = b.query_directory(&ctx, io).await?;
                let mut data = Vec::new();
                crate::wire::info::encode_dir_entries(class, &o.entries, &mut data);
                let mut body = Vec::new();
                cmd::query_directory::emit_buffer(&data, &mut body);
                Outcome::on_file(NtStatus::SUCCESS, body, fid)
            }
            Command::CHANGE_NOTIFY => {
                let mut io = match cmd::notify::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                if io.max_output > super::MAX_IO {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                req.pending.set_file(io.file_id, req.tree_id);
                let backend = b.clone();
                let pending = req.pending.clone();
                let ctx = ctx.clone();
                let mut fut: Pin<Box<dyn Future<Output = (NtStatus, Vec<u8>)> + Send>> =
                    Box::pin(async move {
                        tokio::select! {
                            r = backend.notify(&ctx, io) => match r {
                                Ok(NotifyOut::Changes(changes)) => {
                                    let mut data = Vec::new();
                                    crate::wire::info::encode_notify(&changes, &mut data);
                                    let mut body = Vec::new();
                                    cmd::query_directory::emit_buffer(&data, &mut body);
                                    (NtStatus::SUCCESS, body)
                                }
                                Ok(NotifyOut::Overflow) => (NtStatus::NOTIFY_ENUM_DIR, Vec::new()),
                                Err(s) => (s, Vec::new()),
                            },
                            w = pending.woken() => match w {
                                Wake::Cancel => (NtStatus::CANCELLED, Vec::new()),
                                Wake::Cleanup => (NtStatus::NOTIFY_CLEANUP, Vec::new()),
                            },
                        }
                    });
                match now(&mut fut) {
                    Some((status, body)) => Outcome::reply(status, body),
                    None => Outcome::Async { rest: fut },
                }
            }
            Command::QUERY_INFO => {
                let mut io = match cmd::query_info::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                if io.output_buffer_length > super::MAX_IO {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let max = io.output_buffer_length;
                let is_sd = matches!(io.request, InfoRequest::Security(_));
                let fid = io.file_id;
                let o = b.query_info(&ctx, io).await?;
                let (data, fixed) = encode_query(&o);
                if is_sd && data.len() > max as usize {
                    let mut body = Vec::new();
                    cmd::emit_error(&mut body, &(data.len() as u32).to_le_bytes());
                    return Ok(Outcome::reply(NtStatus::BUFFER_TOO_SMALL, body));
                }
                let (status, data) = fit(data, max, fixed);
                if status.is_error() {
                    return Err(status);
                }
                let mut body = Vec::new();
                cmd::query_directory::emit_buffer(&data, &mut body);
                Outcome::on_file(status, body, fid)
            }
            Command::SET_INFO => {
                let mut io = match cmd::set_info::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                let fid = io.file_id;
                b.set_info(&ctx, io).await?;
                let mut body = Vec::new();
                cmd::set_info::emit(&mut body);
                Outcome::on_file(NtStatus::SUCCESS, body, fid)
            }
            Command::OPLOCK_BREAK => {
                let mut io = match cmd::oplock_break::parse(&req.msg) {
                    Ok(io) => io,
                    Err(e) => return Ok(bad(conn, req, e)),
                };
                io.file_id = resolve(req, io.file_id)?;
                let o = b.oplock_break(&ctx, io).await?;
                let mut body = Vec::new();
                cmd::oplock_break::emit(o.level, io.file_id, &mut body);
                Outcome::ok(body)
            }
            c => {
                tracing::info!(target: LOG, peer = %conn.peer, command = c.0, "unknown command");
                Outcome::err(NtStatus::INVALID_PARAMETER)
            }
        })
    }
    .await;
    result.unwrap_or_else(Outcome::err)
}

/// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): the client checks
/// that nobody tampered with the unsigned NEGOTIATE; a mismatch ends the
/// connection.
fn validate_negotiate(conn: &Arc<Connection>, io: &IoctlIn) -> Outcome {
    use crate::wire::reader::Reader;
    let Some(n) = conn.negotiated() else {
        return Outcome::Disconnect("no negotiation".into());
    };
    if n.dialect >= 0x0311 {
        return Outcome::Disconnect("VALIDATE_NEGOTIATE_INFO on SMB 3.1.1".into());
    }
    let mut r = Reader::new(&io.input);
    let parsed = (|| -> Result<(u32, [u8; 16], u16, Vec<u16>), WireError> {
        let caps = r.u32("Capabilities")?;
        let guid = r.array::<16>("Guid")?;
        let mode = r.u16("SecurityMode")?;
        let count = r.u16("DialectCount")? as usize;
        if count > 64 {
            return Err(WireError::TooLarge {
                what: "DialectCount",
                len: count,
                max: 64,
            });
        }
        let dialects = (0..count)
            .map(|_| r.u16("Dialects"))
            .collect::<Result<_, _>>()?;
        Ok((caps, guid, mode, dialects))
    })();
    let Ok((caps, guid, mode, dialects)) = parsed else {
        return Outcome::Disconnect("malformed VALIDATE_NEGOTIATE_INFO".into());
    };
    if caps != n.client_caps
        || guid != n.client_guid
        || mode != n.client_security_mode
        || dialects != n.client_dialects
    {
        return Outcome::Disconnect(
            "VALIDATE_NEGOTIATE_INFO does not match the negotiation".into(),
        );
    }
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&n.server_caps.to_le_bytes());
    out.extend_from_slice(&conn.server.guid);
    out.extend_from_slice(&n.server_security_mode.to_le_bytes());
    out.extend_from_slice(&n.dialect.to_le_bytes());
    let mut body = Vec::new();
    cmd::ioctl::emit(
        io.ctl_code,
        io.file_id,
        &IoctlOut {
            input: vec![],
            output: out,
            status: NtStatus::SUCCESS,
        },
        &mut body,
    );
    Outcome::ok(body)
}

/// FSCTL_QUERY_NETWORK_INTERFACE_INFO: the address the client reached us on.
fn interfaces(conn: &Connection) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_le_bytes()); // Next
    out.extend_from_slice(&1u32.to_le_bytes()); // IfIndex
    out.extend_from_slice(&0u32.to_le_bytes()); // Capability
    out.extend_from_slice(&0u32.to_le_bytes()); // Reserved
    out.extend_from_slice(&1_000_000_000u64.to_le_bytes()); // LinkSpeed
    let mut sa = [0u8; 128];
    match conn.local.ip() {
        std::net::IpAddr::V4(v4) => {
            sa[0..2].copy_from_slice(&2u16.to_le_bytes());
            sa[4..8].copy_from_slice(&v4.octets());
        }
        std::net::IpAddr::V6(v6) => {
            sa[0..2].copy_from_slice(&23u16.to_le_bytes());
            sa[8..24].copy_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&sa);
    out
}

//! READ, WRITE, FLUSH, LOCK and file IOCTLs on the disk backend.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{DiskBackend, FdKind};
use crate::ntvfs::types::{access, fsctl, lock_flags, options};
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::status::from_errno;

const WRITE_THROUGH: u32 = 0x0000_0001;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NtStatus> + Send + 'static,
) -> Result<T, NtStatus> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| NtStatus::INTERNAL_ERROR)?
}

fn pread_full(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> Result<usize, NtStatus> {
    let mut done = 0;
    while done < buf.len() {
        match nix::sys::uio::pread(fd.as_fd(), &mut buf[done..], (offset + done as u64) as i64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(from_errno(e)),
        }
    }
    Ok(done)
}

fn pwrite_full(fd: &OwnedFd, buf: &[u8], offset: u64) -> Result<(), NtStatus> {
    let mut done = 0;
    while done < buf.len() {
        match nix::sys::uio::pwrite(fd.as_fd(), &buf[done..], (offset + done as u64) as i64) {
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(from_errno(e)),
        }
    }
    Ok(())
}

pub(super) async fn read(b: &DiskBackend, io: ReadIn) -> NtResult<ReadOut> {
    let open = b.get(io.file_id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 || !open.kind.readable() {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if io.offset > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    open.table
        .state
        .check_io(open.table.id, io.offset, io.length.into(), false)?;
    let fd = open.fd.clone();
    let len = io.length as usize;
    let offset = io.offset;
    let data = blocking(move || {
        let mut buf = vec![0u8; len];
        let n = pread_full(&fd, &mut buf, offset)?;
        buf.truncate(n);
        Ok(buf)
    })
    .await?;
    if (data.is_empty() && len > 0) || data.len() < io.minimum_count as usize {
        return Err(NtStatus::END_OF_FILE);
    }
    open.position
        .store(io.offset + data.len() as u64, Ordering::Relaxed);
    Ok(ReadOut {
        data,
        remaining: 0,
        truncated: false,
    })
}

pub(super) async fn write(b: &DiskBackend, io: WriteIn) -> NtResult<WriteOut> {
    let open = b.get(io.file_id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if open.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0
        || !open.kind.writable()
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let fd = open.fd.clone();
    let append = io.offset == u64::MAX;
    if !append && io.offset > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if !append {
        open.table
            .state
            .check_io(open.table.id, io.offset, io.data.len() as u64, true)?;
    }
    open.table.state.break_level2();
    let sync = io.flags & WRITE_THROUGH != 0
        || open.mode.load(Ordering::Relaxed) & options::WRITE_THROUGH != 0;
    let count = io.data.len() as u32;
    let data = io.data;
    let offset = io.offset;
    let end = blocking(move || {
        let at = if append {
            super::stat::fstat(&*fd)?.size
        } else {
            offset
        };
        pwrite_full(&fd, &data, at)?;
        if sync {
            nix::unistd::fdatasync(&*fd).map_err(from_errno)?;
        }
        Ok(at + data.len() as u64)
    })
    .await?;
    open.position.store(end, Ordering::Relaxed);
    Ok(WriteOut {
        count,
        remaining: 0,
    })
}

pub(super) async fn flush(b: &DiskBackend, io: FlushIn) -> NtResult<()> {
    let open = b.get(io.file_id)?;
    if open.is_dir {
        return Ok(());
    }
    if open.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0
        || open.kind == FdKind::Path
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let fd = open.fd.clone();
    blocking(move || nix::unistd::fsync(&*fd).map_err(from_errno)).await
}

pub(super) async fn lock(b: &DiskBackend, io: LockIn) -> NtResult<()> {
    let open = b.get(io.file_id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if io
        .locks
        .first()
        .is_some_and(|l| l.flags & lock_flags::UNLOCK == 0)
    {
        open.table.state.break_level2();
    }
    open.table.state.lock(open.table.id, &io.locks).await
}

/// Server-side copy limits (as Samba's).
const COPYCHUNK_MAX_CHUNKS: u32 = 256;
const COPYCHUNK_MAX_CHUNK: u32 = 1024 * 1024;
const COPYCHUNK_MAX_TOTAL: u32 = 16 * 1024 * 1024;

fn copychunk_limits() -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.extend_from_slice(&COPYCHUNK_MAX_CHUNKS.to_le_bytes());
    v.extend_from_slice(&COPYCHUNK_MAX_CHUNK.to_le_bytes());
    v.extend_from_slice(&COPYCHUNK_MAX_TOTAL.to_le_bytes());
    v
}

async fn copychunk(b: &DiskBackend, io: &IoctlIn) -> NtResult<IoctlOut> {
    use crate::wire::reader::Reader;
    let dst = b.get(io.file_id)?;
    let mut r = Reader::new(&io.input);
    let bad = |_| NtStatus::INVALID_PARAMETER;
    let key = r.array::<24>("SourceKey").map_err(bad)?;
    let count = r.u32("ChunkCount").map_err(bad)?;
    r.skip(4, "Reserved").map_err(bad)?;
    let too_big = |status| Err::<IoctlOut, _>(status);
    if count > COPYCHUNK_MAX_CHUNKS {
        let _ = too_big(NtStatus::INVALID_PARAMETER);
        return Ok(IoctlOut {
            input: vec![],
            output: copychunk_limits(),
            truncated: false,
        })
        .and(Err(NtStatus::INVALID_PARAMETER));
    }
    let src_id = FileId {
        persistent: u64::from_le_bytes(key[0..8].try_into().expect("8")),
        volatile: u64::from_le_bytes(key[8..16].try_into().expect("8")),
    };
    let src = b.get(src_id).map_err(|_| NtStatus::OBJECT_NAME_NOT_FOUND)?;
    if !src.kind.readable() || !dst.kind.writable() {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if io.ctl_code == fsctl::SRV_COPYCHUNK && dst.access & access::FILE_READ_DATA == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let mut chunks = Vec::with_capacity(count as usize);
    let mut total = 0u64;
    for _ in 0..count {
        let so = r.u64("SourceOffset").map_err(bad)?;
        let to = r.u64("TargetOffset").map_err(bad)?;
        let len = r.u32("Length").map_err(bad)?;
        r.skip(4, "Reserved").map_err(bad)?;
        if len == 0 || len > COPYCHUNK_MAX_CHUNK {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        total += u64::from(len);
        src.table
            .state
            .check_io(src.table.id, so, len.into(), false)?;
        dst.table
            .state
            .check_io(dst.table.id, to, len.into(), true)?;
        chunks.push((so, to, len));
    }
    if total > u64::from(COPYCHUNK_MAX_TOTAL) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    dst.table.state.break_level2();
    let (sfd, dfd) = (src.fd.clone(), dst.fd.clone());
    let (written_chunks, written) = blocking(move || {
        let mut n = 0u32;
        let mut bytes = 0u64;
        for (so, to, len) in chunks {
            let mut done = 0u64;
            while done < u64::from(len) {
                let mut off_in = (so + done) as i64;
                let mut off_out = (to + done) as i64;
                match nix::fcntl::copy_file_range(
                    sfd.as_fd(),
                    Some(&mut off_in),
                    dfd.as_fd(),
                    Some(&mut off_out),
                    (u64::from(len) - done) as usize,
                ) {
                    Ok(0) => return Err(NtStatus::END_OF_FILE),
                    Ok(k) => done += k as u64,
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(from_errno(e)),
                }
            }
            n += 1;
            bytes += done;
        }
        Ok((n, bytes))
    })
    .await?;
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&written_chunks.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(written as u32).to_le_bytes());
    Ok(IoctlOut {
        input: vec![],
        output: out,
        truncated: false,
    })
}

pub(super) async fn ioctl(b: &DiskBackend, _ctx: &RequestCtx, io: IoctlIn) -> NtResult<IoctlOut> {
    let open = b.get(io.file_id)?;
    let empty = || IoctlOut {
        input: vec![],
        output: vec![],
        truncated: false,
    };
    match io.ctl_code {
        fsctl::SRV_REQUEST_RESUME_KEY => {
            let mut out = Vec::with_capacity(32);
            out.extend_from_slice(&open.id.persistent.to_le_bytes());
            out.extend_from_slice(&open.id.volatile.to_le_bytes());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&0u32.to_le_bytes()); // ContextLength
            out.extend_from_slice(&[0; 4]);
            Ok(IoctlOut {
                input: vec![],
                output: out,
                truncated: false,
            })
        }
        fsctl::SRV_COPYCHUNK | fsctl::SRV_COPYCHUNK_WRITE => copychunk(b, &io).await,
        fsctl::SET_SPARSE => {
            if open.access
                & (access::FILE_WRITE_DATA
                    | access::FILE_WRITE_ATTRIBUTES
                    | access::FILE_APPEND_DATA)
                == 0
            {
                return Err(NtStatus::ACCESS_DENIED);
            }
            Ok(empty())
        }
        fsctl::QUERY_ALLOCATED_RANGES => {
            let st = super::stat::fstat(&*open.fd)?;
            let mut r = crate::wire::reader::Reader::new(&io.input);
            let off = r
                .u64("FileOffset")
                .map_err(|_| NtStatus::INVALID_PARAMETER)?;
            let len = r.u64("Length").map_err(|_| NtStatus::INVALID_PARAMETER)?;
            let end = off.saturating_add(len).min(st.size);
            let mut out = Vec::new();
            if off < end {
                out.extend_from_slice(&off.to_le_bytes());
                out.extend_from_slice(&(end - off).to_le_bytes());
            }
            Ok(IoctlOut {
                input: vec![],
                output: out,
                truncated: false,
            })
        }
        fsctl::GET_REPARSE_POINT => Err(NtStatus::NOT_A_REPARSE_POINT),
        fsctl::CREATE_OR_GET_OBJECT_ID => {
            // FILE_OBJECTID_BUFFER: the object id is the file's device and
            // inode (stable while the file lives, as Samba makes it), the
            // birth volume id one per share.
            use md5::Digest;
            let st = super::stat::fstat(&*open.fd)?;
            let mut id = Vec::with_capacity(16);
            id.extend_from_slice(&st.dev.to_le_bytes());
            id.extend_from_slice(&st.ino.to_le_bytes());
            let volume = md5::Md5::digest(b.share.path.as_os_str().as_encoded_bytes());
            let mut out = Vec::with_capacity(64);
            out.extend_from_slice(&id); //         ObjectId
            out.extend_from_slice(&volume); //     BirthVolumeId
            out.extend_from_slice(&id); //         BirthObjectId
            out.extend_from_slice(&[0; 16]); //    DomainId
            out.truncate(io.max_output_response as usize);
            Ok(IoctlOut {
                input: vec![],
                output: out,
                truncated: false,
            })
        }
        fsctl::GET_OBJECT_ID => Err(NtStatus::OBJECTID_NOT_FOUND),
        _ => {
            tracing::debug!(target: "smbd::disk", ctl = format_args!("{:#x}", io.ctl_code), "unsupported ioctl");
            Err(NtStatus::INVALID_DEVICE_REQUEST)
        }
    }
}

#[allow(dead_code)]
fn _assert_send(_: Arc<OwnedFd>) {}

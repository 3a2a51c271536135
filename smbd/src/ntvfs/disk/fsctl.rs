//! File system controls on the disk backend (MS-FSCC 2.3, MS-SMB2
//! 3.3.5.15): server-side copy, sparse files, zeroing, allocated ranges,
//! compression, object ids.

use super::blocking;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use super::stat;
use super::{DiskBackend, Open};
use crate::ntvfs::types::{access, attr, fsctl};
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::reader::Reader;
use crate::wire::status::from_errno;

/// Server-side copy limits (as Samba's and Windows').
const COPYCHUNK_MAX_CHUNKS: u32 = 256;
const COPYCHUNK_MAX_CHUNK: u32 = 1024 * 1024;
const COPYCHUNK_MAX_TOTAL: u32 = 16 * 1024 * 1024;
/// SRV_COPYCHUNK_RESPONSE is three u32.
const COPYCHUNK_RESPONSE_LEN: u32 = 12;

const FSCTL_GET_COMPRESSION: u32 = 0x0009_003c;
const FSCTL_SET_COMPRESSION: u32 = 0x0009_c040;
const COMPRESSION_FORMAT_NONE: u16 = 0;

/// STATUS_INVALID_VIEW_SIZE: a copy chunk reads past the source's end.
const INVALID_VIEW_SIZE: NtStatus = NtStatus(0xc000_001f);

fn reply(output: Vec<u8>) -> IoctlOut {
    IoctlOut {
        input: vec![],
        output,
        status: NtStatus::SUCCESS,
    }
}

fn bad<E>(_: E) -> NtStatus {
    NtStatus::INVALID_PARAMETER
}

pub(super) async fn ioctl(b: &DiskBackend, ctx: &RequestCtx, io: IoctlIn) -> NtResult<IoctlOut> {
    let open = b.get(io.file_id)?;
    match io.ctl_code {
        fsctl::SRV_REQUEST_RESUME_KEY => Ok(reply(resume_key(b, &open))),
        fsctl::SRV_COPYCHUNK | fsctl::SRV_COPYCHUNK_WRITE => copychunk(b, ctx, &open, &io).await,
        fsctl::SET_SPARSE => set_sparse(&open, &io).await,
        fsctl::SET_ZERO_DATA => zero_data(b, &open, &io).await,
        fsctl::QUERY_ALLOCATED_RANGES => allocated_ranges(&open, &io).await,
        FSCTL_GET_COMPRESSION => Ok(reply(COMPRESSION_FORMAT_NONE.to_le_bytes().to_vec())),
        FSCTL_SET_COMPRESSION => {
            let mut r = Reader::new(&io.input);
            match r.u16("CompressionState").map_err(bad)? {
                COMPRESSION_FORMAT_NONE => Ok(reply(vec![])),
                _ => Err(NtStatus::NOT_SUPPORTED),
            }
        }
        fsctl::GET_REPARSE_POINT => Err(NtStatus::NOT_A_REPARSE_POINT),
        fsctl::CREATE_OR_GET_OBJECT_ID => {
            // FILE_OBJECTID_BUFFER: the object id is the file's device and
            // inode (stable while the file lives, as Samba makes it), the
            // birth volume id one per share.
            use md5::Digest;
            let st = stat::fstat(&*open.fd)?;
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
            Ok(reply(out))
        }
        fsctl::GET_OBJECT_ID => Err(NtStatus::OBJECTID_NOT_FOUND),
        _ => {
            tracing::debug!(target: "smbd::disk", ctl = format_args!("{:#x}", io.ctl_code), "unsupported ioctl");
            Err(NtStatus::INVALID_DEVICE_REQUEST)
        }
    }
}

/// SRV_REQUEST_RESUME_KEY: an opaque key naming this open to a later
/// copy, on any tree of the server (copies between shares).
fn resume_key(b: &DiskBackend, open: &Arc<Open>) -> Vec<u8> {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&open.table.id.to_le_bytes());
    let _ = getrandom::fill(&mut key[8..]);
    b.ctx.remember_resume_key(key, open);
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(&key); //                ResumeKey
    out.extend_from_slice(&0u32.to_le_bytes()); // ContextLength
    out.extend_from_slice(&[0; 4]); //             Context
    out
}

fn copychunk_limits(status: NtStatus) -> IoctlOut {
    let mut v = Vec::with_capacity(12);
    v.extend_from_slice(&COPYCHUNK_MAX_CHUNKS.to_le_bytes());
    v.extend_from_slice(&COPYCHUNK_MAX_CHUNK.to_le_bytes());
    v.extend_from_slice(&COPYCHUNK_MAX_TOTAL.to_le_bytes());
    IoctlOut {
        input: vec![],
        output: v,
        status,
    }
}

/// FSCTL_SRV_COPYCHUNK(_WRITE) (MS-SMB2 3.3.5.15.6): copies ranges from
/// the open the resume key names into this one, without the data crossing
/// the network.
async fn copychunk(
    b: &DiskBackend,
    ctx: &RequestCtx,
    dst: &Arc<Open>,
    io: &IoctlIn,
) -> NtResult<IoctlOut> {
    if io.max_output_response < COPYCHUNK_RESPONSE_LEN {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    // SRV_COPYCHUNK_COPY: SourceKey(24) ChunkCount(4) Reserved(4) Chunks
    let mut r = Reader::new(&io.input);
    let key = r.array::<24>("SourceKey").map_err(bad)?;
    let count = r.u32("ChunkCount").map_err(bad)?;
    r.skip(4, "Reserved").map_err(bad)?;
    // Over a limit: INVALID_PARAMETER carrying the limits.
    if count > COPYCHUNK_MAX_CHUNKS {
        return Ok(copychunk_limits(NtStatus::INVALID_PARAMETER));
    }
    let mut chunks = Vec::with_capacity(count as usize);
    let mut total = 0u64;
    for _ in 0..count {
        // SRV_COPYCHUNK: SourceOffset(8) TargetOffset(8) Length(4) Reserved(4)
        let so = r.u64("SourceOffset").map_err(bad)?;
        let to = r.u64("TargetOffset").map_err(bad)?;
        let len = r.u32("Length").map_err(bad)?;
        r.skip(4, "Reserved").map_err(bad)?;
        if len == 0 || len > COPYCHUNK_MAX_CHUNK {
            return Ok(copychunk_limits(NtStatus::INVALID_PARAMETER));
        }
        if so.checked_add(u64::from(len)).is_none() || to.checked_add(u64::from(len)).is_none() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        total += u64::from(len);
        chunks.push((so, to, len));
    }
    if total > u64::from(COPYCHUNK_MAX_TOTAL) {
        return Ok(copychunk_limits(NtStatus::INVALID_PARAMETER));
    }
    let src = b
        .ctx
        .resume_key(&key)
        // Only the user who asked for the key may copy from it.
        .filter(|s| s.user.uid == ctx.user.uid && s.user.name == ctx.user.name)
        .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
    if src.is_dir || dst.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if src.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0
        || !src.kind.readable()
        || dst.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0
        || !dst.kind.writable()
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    // FSCTL_SRV_COPYCHUNK (not _WRITE) also wants the target readable.
    if io.ctl_code == fsctl::SRV_COPYCHUNK && dst.access & access::FILE_READ_DATA == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    dst.table.state.break_level2();
    // Chunk by chunk, as reads and writes would (locks are checked for
    // each); a failure answers with what was copied before it.
    let (sfd, dfd) = (src.fd.clone(), dst.fd.clone());
    let (src_state, dst_state) = (src.table.state.clone(), dst.table.state.clone());
    let (src_id, dst_id) = (src.table.id, dst.table.id);
    let (written_chunks, written, status) = blocking(move || {
        let mut n = 0u32;
        let mut bytes = 0u64;
        for (so, to, len) in chunks {
            let step = || -> NtResult<()> {
                if so + u64::from(len) > stat::fstat(&*sfd)?.size {
                    return Err(INVALID_VIEW_SIZE);
                }
                src_state.check_io(src_id, so, len.into(), false)?;
                dst_state.check_io(dst_id, to, len.into(), true)?;
                copy_range(&sfd, so, &dfd, to, u64::from(len))
            };
            if let Err(s) = step() {
                return Ok((n, bytes, s));
            }
            n += 1;
            bytes += u64::from(len);
        }
        Ok((n, bytes, NtStatus::SUCCESS))
    })
    .await?;
    // SRV_COPYCHUNK_RESPONSE: ChunksWritten ChunkBytesWritten TotalBytesWritten
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&written_chunks.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(written as u32).to_le_bytes());
    Ok(IoctlOut {
        input: vec![],
        output: out,
        status,
    })
}

/// Copies `len` bytes; overlapping ranges of one file go through a buffer
/// (copy_file_range refuses them).
fn copy_range(src: &OwnedFd, so: u64, dst: &OwnedFd, to: u64, len: u64) -> NtResult<()> {
    let same = stat::fstat(src)?.key() == stat::fstat(dst)?.key();
    if same && so < to + len && to < so + len {
        let mut buf = vec![0u8; len as usize];
        let mut done = 0usize;
        while done < buf.len() {
            match nix::sys::uio::pread(src.as_fd(), &mut buf[done..], (so + done as u64) as i64) {
                Ok(0) => return Err(INVALID_VIEW_SIZE),
                Ok(k) => done += k,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(from_errno(e)),
            }
        }
        let mut done = 0usize;
        while done < buf.len() {
            match nix::sys::uio::pwrite(dst.as_fd(), &buf[done..], (to + done as u64) as i64) {
                Ok(k) => done += k,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(from_errno(e)),
            }
        }
        return Ok(());
    }
    let mut done = 0u64;
    while done < len {
        let mut off_in = (so + done) as i64;
        let mut off_out = (to + done) as i64;
        match nix::fcntl::copy_file_range(
            src.as_fd(),
            Some(&mut off_in),
            dst.as_fd(),
            Some(&mut off_out),
            (len - done) as usize,
        ) {
            Ok(0) => return Err(INVALID_VIEW_SIZE),
            Ok(k) => done += k as u64,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(from_errno(e)),
        }
    }
    Ok(())
}

fn is_sparse(open: &Open) -> bool {
    stat::stored_attributes(&*open.fd).is_some_and(|a| a & attr::SPARSE_FILE != 0)
}

/// FSCTL_SET_SPARSE: the attribute only (every Linux file system makes
/// holes where data was never written anyway).
async fn set_sparse(open: &Arc<Open>, io: &IoctlIn) -> NtResult<IoctlOut> {
    if open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.access
        & (access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES | access::FILE_APPEND_DATA)
        == 0
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    // FILE_SET_SPARSE_BUFFER: SetSparse (1 byte, optional, default TRUE).
    let on = io.input.first().is_none_or(|&v| v != 0);
    let fd = open.fd.clone();
    let name = open.name();
    blocking(move || {
        let st = stat::fstat(&*fd)?;
        let current = stat::attributes(&st, stat::stored_attributes(&*fd), &name);
        let wanted = if on {
            current | attr::SPARSE_FILE
        } else {
            current & !attr::SPARSE_FILE
        };
        if wanted != current {
            stat::store_attributes(&*fd, wanted & !attr::NORMAL)
                .map_err(|e| crate::wire::status::from_io(&e))?;
        }
        Ok(())
    })
    .await?;
    Ok(reply(vec![]))
}

/// FSCTL_SET_ZERO_DATA: zeroes a range; in a sparse file it becomes a
/// hole.
async fn zero_data(b: &DiskBackend, open: &Arc<Open>, io: &IoctlIn) -> NtResult<IoctlOut> {
    // FILE_ZERO_DATA_INFORMATION: FileOffset(8) BeyondFinalZero(8)
    let mut r = Reader::new(&io.input);
    let from = r.u64("FileOffset").map_err(bad)?;
    let beyond = r.u64("BeyondFinalZero").map_err(bad)?;
    if from > beyond || beyond > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.access & access::FILE_WRITE_DATA == 0 || !open.kind.writable() || b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if from == beyond {
        return Ok(reply(vec![]));
    }
    open.table
        .state
        .check_io(open.table.id, from, beyond - from, true)?;
    open.table.state.break_level2();
    let sparse = is_sparse(open);
    let fd = open.fd.clone();
    blocking(move || {
        let size = stat::fstat(&*fd)?.size;
        let end = beyond.min(size);
        if from >= end {
            return Ok(());
        }
        let len = (end - from) as i64;
        use nix::fcntl::FallocateFlags as F;
        // A hole reads as zeros; outside sparse files the range is then
        // allocated again, so the file stays as dense as it was.
        nix::fcntl::fallocate(
            &*fd,
            F::FALLOC_FL_PUNCH_HOLE | F::FALLOC_FL_KEEP_SIZE,
            from as i64,
            len,
        )
        .or_else(|_| {
            // No hole punching here: write zeros.
            let zeros = vec![0u8; 64 * 1024];
            let mut at = from;
            while at < end {
                let n = (end - at).min(zeros.len() as u64) as usize;
                nix::sys::uio::pwrite(fd.as_fd(), &zeros[..n], at as i64)?;
                at += n as u64;
            }
            Ok(())
        })
        .map_err(from_errno)?;
        if !sparse {
            let _ = nix::fcntl::fallocate(&*fd, F::FALLOC_FL_KEEP_SIZE, from as i64, len);
        }
        Ok(())
    })
    .await?;
    Ok(reply(vec![]))
}

/// FSCTL_QUERY_ALLOCATED_RANGES: where the data of a range is (holes found
/// with SEEK_DATA/SEEK_HOLE).
async fn allocated_ranges(open: &Arc<Open>, io: &IoctlIn) -> NtResult<IoctlOut> {
    // FILE_ALLOCATED_RANGE_BUFFER: FileOffset(8) Length(8)
    let mut r = Reader::new(&io.input);
    let off = r.u64("FileOffset").map_err(bad)?;
    let len = r.u64("Length").map_err(bad)?;
    if off > i64::MAX as u64 || len > i64::MAX as u64 || off + len > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let max = io.max_output_response as usize;
    let fd = open.fd.clone();
    let sparse = is_sparse(open);
    let ranges = blocking(move || {
        let size = stat::fstat(&*fd)?.size;
        let end = (off + len).min(size);
        let mut ranges = Vec::new();
        if off >= end {
            return Ok(ranges);
        }
        if !sparse || !open_readable(&fd) {
            ranges.push((off, end - off));
            return Ok(ranges);
        }
        let mut at = off;
        while at < end {
            use nix::unistd::{Whence, lseek};
            let data = match lseek(fd.as_fd(), at as i64, Whence::SeekData) {
                Ok(d) => d as u64,
                Err(nix::errno::Errno::ENXIO) => break,
                Err(_) => {
                    // No SEEK_DATA: all of it is data.
                    ranges.push((at, end - at));
                    break;
                }
            };
            if data >= end {
                break;
            }
            let hole = lseek(fd.as_fd(), data as i64, Whence::SeekHole)
                .map(|h| h as u64)
                .unwrap_or(end)
                .min(end);
            ranges.push((data, hole - data));
            at = hole;
        }
        Ok(ranges)
    })
    .await?;
    let mut out = Vec::with_capacity(ranges.len() * 16);
    for (o, l) in &ranges {
        if out.len() + 16 > max {
            if out.is_empty() {
                return Err(NtStatus::BUFFER_TOO_SMALL);
            }
            return Ok(IoctlOut {
                input: vec![],
                output: out,
                status: NtStatus::BUFFER_OVERFLOW,
            });
        }
        out.extend_from_slice(&o.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
    }
    Ok(reply(out))
}

/// lseek(SEEK_DATA) needs a descriptor open for reading, not O_PATH.
fn open_readable(fd: &OwnedFd) -> bool {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).is_ok_and(|f| f & libc::O_PATH == 0)
}

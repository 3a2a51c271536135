//! READ, WRITE, FLUSH and LOCK on the disk backend.

use super::blocking;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{DiskBackend, FdKind};
use crate::ntvfs::types::{access, lock_flags, options};
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::status::from_errno;

const WRITE_THROUGH: u32 = 0x0000_0001;

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

#[allow(dead_code)]
fn _assert_send(_: Arc<OwnedFd>) {}

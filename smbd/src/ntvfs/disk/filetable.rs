//! What all opens of one file share, across every connection of the
//! server: sharing modes, the delete-pending flag, byte-range locks.
//! (MS-FSA 2.1.5.1.2 sharing checks, 2.1.5.7 byte-range locks.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::ntvfs::types::{LockElement, access, lock_flags, share};
use crate::wire::NtStatus;

/// Identifies a file: device and inode.
pub type FileKey = (u64, u64);

/// The access bits sharing modes are about.
const READ_BITS: u32 = access::FILE_READ_DATA | access::FILE_EXECUTE;
const WRITE_BITS: u32 = access::FILE_WRITE_DATA | access::FILE_APPEND_DATA;
const DELETE_BITS: u32 = access::DELETE;

#[derive(Debug, Clone, Copy)]
struct OpenEntry {
    id: u64,
    access: u32,
    share: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteLock {
    open: u64,
    offset: u64,
    length: u64,
    exclusive: bool,
}

impl ByteLock {
    fn overlaps(&self, offset: u64, length: u64) -> bool {
        if self.length == 0 || length == 0 {
            // Zero-length ranges only conflict when strictly inside.
            let (a, b) = (self.offset, offset);
            return (self.length == 0 && length != 0 && a > b && a < b.saturating_add(length))
                || (length == 0 && self.length != 0 && b > a && b < a.saturating_add(self.length));
        }
        offset < self.offset.saturating_add(self.length)
            && self.offset < offset.saturating_add(length)
    }
}

#[derive(Debug, Default)]
struct FileInner {
    opens: Vec<OpenEntry>,
    delete_pending: bool,
    locks: Vec<ByteLock>,
}

#[derive(Debug)]
pub struct FileState {
    pub key: FileKey,
    inner: Mutex<FileInner>,
    /// Wakes waiters for byte-range locks when locks go away.
    unlocked: Notify,
}

/// Server-wide: one per smbd.
#[derive(Debug, Default)]
pub struct FileTable {
    files: Mutex<HashMap<FileKey, Arc<FileState>>>,
    next_open: AtomicU64,
}

fn conflicts(existing: &OpenEntry, access_: u32, share_: u32) -> bool {
    let want = |bits: u32, a: u32| a & bits != 0;
    // Opens for attributes only are not subject to sharing (MS-FSA
    // 2.1.5.1.2.2), and do not restrict others.
    if !want(READ_BITS | WRITE_BITS | DELETE_BITS, access_) {
        return false;
    }
    (want(READ_BITS, access_) && existing.share & share::READ == 0)
        || (want(WRITE_BITS, access_) && existing.share & share::WRITE == 0)
        || (want(DELETE_BITS, access_) && existing.share & share::DELETE == 0)
        || (want(READ_BITS, existing.access) && share_ & share::READ == 0)
        || (want(WRITE_BITS, existing.access) && share_ & share::WRITE == 0)
        || (want(DELETE_BITS, existing.access) && share_ & share::DELETE == 0)
}

/// An open's place in the table; released by [`FileTable::close`].
#[derive(Debug)]
pub struct OpenRef {
    pub state: Arc<FileState>,
    pub id: u64,
}

/// What closing the last open means for the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub last: bool,
    /// Delete it now (last close with delete pending).
    pub delete: bool,
}

impl FileTable {
    pub fn new() -> FileTable {
        FileTable::default()
    }

    /// Registers an open of `key` with `access`/`share`, checking it against
    /// every other open of the file.
    pub fn open(&self, key: FileKey, access_: u32, share_: u32) -> Result<OpenRef, NtStatus> {
        let mut files = self.files.lock().expect("file table");
        let state = files
            .entry(key)
            .or_insert_with(|| {
                Arc::new(FileState {
                    key,
                    inner: Mutex::new(FileInner::default()),
                    unlocked: Notify::new(),
                })
            })
            .clone();
        let mut inner = state.inner.lock().expect("file state");
        if inner.delete_pending {
            return Err(NtStatus::DELETE_PENDING);
        }
        if inner.opens.iter().any(|e| conflicts(e, access_, share_)) {
            return Err(NtStatus::SHARING_VIOLATION);
        }
        let id = self.next_open.fetch_add(1, Ordering::Relaxed) + 1;
        inner.opens.push(OpenEntry {
            id,
            access: access_,
            share: share_,
        });
        drop(inner);
        Ok(OpenRef { state, id })
    }

    /// Unregisters an open (dropping its locks). `delete_on_close` marks the
    /// file delete-pending first (an open made with DELETE_ON_CLOSE).
    pub fn close(&self, open: &OpenRef, delete_on_close: bool) -> Closed {
        let mut files = self.files.lock().expect("file table");
        let mut inner = open.state.inner.lock().expect("file state");
        if delete_on_close {
            inner.delete_pending = true;
        }
        inner.opens.retain(|e| e.id != open.id);
        let had_locks = inner.locks.iter().any(|l| l.open == open.id);
        inner.locks.retain(|l| l.open != open.id);
        let last = inner.opens.is_empty();
        let delete = last && inner.delete_pending;
        drop(inner);
        if last {
            files.remove(&open.state.key);
        }
        if had_locks {
            open.state.unlocked.notify_waiters();
        }
        Closed { last, delete }
    }

    /// Whether any open other than `except` holds `key` (renames of open
    /// directories, for example).
    pub fn is_open(&self, key: FileKey) -> bool {
        self.files.lock().expect("file table").contains_key(&key)
    }
}

impl FileState {
    pub fn set_delete_pending(&self, on: bool) {
        self.inner.lock().expect("file state").delete_pending = on;
    }

    pub fn delete_pending(&self) -> bool {
        self.inner.lock().expect("file state").delete_pending
    }

    /// Whether a read (`write` false) or write by `open` of the range may
    /// go ahead, given the other opens' locks.
    pub fn check_io(
        &self,
        open: u64,
        offset: u64,
        length: u64,
        write: bool,
    ) -> Result<(), NtStatus> {
        if length == 0 {
            return Ok(());
        }
        let inner = self.inner.lock().expect("file state");
        let blocked = inner
            .locks
            .iter()
            .any(|l| l.open != open && l.overlaps(offset, length) && (l.exclusive || write));
        if blocked {
            Err(NtStatus::FILE_LOCK_CONFLICT)
        } else {
            Ok(())
        }
    }

    fn try_lock(inner: &mut FileInner, open: u64, e: &LockElement) -> Result<(), NtStatus> {
        let exclusive = e.flags & lock_flags::EXCLUSIVE != 0;
        let conflict = inner.locks.iter().any(|l| {
            // Shared locks never conflict with each other, whoever holds
            // them; an exclusive one conflicts even with its own handle.
            l.overlaps(e.offset, e.length) && (l.exclusive || exclusive)
        });
        if conflict {
            return Err(NtStatus::LOCK_NOT_GRANTED);
        }
        inner.locks.push(ByteLock {
            open,
            offset: e.offset,
            length: e.length,
            exclusive,
        });
        Ok(())
    }

    /// Applies a LOCK request for `open`: either unlocks (every element must
    /// match an existing lock of this open) or locks, all or nothing. A
    /// lock that conflicts waits until it can be granted unless the element
    /// says FAIL_IMMEDIATELY (then LOCK_NOT_GRANTED).
    pub async fn lock(&self, open: u64, elements: &[LockElement]) -> Result<(), NtStatus> {
        let unlock = elements[0].flags & lock_flags::UNLOCK != 0;
        for e in elements {
            if (e.flags & lock_flags::UNLOCK != 0) != unlock {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            if e.offset.checked_add(e.length).is_none() && e.length != 0 {
                return Err(NtStatus(0xc000_01a1)); // INVALID_LOCK_RANGE
            }
            let kind = e.flags & (lock_flags::SHARED | lock_flags::EXCLUSIVE | lock_flags::UNLOCK);
            let valid = if unlock {
                kind == lock_flags::UNLOCK
            } else {
                kind == lock_flags::SHARED || kind == lock_flags::EXCLUSIVE
            };
            if !valid {
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        if unlock {
            let mut inner = self.inner.lock().expect("file state");
            for e in elements {
                let pos = inner
                    .locks
                    .iter()
                    .position(|l| l.open == open && l.offset == e.offset && l.length == e.length)
                    .ok_or(NtStatus::RANGE_NOT_LOCKED)?;
                inner.locks.remove(pos);
            }
            drop(inner);
            self.unlocked.notify_waiters();
            return Ok(());
        }
        // Multiple elements must all be immediate (MS-SMB2 3.3.5.14).
        let may_wait = elements.len() == 1 && elements[0].flags & lock_flags::FAIL_IMMEDIATELY == 0;
        loop {
            let notified = self.unlocked.notified();
            {
                let mut inner = self.inner.lock().expect("file state");
                let before = inner.locks.len();
                let mut result = Ok(());
                for e in elements {
                    if let Err(s) = Self::try_lock(&mut inner, open, e) {
                        result = Err(s);
                        break;
                    }
                }
                match result {
                    Ok(()) => return Ok(()),
                    Err(s) => {
                        inner.locks.truncate(before);
                        if !may_wait {
                            return Err(s);
                        }
                    }
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(offset: u64, length: u64, flags: u32) -> LockElement {
        LockElement {
            offset,
            length,
            flags,
        }
    }

    #[test]
    fn sharing_modes() {
        let t = FileTable::new();
        let k = (1, 2);
        let r = access::FILE_READ_DATA;
        let w = access::FILE_WRITE_DATA;
        let a = t.open(k, r, share::READ).unwrap();
        assert_eq!(
            t.open(k, w, share::READ | share::WRITE).unwrap_err(),
            NtStatus::SHARING_VIOLATION
        );
        let b = t.open(k, r, share::READ).unwrap();
        // Attribute-only opens never conflict.
        let c = t.open(k, access::FILE_READ_ATTRIBUTES, 0).unwrap();
        assert_eq!(
            t.open(k, access::DELETE, share::READ).unwrap_err(),
            NtStatus::SHARING_VIOLATION
        );
        t.close(&a, false);
        t.close(&b, false);
        t.close(&c, false);
        assert!(!t.is_open(k));
        assert!(t.open(k, w, 0).is_ok());
    }

    #[test]
    fn delete_pending_blocks_new_opens_and_deletes_on_last_close() {
        let t = FileTable::new();
        let k = (1, 3);
        let a = t
            .open(k, access::DELETE, share::DELETE | share::READ)
            .unwrap();
        let b = t
            .open(k, access::FILE_READ_DATA, share::DELETE | share::READ)
            .unwrap();
        assert_eq!(
            t.close(&a, true),
            Closed {
                last: false,
                delete: false
            }
        );
        assert_eq!(
            t.open(k, access::FILE_READ_DATA, 7).unwrap_err(),
            NtStatus::DELETE_PENDING
        );
        assert_eq!(
            t.close(&b, false),
            Closed {
                last: true,
                delete: true
            }
        );
    }

    #[tokio::test]
    async fn byte_range_locks() {
        let t = FileTable::new();
        let a = t.open((1, 4), 3, 7).unwrap();
        let b = t.open((1, 4), 3, 7).unwrap();
        let s = &a.state;
        s.lock(
            a.id,
            &[el(
                0,
                10,
                lock_flags::EXCLUSIVE | lock_flags::FAIL_IMMEDIATELY,
            )],
        )
        .await
        .unwrap();
        assert_eq!(
            s.lock(
                b.id,
                &[el(5, 10, lock_flags::SHARED | lock_flags::FAIL_IMMEDIATELY)]
            )
            .await,
            Err(NtStatus::LOCK_NOT_GRANTED)
        );
        assert_eq!(
            s.check_io(b.id, 0, 1, false),
            Err(NtStatus::FILE_LOCK_CONFLICT)
        );
        assert!(s.check_io(a.id, 0, 1, true).is_ok());
        assert!(s.check_io(b.id, 10, 5, true).is_ok());
        assert_eq!(
            s.lock(b.id, &[el(0, 9, lock_flags::UNLOCK)]).await,
            Err(NtStatus::RANGE_NOT_LOCKED)
        );
        // A blocking lock waits for the unlock.
        let s2 = s.clone();
        let bid = b.id;
        let waiter =
            tokio::spawn(async move { s2.lock(bid, &[el(0, 10, lock_flags::SHARED)]).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        s.lock(a.id, &[el(0, 10, lock_flags::UNLOCK)])
            .await
            .unwrap();
        waiter.await.unwrap().unwrap();
        // Shared locks coexist; all-or-nothing for several elements.
        s.lock(
            a.id,
            &[el(0, 10, lock_flags::SHARED | lock_flags::FAIL_IMMEDIATELY)],
        )
        .await
        .unwrap();
        let r = s
            .lock(
                a.id,
                &[
                    el(20, 5, lock_flags::EXCLUSIVE | lock_flags::FAIL_IMMEDIATELY),
                    el(5, 1, lock_flags::EXCLUSIVE | lock_flags::FAIL_IMMEDIATELY),
                ],
            )
            .await;
        assert_eq!(r, Err(NtStatus::LOCK_NOT_GRANTED));
        assert!(
            s.check_io(b.id, 20, 5, true).is_ok(),
            "the first element was rolled back"
        );
        // Closing drops an open's locks.
        t.close(&b, false);
        s.lock(a.id, &[el(0, 10, lock_flags::UNLOCK)])
            .await
            .unwrap();
        assert_eq!(
            s.lock(a.id, &[el(0, 1, lock_flags::SHARED | lock_flags::UNLOCK)])
                .await,
            Err(NtStatus::INVALID_PARAMETER)
        );
    }
}

//! What all opens of one file share, across every connection of the
//! server: sharing modes, the delete-pending flag, byte-range locks and
//! oplocks. (MS-FSA 2.1.5.1.2 sharing checks, 2.1.5.7 byte-range locks,
//! 2.1.5.17-18 oplocks.)
//!
//! Oplocks are kept as the caching rights they grant, as Samba does:
//! Read, Write and Handle caching. A batch oplock is RWH, an exclusive one
//! RW, level II is R. A new open breaks what conflicts with it: the Write
//! right of another open (or its Handle right, when only closing that open
//! would avoid a sharing violation), and every right when it is going to
//! overwrite the file. Breaking a right other than R waits for the holder's
//! acknowledgment (or close, or [`BREAK_TIMEOUT`]); a level II oplock is
//! broken to none without waiting, and so is every level II oplock when
//! the file's data changes (write, truncate, byte-range lock).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::path::RelPath;
use crate::ntvfs::OplockBreaks;
use crate::ntvfs::types::{FileId, LockElement, OplockLevel, access, lock_flags, share};
use crate::wire::NtStatus;

/// How long a new open waits for a holder to acknowledge an oplock break
/// before it goes on as if it had (Windows waits 35 s, smbtorture expects
/// that).
pub const BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// Caching rights.
mod caching {
    pub const R: u8 = 1;
    pub const W: u8 = 2;
    pub const H: u8 = 4;
}

fn rights(level: OplockLevel) -> u8 {
    use caching::*;
    match level {
        OplockLevel::Batch => R | W | H,
        OplockLevel::Exclusive => R | W,
        OplockLevel::LevelII => R,
        _ => 0,
    }
}

fn level_of(rights: u8) -> OplockLevel {
    use caching::*;
    if rights == R | W | H {
        OplockLevel::Batch
    } else if rights == R | W {
        OplockLevel::Exclusive
    } else if rights & R != 0 && rights & W == 0 {
        OplockLevel::LevelII
    } else {
        OplockLevel::None
    }
}

/// Opens with no more access than this neither break oplocks nor keep
/// others from getting exclusive ones (Samba's "stat opens").
const STAT_ACCESS: u32 =
    access::FILE_READ_ATTRIBUTES | access::FILE_WRITE_ATTRIBUTES | access::SYNCHRONIZE;

fn is_stat_open(access_: u32) -> bool {
    access_ & !STAT_ACCESS == 0
}

/// The oplock an open holds, and how to tell its client it is broken.
struct Holder {
    rights: u8,
    /// Set while a break waits for the client's acknowledgment: the level
    /// the client was told to break to.
    breaking_to: Option<u8>,
    /// Where the open goes once acknowledged: lower than `breaking_to`
    /// when another open needed more while the break was outstanding (a
    /// level II to none break follows the acknowledgment then).
    then_to: u8,
    file_id: FileId,
    sink: Arc<dyn OplockBreaks>,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holder")
            .field("rights", &self.rights)
            .field("breaking_to", &self.breaking_to)
            .field("file_id", &self.file_id)
            .finish_non_exhaustive()
    }
}

impl Holder {
    fn send(&mut self, to: u8) {
        self.sink.send_break(self.file_id, level_of(to));
    }
}

/// What a new open asks for besides access and sharing.
pub struct OplockRequest {
    pub level: OplockLevel,
    /// SUPERSEDE, OVERWRITE or OVERWRITE_IF of an existing file.
    pub will_overwrite: bool,
    pub is_dir: bool,
    /// The id the open will have, for break notifications.
    pub file_id: FileId,
    pub sink: Arc<dyn OplockBreaks>,
    /// False when retrying after waiting for a break.
    pub first_attempt: bool,
    /// The share root's key and the open's path in it.
    pub root: FileKey,
    pub path: Arc<Mutex<RelPath>>,
}

/// The outcome of [`FileTable::admit`].
#[derive(Debug)]
pub enum Admit {
    Opened(OpenRef, OplockLevel),
    /// Oplocks are being broken: wait, then try again.
    Wait(BreakWait),
}

/// Waits for the oplock breaks an open depends on.
#[derive(Debug)]
pub struct BreakWait {
    state: Arc<FileState>,
    rx: watch::Receiver<u64>,
}

impl BreakWait {
    /// Returns once something changed (an acknowledgment, a close), or at
    /// `deadline`, when every break still outstanding is taken as done.
    pub async fn wait(mut self, deadline: tokio::time::Instant) {
        if tokio::time::timeout_at(deadline, self.rx.changed())
            .await
            .is_err()
        {
            self.state.breaks_timed_out();
        }
    }
}

/// Identifies a file: device and inode.
pub type FileKey = (u64, u64);

/// The access bits sharing modes are about.
const READ_BITS: u32 = access::FILE_READ_DATA | access::FILE_EXECUTE;
const WRITE_BITS: u32 = access::FILE_WRITE_DATA | access::FILE_APPEND_DATA;
const DELETE_BITS: u32 = access::DELETE;

#[derive(Debug)]
struct OpenEntry {
    id: u64,
    access: u32,
    share: u32,
    oplock: Option<Holder>,
    /// The share root's key and the open's path in it.
    root: FileKey,
    path: Arc<Mutex<RelPath>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteLock {
    open: u64,
    offset: u64,
    length: u64,
    exclusive: bool,
}

impl ByteLock {
    /// Whether the range overlaps this lock. Ends are computed in 128 bits:
    /// a range may end exactly at 2^64 (offset u64::MAX, length 1).
    fn overlaps(&self, offset: u64, length: u64) -> bool {
        let (a, alen) = (u128::from(self.offset), u128::from(self.length));
        let (b, blen) = (u128::from(offset), u128::from(length));
        if alen == 0 || blen == 0 {
            // Zero-length ranges only conflict when strictly inside.
            return (alen == 0 && blen != 0 && a > b && a < b + blen)
                || (blen == 0 && alen != 0 && b > a && b < a + alen);
        }
        b < a + alen && a < b + blen
    }
}

/// A lock range is valid when its last byte is addressable (MS-FSA
/// 2.1.5.7: offset + length - 1 must not pass 2^64 - 1).
fn valid_range(offset: u64, length: u64) -> bool {
    length == 0 || offset.checked_add(length - 1).is_some()
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
    /// Bumped when an oplock break completes (acknowledged, timed out, or
    /// its open closed): opens waiting for it try again.
    oplocks: watch::Sender<u64>,
    /// Set when the file becomes delete-pending (change notifications
    /// waiting on a directory end then).
    doomed: watch::Sender<bool>,
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
    if !want(READ_BITS | WRITE_BITS | DELETE_BITS, access_)
        || !want(READ_BITS | WRITE_BITS | DELETE_BITS, existing.access)
    {
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
    /// every other open of the file and breaking the oplocks in its way
    /// (Samba's open_file_ntcreate and delay_for_oplock).
    pub fn admit(
        &self,
        key: FileKey,
        access_: u32,
        share_: u32,
        req: &OplockRequest,
    ) -> Result<Admit, NtStatus> {
        use caching::*;
        let mut files = self.files.lock().expect("file table");
        let state = files
            .entry(key)
            .or_insert_with(|| {
                Arc::new(FileState {
                    key,
                    inner: Mutex::new(FileInner::default()),
                    unlocked: Notify::new(),
                    oplocks: watch::channel(0).0,
                    doomed: watch::channel(false).0,
                })
            })
            .clone();
        let mut inner = state.inner.lock().expect("file state");
        if inner.delete_pending {
            return Err(NtStatus::DELETE_PENDING);
        }
        let violation = inner.opens.iter().any(|e| conflicts(e, access_, share_));
        // Overwriting changes the data whatever the access asked for.
        let stat_open = is_stat_open(access_) && !req.will_overwrite;
        if !stat_open {
            // What the new open cannot live with: another's write caching,
            // or its handle caching when only its close would avoid the
            // sharing violation.
            let delay_mask = if violation { H } else { W };
            let mut delay = false;
            for e in inner.opens.iter_mut() {
                let Some(h) = e.oplock.as_mut() else {
                    continue;
                };
                let mut to = h.rights & !delay_mask;
                if req.will_overwrite && delay_mask & H == 0 {
                    to &= !(H | R);
                }
                if h.rights & !to == 0 {
                    // Nothing in the way (an exclusive oplock and a
                    // sharing violation: the violation is the answer).
                    delay |= h.breaking_to.is_some();
                    continue;
                }
                // Oplocks break to level II or none only.
                to &= R;
                delay |= h.rights & delay_mask != 0;
                if h.breaking_to.is_some() {
                    // Already told; go lower after the acknowledgment if
                    // this open needs it.
                    h.then_to &= to;
                    delay |= !req.first_attempt;
                    continue;
                }
                if h.rights == R {
                    // Level II to none: no acknowledgment.
                    h.rights = 0;
                    h.send(0);
                    continue;
                }
                h.breaking_to = Some(to);
                h.then_to = to;
                h.send(to);
            }
            if delay {
                let rx = state.oplocks.subscribe();
                drop(inner);
                return Ok(Admit::Wait(BreakWait {
                    state: state.clone(),
                    rx,
                }));
            }
        }
        if violation {
            return Err(NtStatus::SHARING_VIOLATION);
        }
        let mut granted = if req.is_dir { 0 } else { rights(req.level) };
        if !inner.locks.is_empty() && !req.will_overwrite {
            granted &= !(R | H);
        }
        let others_cache = inner
            .opens
            .iter()
            .any(|e| e.oplock.as_ref().is_some_and(|h| h.rights != 0) || !is_stat_open(e.access));
        if others_cache {
            granted &= !W;
        }
        if stat_open && inner.opens.iter().any(|e| e.oplock.is_some()) {
            granted = 0;
        }
        let level = level_of(granted);
        let id = self.next_open.fetch_add(1, Ordering::Relaxed) + 1;
        inner.opens.push(OpenEntry {
            id,
            access: access_,
            share: share_,
            root: req.root,
            path: req.path.clone(),
            oplock: (level != OplockLevel::None).then(|| Holder {
                rights: rights(level),
                breaking_to: None,
                then_to: 0,
                file_id: req.file_id,
                sink: req.sink.clone(),
            }),
        });
        drop(inner);
        drop(files);
        Ok(Admit::Opened(OpenRef { state, id }, level))
    }

    /// Unregisters an open (dropping its locks). `delete_on_close` marks the
    /// file delete-pending first (an open made with DELETE_ON_CLOSE).
    pub fn close(&self, open: &OpenRef, delete_on_close: bool) -> Closed {
        let mut files = self.files.lock().expect("file table");
        let mut inner = open.state.inner.lock().expect("file state");
        if delete_on_close {
            inner.delete_pending = true;
            open.state.doomed.send_replace(true);
        }
        let had_oplock = inner
            .opens
            .iter()
            .any(|e| e.id == open.id && e.oplock.is_some());
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
        if had_oplock {
            open.state.oplocks.send_modify(|g| *g += 1);
        }
        Closed { last, delete }
    }

    /// For a rename into directory `key`: whether an open of it has DELETE
    /// access, and whether its delete is pending (Samba refuses the rename
    /// then, as Windows does).
    pub fn delete_opens(&self, key: FileKey) -> (bool, bool) {
        let files = self.files.lock().expect("file table");
        let Some(state) = files.get(&key) else {
            return (false, false);
        };
        let inner = state.inner.lock().expect("file state");
        (
            inner.opens.iter().any(|e| e.access & access::DELETE != 0),
            inner.delete_pending,
        )
    }

    /// Whether a file below directory `dir` of the share with root `root`
    /// is open (such a directory cannot be renamed: MS-FSA 2.1.5.14.11).
    pub fn open_below(&self, root: FileKey, dir: &RelPath) -> bool {
        let files = self.files.lock().expect("file table");
        files.values().any(|state| {
            let inner = state.inner.lock().expect("file state");
            inner.opens.iter().any(|e| {
                e.root == root && {
                    let p = e.path.lock().expect("path");
                    p.as_path() != dir.as_path() && p.as_path().starts_with(dir.as_path())
                }
            })
        })
    }

    /// Whether any open other than `except` holds `key` (renames of open
    /// directories, for example).
    pub fn is_open(&self, key: FileKey) -> bool {
        self.files.lock().expect("file table").contains_key(&key)
    }
}

impl FileState {
    /// The client acknowledged a break of `open`'s oplock to `level`
    /// (MS-SMB2 3.3.5.22.1). Returns the level it holds now.
    pub fn acknowledge(&self, open: u64, level: OplockLevel) -> Result<OplockLevel, NtStatus> {
        let mut inner = self.inner.lock().expect("file state");
        let e = inner
            .opens
            .iter_mut()
            .find(|e| e.id == open)
            .ok_or(NtStatus::FILE_CLOSED)?;
        let Some(h) = e.oplock.as_mut() else {
            return Err(NtStatus::INVALID_OPLOCK_PROTOCOL);
        };
        let Some(to) = h.breaking_to else {
            return Err(NtStatus::INVALID_OPLOCK_PROTOCOL);
        };
        let acked = match level {
            OplockLevel::None => 0,
            OplockLevel::LevelII => caching::R,
            _ => return Err(NtStatus::INVALID_PARAMETER),
        };
        h.breaking_to = None;
        let result = if acked & !to != 0 {
            // Acknowledged to more than the break allows: the break is
            // done (to what was asked), the client is told off.
            h.rights = to;
            Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
        } else {
            h.rights = acked;
            Ok(level)
        };
        if h.rights & !h.then_to != 0 {
            // Level II, and an open came meanwhile that needs none.
            h.rights = h.then_to;
            h.send(h.then_to);
        }
        drop(inner);
        self.oplocks.send_modify(|g| *g += 1);
        result
    }

    /// Breaks not acknowledged in time are taken as done.
    fn breaks_timed_out(&self) {
        let mut inner = self.inner.lock().expect("file state");
        for e in inner.opens.iter_mut() {
            if let Some(h) = e.oplock.as_mut()
                && h.breaking_to.take().is_some()
            {
                h.rights = h.then_to;
            }
        }
        drop(inner);
        self.oplocks.send_modify(|g| *g += 1);
    }

    /// The file's data is about to change (write, truncate, byte-range
    /// lock): every level II oplock breaks to none, the writer's own too
    /// (MS-FSA 2.1.5.17.2).
    pub fn break_level2(&self) {
        let mut inner = self.inner.lock().expect("file state");
        for e in inner.opens.iter_mut() {
            if let Some(h) = e.oplock.as_mut()
                && h.rights == caching::R
                && h.breaking_to.is_none()
            {
                h.rights = 0;
                h.send(0);
            }
        }
    }

    pub fn set_delete_pending(&self, on: bool) {
        self.inner.lock().expect("file state").delete_pending = on;
        self.doomed.send_replace(on);
    }

    /// Completes once the file is delete-pending.
    pub async fn doomed(&self) {
        let mut rx = self.doomed.subscribe();
        let _ = rx.wait_for(|d| *d).await;
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
        // A read is kept out by others' exclusive locks; a write by those
        // and by every shared lock, its own open's too (MS-FSA 2.1.4.10).
        let blocked = inner.locks.iter().any(|l| {
            l.overlaps(offset, length)
                && if write {
                    !l.exclusive || l.open != open
                } else {
                    l.exclusive && l.open != open
                }
        });
        if blocked {
            Err(NtStatus::FILE_LOCK_CONFLICT)
        } else {
            Ok(())
        }
    }

    fn try_lock(inner: &mut FileInner, open: u64, e: &LockElement) -> Result<(), NtStatus> {
        let exclusive = e.flags & lock_flags::EXCLUSIVE != 0;
        let conflict = inner.locks.iter().any(|l| {
            // An exclusive request conflicts with every lock it overlaps,
            // its own open's too; a shared one with others' exclusive
            // locks only (it stacks on its own: MS-FSA 2.1.5.7).
            l.overlaps(e.offset, e.length) && (exclusive || (l.exclusive && l.open != open))
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
        use lock_flags::{EXCLUSIVE, FAIL_IMMEDIATELY, SHARED, UNLOCK};
        // The first element says what the request is (MS-SMB2 3.3.5.14);
        // only the first lock may wait.
        let unlock = elements[0].flags & UNLOCK != 0;
        let valid = |i: usize, e: &LockElement| match e.flags {
            f if f == SHARED | FAIL_IMMEDIATELY || f == EXCLUSIVE | FAIL_IMMEDIATELY => !unlock,
            f if f == SHARED || f == EXCLUSIVE => !unlock && i == 0,
            f if f == UNLOCK => unlock,
            _ => false,
        };
        if unlock {
            // In order; what was unlocked before a bad element stays so.
            let mut inner = self.inner.lock().expect("file state");
            let mut result = Ok(());
            for (i, e) in elements.iter().enumerate() {
                if !valid(i, e) {
                    result = Err(NtStatus::INVALID_PARAMETER);
                    break;
                }
                // The exclusive lock goes before a shared one stacked on
                // the same range.
                let pos = inner
                    .locks
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.open == open && l.offset == e.offset && l.length == e.length)
                    .max_by_key(|(_, l)| l.exclusive)
                    .map(|(p, _)| p);
                match pos {
                    Some(p) => {
                        inner.locks.remove(p);
                    }
                    None => {
                        result = Err(NtStatus::RANGE_NOT_LOCKED);
                        break;
                    }
                }
            }
            drop(inner);
            self.unlocked.notify_waiters();
            return result;
        }
        for (i, e) in elements.iter().enumerate() {
            if !valid(i, e) {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            if !valid_range(e.offset, e.length) {
                return Err(NtStatus(0xc000_01a1)); // INVALID_LOCK_RANGE
            }
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

    /// Records the breaks sent.
    #[derive(Default)]
    struct Sink(Mutex<Vec<(FileId, OplockLevel)>>);

    impl OplockBreaks for Sink {
        fn send_break(&self, file_id: FileId, level: OplockLevel) {
            self.0.lock().unwrap().push((file_id, level));
        }
    }

    impl Sink {
        fn take(&self) -> Vec<(FileId, OplockLevel)> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    fn fid(n: u64) -> FileId {
        FileId {
            persistent: n,
            volatile: n,
        }
    }

    fn req(level: OplockLevel, n: u64, sink: &Arc<Sink>) -> OplockRequest {
        OplockRequest {
            level,
            will_overwrite: false,
            is_dir: false,
            file_id: fid(n),
            sink: sink.clone(),
            first_attempt: true,
            root: (0, 0),
            path: Arc::new(Mutex::new(RelPath::root())),
        }
    }

    impl FileTable {
        fn open_plain(&self, k: FileKey, a: u32, s: u32) -> Result<OpenRef, NtStatus> {
            open(self, k, a, s)
        }
    }

    /// An open without oplock where no break is expected.
    fn open(t: &FileTable, k: FileKey, a: u32, s: u32) -> Result<OpenRef, NtStatus> {
        let sink = Arc::new(Sink::default());
        match t.admit(k, a, s, &req(OplockLevel::None, 0, &sink))? {
            Admit::Opened(r, _) => Ok(r),
            Admit::Wait(_) => panic!("unexpected oplock break"),
        }
    }

    fn opened(a: Result<Admit, NtStatus>) -> (OpenRef, OplockLevel) {
        match a.unwrap() {
            Admit::Opened(r, l) => (r, l),
            Admit::Wait(_) => panic!("had to wait"),
        }
    }

    const RW: u32 = access::FILE_READ_DATA | access::FILE_WRITE_DATA;
    const ALL: u32 = share::READ | share::WRITE | share::DELETE;

    #[tokio::test]
    async fn batch_breaks_to_level2_and_the_second_open_waits_for_the_ack() {
        let t = FileTable::new();
        let k = (9, 1);
        let s1 = Arc::new(Sink::default());
        let s2 = Arc::new(Sink::default());
        let (a, l) = opened(t.admit(k, RW, ALL, &req(OplockLevel::Batch, 1, &s1)));
        assert_eq!(l, OplockLevel::Batch);
        let w = match t
            .admit(k, RW, ALL, &req(OplockLevel::Batch, 2, &s2))
            .unwrap()
        {
            Admit::Wait(w) => w,
            Admit::Opened(..) => panic!("did not wait for the break"),
        };
        assert_eq!(s1.take(), [(fid(1), OplockLevel::LevelII)]);
        assert_eq!(
            a.state.acknowledge(a.id, OplockLevel::LevelII),
            Ok(OplockLevel::LevelII)
        );
        w.wait(tokio::time::Instant::now() + Duration::from_secs(5))
            .await;
        let mut r = req(OplockLevel::Batch, 2, &s2);
        r.first_attempt = false;
        let (b, l) = opened(t.admit(k, RW, ALL, &r));
        assert_eq!(l, OplockLevel::LevelII);
        // A write breaks every level II to none, without acknowledgment.
        a.state.break_level2();
        let mut got = s1.take();
        got.extend(s2.take());
        assert_eq!(
            got,
            [(fid(1), OplockLevel::None), (fid(2), OplockLevel::None)]
        );
        assert_eq!(
            a.state.acknowledge(a.id, OplockLevel::None),
            Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
        );
        t.close(&a, false);
        t.close(&b, false);
    }

    #[tokio::test]
    async fn sharing_violation_breaks_batch_but_not_exclusive() {
        let t = FileTable::new();
        let s1 = Arc::new(Sink::default());
        let s2 = Arc::new(Sink::default());
        // Exclusive: the sharing check comes first, no break.
        let (a, l) = opened(t.admit((9, 2), RW, 0, &req(OplockLevel::Exclusive, 1, &s1)));
        assert_eq!(l, OplockLevel::Exclusive);
        assert_eq!(
            t.admit((9, 2), RW, ALL, &req(OplockLevel::None, 2, &s2))
                .unwrap_err(),
            NtStatus::SHARING_VIOLATION
        );
        assert!(s1.take().is_empty());
        t.close(&a, false);
        // Batch: broken first, since closing the cached handle would help.
        let (a, _) = opened(t.admit((9, 3), RW, 0, &req(OplockLevel::Batch, 1, &s1)));
        let w = match t
            .admit((9, 3), RW, ALL, &req(OplockLevel::None, 2, &s2))
            .unwrap()
        {
            Admit::Wait(w) => w,
            Admit::Opened(..) => panic!("did not wait"),
        };
        assert_eq!(s1.take(), [(fid(1), OplockLevel::LevelII)]);
        // The holder closes instead of acknowledging.
        t.close(&a, false);
        w.wait(tokio::time::Instant::now() + Duration::from_secs(5))
            .await;
        let (b, _) = opened(t.admit((9, 3), RW, ALL, &req(OplockLevel::None, 2, &s2)));
        t.close(&b, false);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unacknowledged_break_times_out() {
        let t = FileTable::new();
        let s1 = Arc::new(Sink::default());
        let (a, _) = opened(t.admit((9, 4), RW, ALL, &req(OplockLevel::Batch, 1, &s1)));
        let mut r = req(OplockLevel::None, 2, &s1);
        r.will_overwrite = true;
        let w = match t.admit((9, 4), RW, ALL, &r).unwrap() {
            Admit::Wait(w) => w,
            Admit::Opened(..) => panic!("did not wait"),
        };
        assert_eq!(s1.take(), [(fid(1), OplockLevel::None)]);
        w.wait(tokio::time::Instant::now() + BREAK_TIMEOUT).await;
        r.first_attempt = false;
        let (b, l) = opened(t.admit((9, 4), RW, ALL, &r));
        assert_eq!(l, OplockLevel::None);
        t.close(&a, false);
        t.close(&b, false);
    }

    #[test]
    fn stat_opens_neither_break_nor_prevent_exclusive() {
        let t = FileTable::new();
        let s = Arc::new(Sink::default());
        let (st, _) = opened(t.admit(
            (9, 5),
            access::FILE_READ_ATTRIBUTES,
            ALL,
            &req(OplockLevel::None, 1, &s),
        ));
        let (a, l) = opened(t.admit((9, 5), RW, ALL, &req(OplockLevel::Batch, 2, &s)));
        assert_eq!(l, OplockLevel::Batch);
        let (st2, l) = opened(t.admit(
            (9, 5),
            access::FILE_READ_ATTRIBUTES,
            ALL,
            &req(OplockLevel::Batch, 3, &s),
        ));
        assert_eq!(l, OplockLevel::None);
        assert!(s.take().is_empty());
        for o in [st, a, st2] {
            t.close(&o, false);
        }
    }

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
        let a = open(&t, k, r, share::READ).unwrap();
        assert_eq!(
            open(&t, k, w, share::READ | share::WRITE).unwrap_err(),
            NtStatus::SHARING_VIOLATION
        );
        let b = open(&t, k, r, share::READ).unwrap();
        // Attribute-only opens never conflict.
        let c = open(&t, k, access::FILE_READ_ATTRIBUTES, 0).unwrap();
        assert_eq!(
            open(&t, k, access::DELETE, share::READ).unwrap_err(),
            NtStatus::SHARING_VIOLATION
        );
        t.close(&a, false);
        t.close(&b, false);
        t.close(&c, false);
        assert!(!t.is_open(k));
        assert!(open(&t, k, w, 0).is_ok());
    }

    #[test]
    fn delete_pending_blocks_new_opens_and_deletes_on_last_close() {
        let t = FileTable::new();
        let k = (1, 3);
        let a = t
            .open_plain(k, access::DELETE, share::DELETE | share::READ)
            .unwrap();
        let b = t
            .open_plain(k, access::FILE_READ_DATA, share::DELETE | share::READ)
            .unwrap();
        assert_eq!(
            t.close(&a, true),
            Closed {
                last: false,
                delete: false
            }
        );
        assert_eq!(
            open(&t, k, access::FILE_READ_DATA, 7).unwrap_err(),
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
        let a = open(&t, (1, 4), 3, 7).unwrap();
        let b = open(&t, (1, 4), 3, 7).unwrap();
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

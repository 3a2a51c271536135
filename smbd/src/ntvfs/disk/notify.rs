//! CHANGE_NOTIFY on the disk backend: inotify watches.
//!
//! # Shape
//!
//! A [`Notifier`] owns one inotify instance. It is a context object: the
//! backend creates one (per connection, as Samba has one per smbd process,
//! or per server) and keeps it next to its open handles; there is no global
//! state. Every open directory handle that receives a CHANGE_NOTIFY gets a
//! [`DirWatch`] made from that notifier; the watch lives as long as the
//! handle (drop it on CLOSE) and is `Send + Sync`, so the backend can keep
//! it in an `Arc` without a lock of its own.
//!
//! Why one shared instance and not one per watch: inotify instances are
//! limited per user (`fs.inotify.max_user_instances`, 128 by default and
//! counted for the effective uid, for smbd usually root), which would cap the
//! whole server at 128 directory windows. Watches
//! (`fs.inotify.max_user_watches`) are shared by the same user too: a
//! recursive watch costs one watch per directory in the tree; directories of
//! the same inode watched by several [`DirWatch`]es share one kernel watch
//! (reference counted here).
//!
//! # Semantics (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11, as Samba approximates them)
//!
//! Changes are buffered per watch from the moment it exists: those that
//! happen while no [`DirWatch::next`] is pending are returned by the next
//! call. The kernel queue is part of that buffer: events are read from it
//! whenever any watch of the notifier runs `next()`, and dispatched to the
//! queues of all watches. A queue holds at most [`MAX_QUEUED`] records;
//! beyond that, or when the kernel queue overflowed, the watch answers
//! [`NotifyOut::Overflow`] (STATUS_NOTIFY_ENUM_DIR, the client rescans).
//! `next()` also answers `Overflow` when the matching records do not fit in
//! the client's OutputBufferLength (sum of [`notify_len`], which counts the
//! padding of the last record too, so it errs by at most 3 bytes towards
//! overflow); the records are then discarded, as Windows and Samba do.
//!
//! Mapping of inotify events (names relative to the watched directory,
//! components joined with `\`; names that are not UTF-8 are converted
//! lossily):
//!
//! | inotify                                  | action                          | filter bits |
//! |------------------------------------------|---------------------------------|-------------|
//! | `IN_CREATE`                              | Added                           | FILE_NAME, or DIR_NAME with `IN_ISDIR` |
//! | `IN_DELETE`                              | Removed                         | same |
//! | `IN_MOVED_FROM` + `IN_MOVED_TO`, same directory | RenamedOldName + RenamedNewName | same |
//! | `IN_MOVED_FROM` + `IN_MOVED_TO`, different directories of the tree | Removed + Added | same |
//! | `IN_MOVED_FROM` alone (moved out)        | Removed                         | same |
//! | `IN_MOVED_TO` alone (moved in)           | Added                           | same |
//! | `IN_MODIFY`                              | Modified                        | SIZE, LAST_WRITE ([`MODIFY_FILTER`]) |
//! | `IN_ATTRIB`                              | Modified                        | ATTRIBUTES, LAST_WRITE, LAST_ACCESS, CREATION, EA, SECURITY ([`ATTRIB_FILTER`]) |
//! | `IN_CLOSE_WRITE`, `IN_ACCESS`, `IN_OPEN`, events on the watched directory itself | not reported | |
//!
//! A move between two directories of the tree is reported as Removed +
//! Added, not as a rename: that is what Windows reports (renames are
//! same-directory operations in NTFS) and what Samba's inotify code does.
//! `IN_ATTRIB` fires for chmod/chown, ACL and other xattr changes and
//! timestamp updates (utimensat), which is where the backend keeps DOS
//! attributes, creation time, EAs and security descriptors; inotify cannot
//! tell them apart, so one Modified record matches all of those filters.
//! Samba's table is similar (it also maps `IN_MODIFY` to ATTRIBUTES, for
//! the archive bit); STREAM_* bits are never matched.
//!
//! `IN_MOVED_FROM` and its `IN_MOVED_TO` are paired by cookie. The kernel
//! queues the two one after the other but not atomically, so an unpaired
//! `IN_MOVED_FROM` waits [`MOVE_GRACE`] for its partner before it becomes
//! Removed; records after it are held back meanwhile, to keep the order.
//!
//! With `recursive` (SMB2_WATCH_TREE), every directory of the tree is
//! watched: existing ones when the watch starts, created or moved-in ones as
//! their events are read. When a directory is created, its contents are
//! listed right after its watch is added and reported as Added, so files
//! created in it before the watch existed are not missed (a name both listed
//! and seen in an event is reported once). A directory moved within the tree
//! keeps its watches under the new name; one moved out of the tree or deleted
//! is dropped. Symbolic links are never followed, so the watch cannot leave
//! the tree. Scanning a tree runs synchronously while the notifier's lock is
//! held (as Samba scans in its single thread): a recursive watch on a huge
//! share makes [`DirWatch::new`] slow and delays the other watches of the
//! same notifier meanwhile.
//!
//! Two concurrent `next()` calls on one watch (the front end never issues
//! them) are allowed: each change goes to exactly one of them.
//!
//! # For the backend
//!
//! - A CompletionFilter of 0 matches nothing and `next()` would wait
//!   forever: reject it (STATUS_INVALID_PARAMETER) before calling.
//! - CLOSE of a handle with a pending CHANGE_NOTIFY: drop the pending
//!   `next()` future (it is cancel-safe), answer it STATUS_NOTIFY_CLEANUP,
//!   then drop the [`DirWatch`] (that removes its kernel watches).
//! - Errors: [`NotifyError::Watch`] with ENOSPC means the watch limit
//!   (STATUS_INSUFFICIENT_RESOURCES), [`NotifyError::DirectoryGone`]
//!   STATUS_DELETE_PENDING, the rest are internal errors.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use nix::sys::stat::{Mode, SFlag, fstatat};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ntvfs::types::{NotifyAction, NotifyChange, NotifyOut, notify_filter};
use crate::wire::info::notify_len;

/// Records buffered per watch before it answers [`NotifyOut::Overflow`].
pub const MAX_QUEUED: usize = 1000;

/// How long an `IN_MOVED_FROM` waits for its `IN_MOVED_TO`.
pub const MOVE_GRACE: Duration = Duration::from_millis(20);

/// Filter bits of a Modified record made from `IN_MODIFY` (data written).
pub const MODIFY_FILTER: u32 = notify_filter::SIZE | notify_filter::LAST_WRITE;

/// Filter bits of a Modified record made from `IN_ATTRIB` (metadata changed).
pub const ATTRIB_FILTER: u32 = notify_filter::ATTRIBUTES
    | notify_filter::LAST_WRITE
    | notify_filter::LAST_ACCESS
    | notify_filter::CREATION
    | notify_filter::EA
    | notify_filter::SECURITY;

/// Reads of the inotify descriptor (4 KiB each) before `next()` lets
/// other tasks run, so an event storm cannot monopolise a worker.
const MAX_READS_PER_DRAIN: usize = 64;

/// Drains in a row an overflowed watch waits for the kernel queue to
/// empty before it answers Overflow anyway.
const MAX_STORM_ROUNDS: usize = 16;

/// What every directory watch asks for. No `IN_DONT_FOLLOW`: the paths we
/// add are `/proc/self/fd/N` magic links, which must be followed (with
/// it, the watch would sit on the link in /proc and never fire).
/// `IN_IGNORED`, `IN_Q_OVERFLOW` and `IN_UNMOUNT` come without asking.
const WATCH_MASK: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MODIFY)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_ONLYDIR);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error("no tokio runtime: a Notifier must be created inside one")]
    NoRuntime,
    #[error("inotify_init1: {0}")]
    Init(Errno),
    #[error("registering the inotify descriptor with tokio: {0}")]
    Register(std::io::Error),
    #[error("opening {path}: {errno}")]
    Open { path: PathBuf, errno: Errno },
    /// `inotify_add_watch` failed; ENOSPC means `fs.inotify.max_user_watches`.
    #[error("watching {path}: {errno}")]
    Watch { path: PathBuf, errno: Errno },
    #[error("reading inotify events: {0}")]
    Read(Errno),
    #[error("waiting for inotify events: {0}")]
    Wait(std::io::Error),
    /// The watched directory is gone (its inode was removed or its file
    /// system unmounted) and every change before was returned. On Linux this
    /// cannot happen while the handle keeps the directory open; answer
    /// STATUS_DELETE_PENDING if it does.
    #[error("the watched directory was removed")]
    DirectoryGone,
}

/// One inotify instance and the watches that share it. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

/// One watched directory handle (see the module documentation).
pub struct DirWatch {
    inner: Arc<Inner>,
    id: u64,
    wake: Arc<Notify>,
}

struct Inner {
    inotify: AsyncFd<InotifyFd>,
    state: Mutex<State>,
}

/// `AsyncFd` wants `AsRawFd`, nix's `Inotify` only has `AsFd`.
struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

struct State {
    next_id: u64,
    watches: HashMap<u64, Watch>,
    /// Which watches use each kernel watch; it is removed with the last one.
    by_wd: HashMap<WatchDescriptor, Vec<u64>>,
}

/// Adds and removes kernel watches, keeping `by_wd` in step.
struct Registry<'a> {
    inotify: &'a Inotify,
    by_wd: &'a mut HashMap<WatchDescriptor, Vec<u64>>,
}

type RelPath = Vec<OsString>;

struct Watch {
    recursive: bool,
    /// O_PATH descriptor of the watched directory: subdirectories are
    /// opened beneath it, one component at a time, never following links.
    root: OwnedFd,
    root_wd: WatchDescriptor,
    root_gone: bool,
    /// Watched directories, relative to the root (empty for the root).
    dirs: HashMap<WatchDescriptor, RelPath>,
    /// The filter of the latest `next()`: what gets buffered (None before
    /// the first call: everything).
    filter: Option<u32>,
    queue: VecDeque<Queued>,
    overflow: bool,
    /// `IN_MOVED_FROM`s still waiting for their `IN_MOVED_TO`.
    moves: Vec<PendingMove>,
    /// Names reported as Added by listing a new directory, whose own
    /// `IN_CREATE` may still be in the kernel queue (reported once only).
    scanned: HashSet<String>,
    wake: Arc<Notify>,
}

enum Queued {
    Change {
        change: NotifyChange,
        bits: u32,
    },
    /// Where the record of a pending move goes once it is resolved.
    Move {
        cookie: u32,
        deadline: Instant,
    },
}

struct PendingMove {
    cookie: u32,
    wd: WatchDescriptor,
    path: RelPath,
    is_dir: bool,
    deadline: Instant,
}

enum Take {
    Ready(NotifyOut),
    Gone,
    /// Nothing to return; wake up at this time at the latest (a pending
    /// move to resolve).
    Wait(Option<Instant>),
}

impl Notifier {
    /// Creates the inotify instance. Must run inside a tokio runtime with
    /// the I/O and time drivers enabled (`enable_all`); without a runtime
    /// it fails with [`NotifyError::NoRuntime`].
    pub fn new() -> Result<Notifier, NotifyError> {
        tokio::runtime::Handle::try_current().map_err(|_| NotifyError::NoRuntime)?;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(NotifyError::Init)?;
        // SAFETY: `InotifyFd` owns its descriptor, never replaces it, and
        // the `AsyncFd` owns the `InotifyFd`: the descriptor stays open and
        // the same for the `AsyncFd`'s whole life.
        let inotify =
            unsafe { AsyncFd::register_with_interest(InotifyFd(inotify), Interest::READABLE) }
                .map_err(|e| NotifyError::Register(e.into()))?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                inotify,
                state: Mutex::new(State {
                    next_id: 0,
                    watches: HashMap::new(),
                    by_wd: HashMap::new(),
                }),
            }),
        })
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("fd", &self.inner.inotify.as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DirWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirWatch")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl DirWatch {
    /// Starts watching the directory `dir`, recursively when `recursive`.
    ///
    /// `dir` may be `/proc/self/fd/N` of the handle's O_PATH descriptor:
    /// it is opened once (following that link) and every later access goes
    /// through the descriptor obtained, so a rename or a symlink swapped in
    /// cannot redirect the watch. inotify accepts such paths (the watch is
    /// put on the directory the link resolves to).
    pub fn new(notifier: &Notifier, dir: &Path, recursive: bool) -> Result<DirWatch, NotifyError> {
        let inner = &notifier.inner;
        let root = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| NotifyError::Open {
            path: dir.to_path_buf(),
            errno,
        })?;
        let mut guard = inner.lock();
        let state = &mut *guard;
        // What the kernel queued before now belongs to the watches that
        // existed then: a kernel watch this one comes to share must not
        // hand it changes made before it was asked for.
        while !inner.drain(state)? {}
        let id = state.next_id;
        state.next_id += 1;
        let mut reg = Registry {
            inotify: &inner.inotify.get_ref().0,
            by_wd: &mut state.by_wd,
        };
        let root_wd = reg
            .add(id, root.as_fd())
            .map_err(|errno| NotifyError::Watch {
                path: dir.to_path_buf(),
                errno,
            })?;
        let wake = Arc::new(Notify::new());
        let mut watch = Watch {
            recursive,
            root,
            root_wd,
            root_gone: false,
            dirs: HashMap::from([(root_wd, RelPath::new())]),
            filter: None,
            queue: VecDeque::new(),
            overflow: false,
            moves: Vec::new(),
            scanned: HashSet::new(),
            wake: wake.clone(),
        };
        if recursive {
            watch.watch_tree(id, &mut reg, RelPath::new(), false);
        }
        state.watches.insert(id, watch);
        Ok(DirWatch {
            inner: notifier.inner.clone(),
            id,
            wake,
        })
    }

    /// Waits until changes matching `filter` (FILE_NOTIFY_CHANGE_* bits)
    /// are available and returns them, or [`NotifyOut::Overflow`] when they
    /// do not fit in `max_output` bytes or too many accumulated.
    ///
    /// Changes buffered earlier that do not match `filter` are discarded;
    /// from now on, only changes matching `filter` are buffered.
    ///
    /// Cancel-safe: all state lives in the watch, events are taken from the
    /// kernel and returned without an `.await` in between, so dropping the
    /// future (CANCEL, CLOSE) loses nothing.
    pub async fn next(&self, filter: u32, max_output: u32) -> Result<NotifyOut, NotifyError> {
        let mut storm = 0;
        loop {
            let (quiet, wait_until) = {
                let mut guard = self.inner.lock();
                let state = &mut *guard;
                // Only Drop removes the watch, and it cannot run during &self.
                if let Some(watch) = state.watches.get_mut(&self.id) {
                    // Before reading: what is read now is buffered by it.
                    watch.filter = Some(filter);
                }
                let quiet = self.inner.drain(state)?;
                let Some(watch) = state.watches.get_mut(&self.id) else {
                    return Err(NotifyError::DirectoryGone);
                };
                if watch.overflow && !quiet && storm < MAX_STORM_ROUNDS {
                    // One overflow for the whole storm: the kernel may
                    // still hold the IN_Q_OVERFLOW that would cause another.
                    storm += 1;
                    (false, None)
                } else {
                    match watch.take(filter, max_output) {
                        Take::Ready(out) => return Ok(out),
                        Take::Gone => return Err(NotifyError::DirectoryGone),
                        Take::Wait(until) => (quiet, until),
                    }
                }
            };
            if !quiet {
                // Events are left in the kernel queue: come back for them
                // after letting others run, without waiting for an edge.
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                ready = self.inner.inotify.readable() => {
                    // Clearing before the next drain (which reads until
                    // EAGAIN) cannot lose an edge.
                    ready.map_err(NotifyError::Wait)?.clear_ready();
                }
                _ = sleep_until(wait_until), if wait_until.is_some() => {}
            }
        }
    }
}

async fn sleep_until(when: Option<Instant>) {
    if let Some(when) = when {
        tokio::time::sleep_until(when).await;
    }
}

impl Drop for DirWatch {
    fn drop(&mut self) {
        let mut guard = self.inner.lock();
        let state = &mut *guard;
        let Some(watch) = state.watches.remove(&self.id) else {
            return;
        };
        let mut reg = Registry {
            inotify: &self.inner.inotify.get_ref().0,
            by_wd: &mut state.by_wd,
        };
        for wd in watch.dirs.keys() {
            reg.remove(self.id, *wd);
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take every watch down with it; the
        // state stays consistent between statements that matter.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads what the kernel has queued and dispatches it. Returns whether
    /// the kernel queue was emptied (false: it stopped after
    /// [`MAX_READS_PER_DRAIN`] reads).
    fn drain(&self, state: &mut State) -> Result<bool, NotifyError> {
        let inotify = &self.inotify.get_ref().0;
        for _ in 0..MAX_READS_PER_DRAIN {
            match inotify.read_events() {
                Ok(events) => {
                    let now = Instant::now();
                    for event in &events {
                        state.dispatch(inotify, event, now);
                    }
                }
                Err(Errno::EAGAIN) => {
                    state.settle(inotify, Instant::now());
                    return Ok(true);
                }
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(NotifyError::Read(errno)),
            }
        }
        Ok(false)
    }
}

impl State {
    fn dispatch(&mut self, inotify: &Inotify, event: &InotifyEvent, now: Instant) {
        let State { watches, by_wd, .. } = self;
        let mut reg = Registry { inotify, by_wd };
        if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            tracing::warn!(target: "smbd::notify", "inotify queue overflow, every watch rescans");
            for (id, watch) in watches.iter_mut() {
                watch.kernel_overflow(*id, &mut reg);
            }
            return;
        }
        if event.mask.contains(AddWatchFlags::IN_IGNORED) {
            // The kernel dropped this watch (directory removed, unmounted).
            for id in reg.by_wd.remove(&event.wd).unwrap_or_default() {
                if let Some(watch) = watches.get_mut(&id) {
                    watch.forget(event.wd);
                }
            }
            return;
        }
        let Some(ids) = reg.by_wd.get(&event.wd) else {
            return; // a watch removed since the event was queued
        };
        for id in ids.clone() {
            if let Some(watch) = watches.get_mut(&id) {
                watch.on_event(id, &mut reg, event, now);
            }
        }
    }

    /// The kernel queue is empty: whatever was queued before is processed.
    /// Unpaired moves past their grace time are moves out of the tree, and
    /// the names listed from new directories can no longer show up again.
    fn settle(&mut self, inotify: &Inotify, now: Instant) {
        let State { watches, by_wd, .. } = self;
        let mut reg = Registry { inotify, by_wd };
        for (id, watch) in watches.iter_mut() {
            watch.scanned.clear();
            if !watch.moves.is_empty() {
                watch.expire_moves(*id, &mut reg, now);
            }
        }
    }
}

impl Registry<'_> {
    /// Watches the directory open as `dir` for watch `id`.
    fn add(&mut self, id: u64, dir: BorrowedFd<'_>) -> nix::Result<WatchDescriptor> {
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let wd = self.inotify.add_watch(path.as_str(), WATCH_MASK)?;
        let users = self.by_wd.entry(wd).or_default();
        if !users.contains(&id) {
            users.push(id);
        }
        Ok(wd)
    }

    fn remove(&mut self, id: u64, wd: WatchDescriptor) {
        let Some(users) = self.by_wd.get_mut(&wd) else {
            return;
        };
        users.retain(|u| *u != id);
        if users.is_empty() {
            self.by_wd.remove(&wd);
            // EINVAL when the kernel dropped it already: nothing to do.
            let _ = self.inotify.rm_watch(wd);
        }
    }
}

impl Watch {
    fn on_event(&mut self, id: u64, reg: &mut Registry<'_>, event: &InotifyEvent, now: Instant) {
        // Events about the watched directories themselves (no name) are
        // reported by their parents, or not at all for the root.
        let Some(name) = &event.name else {
            return;
        };
        let Some(dir) = self.dirs.get(&event.wd) else {
            return;
        };
        let mut path = dir.clone();
        path.push(name.clone());
        let is_dir = event.mask.contains(AddWatchFlags::IN_ISDIR);
        let name_bits = if is_dir {
            notify_filter::DIR_NAME
        } else {
            notify_filter::FILE_NAME
        };
        let mask = event.mask;
        if mask.contains(AddWatchFlags::IN_CREATE) {
            if !self.scanned.remove(&smb_name(&path)) {
                self.push(NotifyAction::Added, &path, name_bits);
            }
            if is_dir && self.recursive {
                self.watch_tree(id, reg, path, true);
            }
        } else if mask.contains(AddWatchFlags::IN_DELETE) {
            self.scanned.remove(&smb_name(&path));
            self.push(NotifyAction::Removed, &path, name_bits);
        } else if mask.contains(AddWatchFlags::IN_MOVED_FROM) {
            self.scanned.remove(&smb_name(&path));
            let deadline = now + MOVE_GRACE;
            if self.accepts(name_bits) {
                self.enqueue(Queued::Move {
                    cookie: event.cookie,
                    deadline,
                });
            }
            self.moves.push(PendingMove {
                cookie: event.cookie,
                wd: event.wd,
                path,
                is_dir,
                deadline,
            });
        } else if mask.contains(AddWatchFlags::IN_MOVED_TO) {
            let paired = self.moves.iter().position(|m| m.cookie == event.cookie);
            if let Some(from) = paired.map(|i| self.moves.remove(i)) {
                let (old, new) = if from.wd == event.wd {
                    (NotifyAction::RenamedOldName, NotifyAction::RenamedNewName)
                } else {
                    (NotifyAction::Removed, NotifyAction::Added)
                };
                self.resolve_move(from.cookie, &[(old, &from.path), (new, &path)], name_bits);
                if from.is_dir && self.recursive {
                    self.rename_subtree(&from.path, &path);
                }
            } else {
                if !self.scanned.remove(&smb_name(&path)) {
                    self.push(NotifyAction::Added, &path, name_bits);
                }
                if is_dir && self.recursive {
                    self.watch_tree(id, reg, path, false);
                }
            }
        } else if mask.contains(AddWatchFlags::IN_MODIFY) {
            self.push(NotifyAction::Modified, &path, MODIFY_FILTER);
        } else if mask.contains(AddWatchFlags::IN_ATTRIB) {
            self.push(NotifyAction::Modified, &path, ATTRIB_FILTER);
        }
    }

    /// Whether a record with these filter bits is buffered now.
    fn accepts(&self, bits: u32) -> bool {
        !self.overflow && self.filter.is_none_or(|f| f & bits != 0)
    }

    fn push(&mut self, action: NotifyAction, path: &[OsString], bits: u32) {
        if self.accepts(bits) {
            let change = NotifyChange {
                action,
                name: smb_name(path),
            };
            self.enqueue(Queued::Change { change, bits });
        }
    }

    fn enqueue(&mut self, record: Queued) {
        if self.queue.len() >= MAX_QUEUED {
            self.set_overflow();
        } else {
            self.queue.push_back(record);
            self.wake.notify_one();
        }
    }

    fn set_overflow(&mut self) {
        self.overflow = true;
        self.queue.clear();
        self.wake.notify_one();
    }

    /// Puts the records of a resolved move where its placeholder is. No
    /// placeholder: the filter excluded it or an overflow flushed it, and
    /// the records are not wanted either.
    fn resolve_move(&mut self, cookie: u32, records: &[(NotifyAction, &RelPath)], bits: u32) {
        let Some(at) = self
            .queue
            .iter()
            .position(|q| matches!(q, Queued::Move { cookie: c, .. } if *c == cookie))
        else {
            return;
        };
        self.queue.remove(at);
        for (i, (action, path)) in records.iter().enumerate() {
            let change = NotifyChange {
                action: *action,
                name: smb_name(path),
            };
            self.queue.insert(at + i, Queued::Change { change, bits });
        }
        if self.queue.len() > MAX_QUEUED {
            self.set_overflow();
        }
        self.wake.notify_one();
    }

    /// Unpaired `IN_MOVED_FROM`s whose grace time passed: moved out.
    fn expire_moves(&mut self, id: u64, reg: &mut Registry<'_>, now: Instant) {
        let (expired, waiting) = std::mem::take(&mut self.moves)
            .into_iter()
            .partition(|m| m.deadline <= now);
        self.moves = waiting;
        for m in expired {
            let bits = if m.is_dir {
                notify_filter::DIR_NAME
            } else {
                notify_filter::FILE_NAME
            };
            self.resolve_move(m.cookie, &[(NotifyAction::Removed, &m.path)], bits);
            if m.is_dir && self.recursive {
                self.drop_subtree(id, reg, &m.path);
            }
        }
    }

    fn rename_subtree(&mut self, from: &[OsString], to: &[OsString]) {
        for path in self.dirs.values_mut() {
            if !from.is_empty() && path.starts_with(from) {
                let mut renamed = to.to_vec();
                renamed.extend_from_slice(&path[from.len()..]);
                *path = renamed;
            }
        }
    }

    fn drop_subtree(&mut self, id: u64, reg: &mut Registry<'_>, prefix: &[OsString]) {
        if prefix.is_empty() {
            return;
        }
        let gone: Vec<WatchDescriptor> = self
            .dirs
            .iter()
            .filter(|(_, path)| path.starts_with(prefix))
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            self.dirs.remove(&wd);
            reg.remove(id, wd);
        }
    }

    /// The kernel dropped `wd`.
    fn forget(&mut self, wd: WatchDescriptor) {
        self.dirs.remove(&wd);
        if wd == self.root_wd {
            self.root_gone = true;
            self.wake.notify_one();
        }
    }

    /// Events were lost: the client must rescan, and so must we.
    fn kernel_overflow(&mut self, id: u64, reg: &mut Registry<'_>) {
        self.set_overflow();
        self.moves.clear();
        self.scanned.clear();
        if self.recursive && !self.root_gone {
            let old = std::mem::take(&mut self.dirs);
            self.dirs.insert(self.root_wd, RelPath::new());
            self.watch_tree(id, reg, RelPath::new(), false);
            for wd in old.keys() {
                if !self.dirs.contains_key(wd) {
                    reg.remove(id, *wd);
                }
            }
        }
    }

    /// Watches the directory `start` and, for a recursive watch, every
    /// directory beneath it. With `report`, everything found beneath
    /// `start` is reported as Added (a directory just created: whatever is
    /// in it was created after it). Failures (the directory went away, no
    /// permission, out of watches) skip that directory and are logged.
    fn watch_tree(&mut self, id: u64, reg: &mut Registry<'_>, start: RelPath, report: bool) {
        struct Todo {
            /// Open parent directory; None: open `path` from the root.
            parent: Option<Rc<Dir>>,
            path: RelPath,
        }
        let mut visited = HashSet::new();
        let mut todo = vec![Todo {
            parent: None,
            path: start,
        }];
        while let Some(Todo { parent, path }) = todo.pop() {
            let opened = match (&parent, path.last()) {
                (Some(parent), Some(name)) => {
                    openat(parent.as_fd(), name.as_os_str(), READ_DIR, Mode::empty())
                }
                _ => self.open_dir(&path),
            };
            let fd = match opened {
                Ok(fd) => fd,
                Err(errno) => {
                    tracing::debug!(target: "smbd::notify", dir = %smb_name(&path), %errno, "not watched");
                    continue;
                }
            };
            let wd = match reg.add(id, fd.as_fd()) {
                Ok(wd) => wd,
                Err(errno) => {
                    tracing::warn!(target: "smbd::notify", dir = %smb_name(&path), %errno, "cannot watch directory");
                    continue;
                }
            };
            // Seen twice in one walk, or the root seen below itself: a bind
            // mount loop.
            if !visited.insert(wd) || (wd == self.root_wd && !path.is_empty()) {
                continue;
            }
            self.dirs.insert(wd, path.clone());
            if !self.recursive {
                continue;
            }
            let mut dir = match Dir::from_fd(fd) {
                Ok(dir) => dir,
                Err(errno) => {
                    tracing::debug!(target: "smbd::notify", dir = %smb_name(&path), %errno, "cannot list");
                    continue;
                }
            };
            // Stop at the first error: readdir may keep failing.
            let entries: Vec<(OsString, Option<Type>)> = dir
                .iter()
                .map_while(Result::ok)
                .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
                .map(|e| {
                    let name = std::ffi::OsStr::from_bytes(e.file_name().to_bytes());
                    (name.to_os_string(), e.file_type())
                })
                .collect();
            let mut subdirs = Vec::new();
            let mut found = Vec::new();
            for (name, kind) in entries {
                let is_dir = match kind {
                    Some(kind) => kind == Type::Directory,
                    None => is_directory(&dir, &name),
                };
                if report {
                    found.push((name.clone(), is_dir));
                }
                if is_dir {
                    subdirs.push(name);
                }
            }
            for (name, is_dir) in found {
                let mut child = path.clone();
                child.push(name);
                let bits = if is_dir {
                    notify_filter::DIR_NAME
                } else {
                    notify_filter::FILE_NAME
                };
                self.scanned.insert(smb_name(&child));
                self.push(NotifyAction::Added, &child, bits);
            }
            let dir = Rc::new(dir);
            for name in subdirs {
                let mut child = path.clone();
                child.push(name);
                todo.push(Todo {
                    parent: Some(dir.clone()),
                    path: child,
                });
            }
        }
    }

    /// Opens `path` beneath the root for reading, one component at a time,
    /// refusing symbolic links.
    fn open_dir(&self, path: &[OsString]) -> nix::Result<OwnedFd> {
        let Some((last, walk)) = path.split_last() else {
            return openat(self.root.as_fd(), ".", READ_DIR, Mode::empty());
        };
        let mut cur: Option<OwnedFd> = None;
        for name in walk {
            let at = cur.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
            let next = openat(
                at,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            cur = Some(next);
        }
        let at = cur.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
        openat(at, last.as_os_str(), READ_DIR, Mode::empty())
    }

    /// What `next()` returns now, if anything.
    fn take(&mut self, filter: u32, max_output: u32) -> Take {
        if self.overflow {
            self.overflow = false;
            self.queue.clear();
            return Take::Ready(NotifyOut::Overflow);
        }
        let mut out = Vec::new();
        let mut size = 0usize;
        let mut wait = None;
        while let Some(front) = self.queue.front() {
            if let Queued::Move { deadline, .. } = front {
                wait = Some(*deadline);
                break;
            }
            if let Some(Queued::Change { change, bits }) = self.queue.pop_front()
                && bits & filter != 0
            {
                size = size.saturating_add(notify_len(&change));
                out.push(change);
            }
        }
        if !out.is_empty() {
            if size > max_output as usize {
                return Take::Ready(NotifyOut::Overflow);
            }
            return Take::Ready(NotifyOut::Changes(out));
        }
        if self.root_gone && self.queue.is_empty() {
            return Take::Gone;
        }
        Take::Wait(wait)
    }
}

const READ_DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// For file systems whose readdir does not give the type.
fn is_directory(dir: &Dir, name: &OsString) -> bool {
    fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// The name a client sees: components joined with `\`.
fn smb_name(path: &[OsString]) -> String {
    let parts: Vec<_> = path.iter().map(|p| p.to_string_lossy()).collect();
    parts.join("\\")
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_filter::{DIR_NAME, FILE_NAME};
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use tempfile::TempDir;
    use tokio::time::timeout;

    const NAMES: u32 = FILE_NAME | DIR_NAME;
    const BIG: u32 = 64 * 1024;

    /// A watch made the way the backend makes it: through /proc/self/fd/N
    /// of an O_PATH descriptor of the directory.
    struct Fixture {
        watch: DirWatch,
        notifier: Notifier,
        _handle: OwnedFd,
    }

    fn watch(dir: &Path, recursive: bool) -> Fixture {
        let notifier = Notifier::new().expect("notifier");
        watch_with(&notifier, dir, recursive)
    }

    fn watch_with(notifier: &Notifier, dir: &Path, recursive: bool) -> Fixture {
        let handle = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .expect("open O_PATH");
        let proc = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
        let watch = DirWatch::new(notifier, &proc, recursive).expect("watch");
        Fixture {
            watch,
            notifier: notifier.clone(),
            _handle: handle,
        }
    }

    fn ch(action: NotifyAction, name: &str) -> NotifyChange {
        NotifyChange {
            action,
            name: name.to_string(),
        }
    }

    use NotifyAction::{Added, Modified, Removed, RenamedNewName, RenamedOldName};

    /// Calls `next` until at least `want` records came.
    async fn collect(w: &DirWatch, filter: u32, want: usize) -> Vec<NotifyChange> {
        let mut got = Vec::new();
        while got.len() < want {
            match timeout(Duration::from_secs(5), w.next(filter, BIG)).await {
                Ok(Ok(NotifyOut::Changes(c))) => got.extend(c),
                other => panic!("after {got:?}: {other:?}"),
            }
        }
        got
    }

    /// Nothing matching `filter` comes within a while.
    async fn quiet(w: &DirWatch, filter: u32) {
        let r = timeout(Duration::from_millis(300), w.next(filter, BIG)).await;
        assert!(r.is_err(), "unexpected {r:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_and_delete() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        fs::write(t.path().join("a.txt"), b"").unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        fs::remove_file(t.path().join("a.txt")).unwrap();
        fs::remove_dir(t.path().join("d")).unwrap();
        let got = collect(&f.watch, NAMES, 4).await;
        assert_eq!(
            got,
            [
                ch(Added, "a.txt"),
                ch(Added, "d"),
                ch(Removed, "a.txt"),
                ch(Removed, "d")
            ]
        );
        quiet(&f.watch, NAMES).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rename_in_directory_pairs() {
        let t = TempDir::new().unwrap();
        fs::write(t.path().join("a"), b"x").unwrap();
        let f = watch(t.path(), false);
        fs::rename(t.path().join("a"), t.path().join("b")).unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(RenamedOldName, "a"), ch(RenamedNewName, "b")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn modify_and_attributes() {
        let t = TempDir::new().unwrap();
        let path = t.path().join("f");
        fs::write(&path, b"x").unwrap();
        let f = watch(t.path(), false);
        fs::write(&path, b"more data").unwrap();
        let got = collect(&f.watch, notify_filter::SIZE, 1).await;
        assert!(got.iter().all(|c| *c == ch(Modified, "f")), "{got:?}");
        // chmod is IN_ATTRIB: not SIZE ...
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        quiet(&f.watch, notify_filter::SIZE).await;
        // ... but SECURITY (and ATTRIBUTES).
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let got = collect(&f.watch, notify_filter::SECURITY, 1).await;
        assert_eq!(got, [ch(Modified, "f")]);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let got = collect(&f.watch, notify_filter::ATTRIBUTES, 1).await;
        assert_eq!(got, [ch(Modified, "f")]);
        // File names only: data and metadata changes are not reported.
        fs::write(&path, b"again").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        quiet(&f.watch, NAMES).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filter_excludes_other_changes() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        fs::write(t.path().join("file"), b"x").unwrap();
        fs::create_dir(t.path().join("dir")).unwrap();
        let got = collect(&f.watch, DIR_NAME, 1).await;
        assert_eq!(got, [ch(Added, "dir")]);
        quiet(&f.watch, DIR_NAME).await;
        // Stream bits are never matched.
        fs::write(t.path().join("other"), b"x").unwrap();
        quiet(
            &f.watch,
            notify_filter::STREAM_NAME | notify_filter::STREAM_WRITE,
        )
        .await;
        fs::remove_dir(t.path().join("dir")).unwrap();
        let got = collect(&f.watch, DIR_NAME, 1).await;
        assert_eq!(got, [ch(Removed, "dir")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recursive_sees_existing_subdirectory() {
        let t = TempDir::new().unwrap();
        fs::create_dir_all(t.path().join("sub/deep")).unwrap();
        let f = watch(t.path(), true);
        fs::write(t.path().join("sub/f.txt"), b"").unwrap();
        fs::write(t.path().join("sub/deep/g"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(Added, "sub\\f.txt"), ch(Added, "sub\\deep\\g")]);
        fs::remove_file(t.path().join("sub/deep/g")).unwrap();
        fs::remove_dir(t.path().join("sub/deep")).unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(Removed, "sub\\deep\\g"), ch(Removed, "sub\\deep")]);
        fs::write(t.path().join("sub/h"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Added, "sub\\h")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recursive_sees_new_subdirectory() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), true);
        // No waiting in between: the directories are created before their
        // watches exist, their contents are found by listing them.
        fs::create_dir_all(t.path().join("new/deeper")).unwrap();
        fs::write(t.path().join("new/deeper/f"), b"").unwrap();
        fs::write(t.path().join("new/g"), b"").unwrap();
        let mut got = collect(&f.watch, NAMES, 4).await;
        quiet(&f.watch, NAMES).await;
        assert_eq!(got[0], ch(Added, "new"));
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            got,
            [
                ch(Added, "new"),
                ch(Added, "new\\deeper"),
                ch(Added, "new\\deeper\\f"),
                ch(Added, "new\\g")
            ]
        );
        // And they are watched now.
        fs::write(t.path().join("new/deeper/h"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Added, "new\\deeper\\h")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_subdirectory_reported_once() {
        // With a next() pending, the watch on the new directory usually
        // exists before the file in it is created: no duplicates either way.
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), true);
        for i in 0..20 {
            let d = t.path().join(format!("d{i}"));
            fs::create_dir(&d).unwrap();
            fs::write(d.join("x"), b"").unwrap();
        }
        let got = collect(&f.watch, NAMES, 40).await;
        quiet(&f.watch, NAMES).await;
        assert_eq!(got.len(), 40, "{got:?}");
        for i in 0..20 {
            let d = format!("d{i}");
            let x = format!("d{i}\\x");
            let pd = got.iter().position(|c| c.name == d);
            let px = got.iter().position(|c| c.name == x);
            assert!(pd.is_some() && px.is_some() && pd < px, "{got:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn non_recursive_ignores_subdirectories() {
        let t = TempDir::new().unwrap();
        fs::create_dir(t.path().join("sub")).unwrap();
        let f = watch(t.path(), false);
        fs::write(t.path().join("sub/f"), b"").unwrap();
        fs::create_dir(t.path().join("sub/d")).unwrap();
        quiet(&f.watch, NAMES).await;
        fs::write(t.path().join("g"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Added, "g")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moves_within_the_tree() {
        let t = TempDir::new().unwrap();
        fs::create_dir(t.path().join("a")).unwrap();
        fs::create_dir(t.path().join("b")).unwrap();
        fs::write(t.path().join("a/f"), b"").unwrap();
        let f = watch(t.path(), true);
        // Another directory: Removed + Added, as Windows reports it.
        fs::rename(t.path().join("a/f"), t.path().join("b/f")).unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(Removed, "a\\f"), ch(Added, "b\\f")]);
        // A directory renamed: its watch follows under the new name.
        fs::rename(t.path().join("b"), t.path().join("c")).unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(RenamedOldName, "b"), ch(RenamedNewName, "c")]);
        fs::write(t.path().join("c/g"), b"").unwrap();
        fs::rename(t.path().join("c/f"), t.path().join("c/f2")).unwrap();
        let got = collect(&f.watch, NAMES, 3).await;
        assert_eq!(
            got,
            [
                ch(Added, "c\\g"),
                ch(RenamedOldName, "c\\f"),
                ch(RenamedNewName, "c\\f2")
            ]
        );
        // A directory moved into another one of the tree.
        fs::rename(t.path().join("c"), t.path().join("a/c")).unwrap();
        fs::write(t.path().join("a/c/h"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 3).await;
        assert_eq!(
            got,
            [ch(Removed, "c"), ch(Added, "a\\c"), ch(Added, "a\\c\\h")]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moves_out_of_and_into_the_tree() {
        let t = TempDir::new().unwrap();
        let out = TempDir::new().unwrap();
        let tree = t.path();
        fs::write(tree.join("f"), b"").unwrap();
        fs::create_dir(tree.join("sub")).unwrap();
        fs::write(tree.join("sub/x"), b"").unwrap();
        let f = watch(tree, true);
        fs::rename(tree.join("f"), out.path().join("f")).unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Removed, "f")]);
        fs::rename(tree.join("sub"), out.path().join("sub")).unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Removed, "sub")]);
        // No longer watched.
        fs::write(out.path().join("sub/y"), b"").unwrap();
        quiet(&f.watch, NAMES).await;
        // Moved in: Added, contents not listed, but watched.
        fs::rename(out.path().join("f"), tree.join("back")).unwrap();
        fs::rename(out.path().join("sub"), tree.join("sub2")).unwrap();
        let got = collect(&f.watch, NAMES, 2).await;
        assert_eq!(got, [ch(Added, "back"), ch(Added, "sub2")]);
        fs::write(tree.join("sub2/z"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Added, "sub2\\z")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn order_kept_while_a_move_waits_for_its_partner() {
        let t = TempDir::new().unwrap();
        let out = TempDir::new().unwrap();
        fs::write(t.path().join("f"), b"").unwrap();
        let f = watch(t.path(), false);
        fs::rename(t.path().join("f"), out.path().join("f")).unwrap();
        fs::write(t.path().join("g"), b"").unwrap();
        fs::write(t.path().join("h"), b"").unwrap();
        fs::rename(t.path().join("h"), t.path().join("i")).unwrap();
        let got = collect(&f.watch, NAMES, 5).await;
        assert_eq!(
            got,
            [
                ch(Removed, "f"),
                ch(Added, "g"),
                ch(Added, "h"),
                ch(RenamedOldName, "h"),
                ch(RenamedNewName, "i")
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renamed_directory_tree_keeps_its_watches() {
        let t = TempDir::new().unwrap();
        fs::create_dir_all(t.path().join("a/b/c")).unwrap();
        let f = watch(t.path(), true);
        fs::rename(t.path().join("a"), t.path().join("z")).unwrap();
        fs::write(t.path().join("z/b/c/f"), b"").unwrap();
        fs::rename(t.path().join("z/b"), t.path().join("z/y")).unwrap();
        fs::write(t.path().join("z/y/c/g"), b"").unwrap();
        let got = collect(&f.watch, NAMES, 6).await;
        assert_eq!(
            got,
            [
                ch(RenamedOldName, "a"),
                ch(RenamedNewName, "z"),
                ch(Added, "z\\b\\c\\f"),
                ch(RenamedOldName, "z\\b"),
                ch(RenamedNewName, "z\\y"),
                ch(Added, "z\\y\\c\\g")
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kernel_queue_overflow_rescans() {
        let t = TempDir::new().unwrap();
        fs::create_dir(t.path().join("many")).unwrap();
        let f = watch(t.path(), true);
        assert!(
            timeout(Duration::from_millis(20), f.watch.next(NAMES, BIG))
                .await
                .is_err()
        );
        // More than fs.inotify.max_queued_events (16384 by default) while
        // nobody reads: the kernel drops events, among them the creation of
        // `late`.
        let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(16384);
        for i in 0..max + 10 {
            fs::File::create(t.path().join(format!("many/{i}"))).unwrap();
        }
        fs::create_dir(t.path().join("late")).unwrap();
        assert_eq!(f.watch.next(NAMES, BIG).await.unwrap(), NotifyOut::Overflow);
        // The rescan found `late`.
        fs::write(t.path().join("late/x"), b"").unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "late\\x")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rename_into_unwatched_subdirectory_is_removed() {
        let t = TempDir::new().unwrap();
        fs::create_dir(t.path().join("sub")).unwrap();
        fs::write(t.path().join("f"), b"").unwrap();
        let f = watch(t.path(), false);
        fs::rename(t.path().join("f"), t.path().join("sub/f")).unwrap();
        let got = collect(&f.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Removed, "f")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_between_calls_are_buffered() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        fs::write(t.path().join("a"), b"").unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "a")]);
        // No request pending now.
        fs::write(t.path().join("b"), b"").unwrap();
        fs::write(t.path().join("c"), b"").unwrap();
        fs::remove_file(t.path().join("a")).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let got = f.watch.next(NAMES, BIG).await.unwrap();
        assert_eq!(
            got,
            NotifyOut::Changes(vec![ch(Added, "b"), ch(Added, "c"), ch(Removed, "a")])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overflow_when_output_buffer_is_small() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        for i in 0..5 {
            fs::write(t.path().join(format!("f{i}.txt")), b"").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // 5 records of 12 + 12 bytes.
        assert_eq!(f.watch.next(NAMES, 100).await.unwrap(), NotifyOut::Overflow);
        // The records are gone; later changes come normally.
        fs::write(t.path().join("g"), b"").unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "g")]);
        // Exactly fits: 12 + 2 bytes, padded to 16.
        fs::write(t.path().join("h"), b"").unwrap();
        assert_eq!(
            f.watch.next(NAMES, 16).await.unwrap(),
            NotifyOut::Changes(vec![ch(Added, "h")])
        );
        fs::write(t.path().join("i"), b"").unwrap();
        assert_eq!(f.watch.next(NAMES, 0).await.unwrap(), NotifyOut::Overflow);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overflow_when_too_many_are_buffered() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        assert!(
            timeout(Duration::from_millis(20), f.watch.next(NAMES, u32::MAX))
                .await
                .is_err()
        );
        for i in 0..MAX_QUEUED + 100 {
            fs::File::create(t.path().join(format!("{i}"))).unwrap();
        }
        assert_eq!(
            f.watch.next(NAMES, u32::MAX).await.unwrap(),
            NotifyOut::Overflow
        );
        fs::write(t.path().join("after"), b"").unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "after")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_pending_next_loses_nothing() {
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        let mut pending = Box::pin(f.watch.next(NAMES, BIG));
        tokio::select! {
            biased;
            r = &mut pending => panic!("{r:?}"),
            _ = std::future::ready(()) => {}
        }
        // The change wakes the pending call, which is dropped unpolled
        // (CANCEL).
        fs::write(t.path().join("a"), b"").unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(pending);
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "a")]);

        // Events read by another watch of the same notifier are kept for
        // this one.
        let other = watch_with(&f.notifier, t.path(), false);
        fs::write(t.path().join("b"), b"").unwrap();
        assert_eq!(collect(&other.watch, NAMES, 1).await, [ch(Added, "b")]);
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "b")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_next_gets_each_change_once() {
        let t = TempDir::new().unwrap();
        let f = Arc::new(watch(t.path(), false));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..2 {
            let (f, tx) = (f.clone(), tx.clone());
            tokio::spawn(async move {
                let r = timeout(Duration::from_secs(5), f.watch.next(NAMES, BIG)).await;
                let _ = tx.send(r);
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut names = Vec::new();
        for name in ["f1", "f2"] {
            fs::write(t.path().join(name), b"").unwrap();
            match rx.recv().await {
                Some(Ok(Ok(NotifyOut::Changes(c)))) => names.extend(c),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(names, [ch(Added, "f1"), ch(Added, "f2")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watches_share_kernel_watches() {
        let t = TempDir::new().unwrap();
        fs::create_dir(t.path().join("sub")).unwrap();
        let a = watch(t.path(), true);
        let b = watch_with(&a.notifier, &t.path().join("sub"), false);
        let c = watch_with(&a.notifier, t.path(), false);
        fs::write(t.path().join("sub/x"), b"").unwrap();
        assert_eq!(collect(&a.watch, NAMES, 1).await, [ch(Added, "sub\\x")]);
        assert_eq!(collect(&b.watch, NAMES, 1).await, [ch(Added, "x")]);
        drop(b);
        drop(c);
        // The kernel watches a still needs survived.
        fs::write(t.path().join("sub/y"), b"").unwrap();
        fs::write(t.path().join("z"), b"").unwrap();
        assert_eq!(
            collect(&a.watch, NAMES, 2).await,
            [ch(Added, "sub\\y"), ch(Added, "z")]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_watch_does_not_see_earlier_changes_of_a_shared_one() {
        let t = TempDir::new().unwrap();
        let notifier = Notifier::new().unwrap();
        let first = watch_with(&notifier, t.path(), false);
        fs::write(t.path().join("before"), b"").unwrap();
        let second = watch_with(&notifier, t.path(), false);
        fs::write(t.path().join("after"), b"").unwrap();
        let got = collect(&second.watch, NAMES, 1).await;
        assert_eq!(got, [ch(Added, "after")]);
        let got = collect(&first.watch, NAMES, 2).await;
        assert_eq!(got, [ch(Added, "before"), ch(Added, "after")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn symbolic_links_are_not_followed() {
        let t = TempDir::new().unwrap();
        let out = TempDir::new().unwrap();
        symlink(out.path(), t.path().join("link")).unwrap();
        let f = watch(t.path(), true);
        fs::write(out.path().join("secret"), b"").unwrap();
        quiet(&f.watch, NAMES).await;
        symlink(out.path(), t.path().join("link2")).unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "link2")]);
        fs::write(out.path().join("secret2"), b"").unwrap();
        quiet(&f.watch, NAMES).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn names_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let t = TempDir::new().unwrap();
        let f = watch(t.path(), false);
        let name = std::ffi::OsStr::from_bytes(b"a\xff");
        fs::write(t.path().join(name), b"").unwrap();
        assert_eq!(collect(&f.watch, NAMES, 1).await, [ch(Added, "a\u{fffd}")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_directories_are_errors() {
        let t = TempDir::new().unwrap();
        let notifier = Notifier::new().unwrap();
        let missing = DirWatch::new(&notifier, &t.path().join("missing"), false);
        assert!(matches!(
            missing,
            Err(NotifyError::Open {
                errno: Errno::ENOENT,
                ..
            })
        ));
        fs::write(t.path().join("file"), b"").unwrap();
        let file = DirWatch::new(&notifier, &t.path().join("file"), true);
        assert!(matches!(
            file,
            Err(NotifyError::Open {
                errno: Errno::ENOTDIR,
                ..
            })
        ));
        // A plain path works too.
        let w = DirWatch::new(&notifier, t.path(), false).unwrap();
        fs::write(t.path().join("g"), b"").unwrap();
        assert_eq!(collect(&w, NAMES, 1).await, [ch(Added, "g")]);
    }

    #[test]
    fn notifier_needs_a_runtime() {
        assert!(matches!(Notifier::new(), Err(NotifyError::NoRuntime)));
    }
}

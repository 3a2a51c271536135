//! CHANGE_NOTIFY on the disk backend: inotify watches.

//! Running a filesystem operation as the SMB user's Unix identity.
//!
//! When smbd runs as root, every path-based operation of a request runs on
//! a blocking thread that first takes the user's uid, gid and groups with
//! the raw setresuid/setresgid/setgroups system calls, which (unlike the
//! libc wrappers) change only the calling thread, and gives them back
//! afterwards. The kernel then applies the user's permissions, exactly as
//! for a local login. When smbd runs as an ordinary user, it acts as that
//! user for everyone.

use std::sync::Arc;

use crate::ntvfs::UserToken;
use crate::wire::NtStatus;

/// Whether operations switch identity (decided once, from the euid at
/// start-up, and carried in the backend context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Running as root: become each user.
    Switch,
    /// Running unprivileged: act as ourselves.
    AsDaemon,
}

impl Identity {
    pub fn detect() -> Identity {
        if nix::unistd::geteuid().is_root() {
            Identity::Switch
        } else {
            Identity::AsDaemon
        }
    }
}

fn raw(
    call: libc::c_long,
    a: libc::c_long,
    b: libc::c_long,
    c: libc::c_long,
) -> std::io::Result<()> {
    // SAFETY: set*id system calls with integer arguments.
    let r = unsafe { libc::syscall(call, a, b, c) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn set_groups(groups: &[u32]) -> std::io::Result<()> {
    let gids: Vec<libc::gid_t> = groups.to_vec();
    // SAFETY: the pointer and length describe `gids`, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_setgroups,
            gids.len() as libc::c_long,
            gids.as_ptr(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

const KEEP: libc::c_long = -1;

/// The user's identity on this thread until dropped.
struct AsUser;

impl AsUser {
    fn take(u: &UserToken) -> std::io::Result<AsUser> {
        raw(libc::SYS_setresuid, KEEP, 0, KEEP)?;
        set_groups(&u.groups)?;
        raw(libc::SYS_setresgid, KEEP, u.gid.into(), KEEP)?;
        raw(libc::SYS_setresuid, KEEP, u.uid.into(), KEEP)?;
        Ok(AsUser)
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        // Back to root for whatever runs next on this pool thread. Failing
        // here would leave a thread with a user's identity: abort rather
        // than serve anyone with it.
        if raw(libc::SYS_setresuid, KEEP, 0, KEEP).is_err()
            || raw(libc::SYS_setresgid, KEEP, 0, KEEP).is_err()
            || set_groups(&[]).is_err()
        {
            tracing::error!(target: "smbd::disk", "cannot return to root after a user operation; aborting");
            std::process::abort();
        }
    }
}

/// Runs `f` on a blocking thread as `user`.
pub async fn run_as<T, F>(identity: Identity, user: &Arc<UserToken>, f: F) -> Result<T, NtStatus>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, NtStatus> + Send + 'static,
{
    let user = user.clone();
    let job = move || {
        let _guard = match identity {
            Identity::Switch => match AsUser::take(&user) {
                Ok(g) => Some(g),
                Err(e) => {
                    tracing::error!(target: "smbd::disk", user = %user.name, "cannot take the user's identity: {e}");
                    return Err(NtStatus::ACCESS_DENIED);
                }
            },
            Identity::AsDaemon => None,
        };
        f()
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(target: "smbd::disk", "filesystem task failed: {e}");
            Err(NtStatus::INTERNAL_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_as_the_user_and_comes_back() {
        if Identity::detect() != Identity::Switch {
            return;
        }
        let user = Arc::new(UserToken {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            groups: vec![65534],
            guest: false,
        });
        let (uid, gid, groups) = run_as(Identity::Switch, &user, || {
            Ok((
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
                nix::unistd::getgroups().unwrap().len(),
            ))
        })
        .await
        .unwrap();
        assert_eq!((uid, gid, groups), (65534, 65534, 1));
        // A file only root may read is denied to the user.
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "x").unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let p2 = p.clone();
        let denied = run_as(Identity::Switch, &user, move || {
            Ok(std::fs::read(&p2).is_err())
        })
        .await
        .unwrap();
        assert!(denied);
        // And the pool thread is root again.
        let back = run_as(Identity::AsDaemon, &user, || {
            Ok(nix::unistd::geteuid().as_raw())
        })
        .await
        .unwrap();
        assert_eq!(back, 0);
        assert!(std::fs::read(&p).is_ok());
    }
}

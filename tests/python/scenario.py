#!/usr/bin/env python3
"""A client scenario against smbd with smbprotocol, a second SMB2/3 client
implementation independent of Samba (pure Python, PyPI `smbprotocol`).

Run by tests/tests/smbd_python.rs, which starts smbd and gives the server,
port, share, credentials and the share's directory on this machine (to check
what the server wrote). Prints one line per step and "scenario passed" at
the end; any failure raises and exits non-zero.

    scenario.py --port P --share S --user U --password PW --root DIR
                [--server-signing default|mandatory]
"""

import argparse
import errno
import hashlib
import os
import sys
import threading
import time
import uuid

import smbclient
from smbprotocol.change_notify import (
    ChangeNotifyFlags,
    CompletionFilter,
    FileAction,
    FileSystemWatcher,
)
from smbprotocol.connection import Connection, Dialects
from smbprotocol.exceptions import SMBException, SMBResponseException
from smbprotocol.header import NtStatus
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    DirectoryAccessMask,
    FileAttributes,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    LockFlags,
    Open,
    ShareAccess,
    SMB2LockElement,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

SERVER = "127.0.0.1"
# Not in smbprotocol's NtStatus.
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_LOCK_NOT_GRANTED = 0xC0000055


def step(msg):
    print(f"ok: {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def status_of(exc):
    return getattr(exc, "status", None)


class Low:
    """One connection, session and tree with smbprotocol's low-level API."""

    def __init__(self, a, dialect=Dialects.SMB_3_1_1, require_signing=True, encrypt=False, user=None, password=None):
        self.conn = Connection(uuid.uuid4(), SERVER, a.port, require_signing=require_signing)
        self.conn.connect(dialect)
        self.session = Session(
            self.conn,
            user if user is not None else a.user,
            password if password is not None else a.password,
            require_encryption=encrypt,
            auth_protocol="ntlm",
        )
        self.session.connect()
        self.tree = TreeConnect(self.session, rf"\\{SERVER}\{a.share}")
        # A guest session has no key to sign VALIDATE_NEGOTIATE_INFO with.
        self.tree.connect(require_secure_negotiate=user is None)

    def open(self, name, disposition=CreateDisposition.FILE_OPEN_IF, directory=False):
        o = Open(self.tree, name)
        if directory:
            o.create(
                ImpersonationLevel.Impersonation,
                DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.FILE_READ_ATTRIBUTES,
                FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
                ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE,
                disposition,
                CreateOptions.FILE_DIRECTORY_FILE,
            )
        else:
            o.create(
                ImpersonationLevel.Impersonation,
                FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE,
                disposition,
                CreateOptions.FILE_NON_DIRECTORY_FILE,
            )
        return o

    def close(self):
        self.conn.disconnect(True)


def lock_element(offset, length, flags):
    e = SMB2LockElement()
    e["offset"] = offset
    e["length"] = length
    e["flags"] = flags
    return e


def high_level(a, unc, kw):
    """The high-level smbclient module: the os/shutil-like API."""
    base = unc + r"\py-scenario"
    smbclient.makedirs(base + r"\one\two\three", exist_ok=True, **kw)
    check(os.path.isdir(os.path.join(a.root, "py-scenario/one/two/three")), "makedirs on disk")
    step("makedirs")

    data = os.urandom(3 * 1024 * 1024 + 17)
    with smbclient.open_file(base + r"\one\data.bin", mode="wb", **kw) as f:
        f.write(data)
    with open(os.path.join(a.root, "py-scenario/one/data.bin"), "rb") as f:
        check(f.read() == data, "written file on disk")
    with smbclient.open_file(base + r"\one\data.bin", mode="rb", **kw) as f:
        check(f.read() == data, "read back")
        f.seek(1000)
        check(f.read(10) == data[1000:1010], "seek and partial read")
    step(f"write and read {len(data)} bytes")

    text = "Grüße, 世界\n" * 100
    name = base + r"\one\Ünïcödé name.txt"
    with smbclient.open_file(name, mode="w", encoding="utf-8", **kw) as f:
        f.write(text)
    with smbclient.open_file(name, mode="a", encoding="utf-8", **kw) as f:
        f.write("end\n")
    with smbclient.open_file(name, mode="r", encoding="utf-8", **kw) as f:
        check(f.read() == text + "end\n", "text round trip")
    check(os.path.isfile(os.path.join(a.root, "py-scenario/one/Ünïcödé name.txt")), "unicode name on disk")
    step("text file with a non-ASCII name, append")

    st = smbclient.stat(base + r"\one\data.bin", **kw)
    check(st.st_size == len(data), f"stat size {st.st_size}")
    check(abs(st.st_mtime - time.time()) < 300, f"stat mtime {st.st_mtime}")
    local = os.stat(os.path.join(a.root, "py-scenario/one/data.bin"))
    check(int(st.st_mtime) == int(local.st_mtime), f"mtime {st.st_mtime} vs {local.st_mtime}")
    step("stat")

    smbclient.utime(base + r"\one\data.bin", times=(1_000_000_000, 1_200_000_000), **kw)
    check(int(os.stat(os.path.join(a.root, "py-scenario/one/data.bin")).st_mtime) == 1_200_000_000, "utime on disk")
    step("utime")

    smbclient.truncate(base + r"\one\data.bin", 4096, **kw)
    check(os.path.getsize(os.path.join(a.root, "py-scenario/one/data.bin")) == 4096, "truncate")
    step("truncate")

    smbclient.rename(base + r"\one\data.bin", base + r"\one\two\moved.bin", **kw)
    check(not os.path.exists(os.path.join(a.root, "py-scenario/one/data.bin")), "rename source gone")
    check(os.path.isfile(os.path.join(a.root, "py-scenario/one/two/moved.bin")), "rename target")
    # replace() overwrites, rename() does not.
    with smbclient.open_file(base + r"\one\other.bin", mode="wb", **kw) as f:
        f.write(b"other")
    try:
        smbclient.rename(base + r"\one\other.bin", base + r"\one\two\moved.bin", **kw)
        raise AssertionError("rename over an existing file succeeded")
    except OSError:
        pass
    smbclient.replace(base + r"\one\other.bin", base + r"\one\two\moved.bin", **kw)
    with open(os.path.join(a.root, "py-scenario/one/two/moved.bin"), "rb") as f:
        check(f.read() == b"other", "replace")
    step("rename and replace")

    names = sorted(smbclient.listdir(base + r"\one", **kw))
    check(names == ["two", "Ünïcödé name.txt"], f"listdir {names}")
    seen = {}
    for e in smbclient.scandir(base + r"\one", **kw):
        # DirEntry.stat() forgets the port (smbprotocol 1.17): stat the path.
        st = smbclient.stat(e.path, **kw)
        check(st.st_size == e.smb_info.end_of_file, f"stat and directory entry agree on {e.name}")
        seen[e.name] = (e.is_dir(), e.is_file(), st.st_size)
    check(seen["two"][0] and not seen["two"][1], f"scandir dir {seen}")
    check(seen["Ünïcödé name.txt"] == (False, True, len((text + "end\n").encode())), f"scandir file {seen}")
    walked = [(os.path.relpath(p.replace("\\", "/"), base.replace("\\", "/")), sorted(d), sorted(f)) for p, d, f in smbclient.walk(base, **kw)]
    check(len(walked) == 4, f"walk {walked}")
    step("listdir, scandir with stat, walk")

    check(smbclient.path.exists(base + r"\one\two\moved.bin", **kw), "path.exists")
    check(not smbclient.path.exists(base + r"\nothing", **kw), "path.exists on a missing file")
    try:
        smbclient.open_file(base + r"\nothing\x.txt", mode="rb", **kw)
        raise AssertionError("opened a missing file")
    except OSError as e:
        # The directory is missing: STATUS_OBJECT_PATH_NOT_FOUND, as Samba says.
        check(e.errno == errno.ENOENT, f"missing file raised {e!r}")
        check(getattr(e, "ntstatus", None) == NtStatus.STATUS_OBJECT_PATH_NOT_FOUND, f"missing directory status {e!r}")
    step("missing files")

    vol = smbclient.stat_volume(unc, **kw)
    check(vol.total_size > 0 and 0 <= vol.actual_available_size <= vol.total_size, f"stat_volume {vol}")
    step("stat_volume")

    smbclient.remove(base + r"\one\two\moved.bin", **kw)
    smbclient.remove(base + r"\one\Ünïcödé name.txt", **kw)
    smbclient.removedirs(base + r"\one\two\three", **kw)
    check(not os.path.exists(os.path.join(a.root, "py-scenario")), "removedirs removed everything")
    step("remove, removedirs")


def byte_range_locks(a):
    """Two connections, one file: an exclusive lock keeps the other out."""
    one, two = Low(a), Low(a, dialect=Dialects.SMB_2_1_0)
    try:
        f1 = one.open("locked.bin", CreateDisposition.FILE_OVERWRITE_IF)
        f1.write(b"x" * 4096, 0)
        f2 = two.open("locked.bin")
        excl = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
        f1.lock([lock_element(100, 50, excl)])
        try:
            f2.lock([lock_element(120, 10, excl)])
            raise AssertionError("overlapping exclusive lock granted")
        except SMBResponseException as e:
            check(status_of(e) == STATUS_LOCK_NOT_GRANTED, f"lock conflict status {status_of(e):#x}")
        try:
            f2.read(110, 10)
            raise AssertionError("read inside another's exclusive lock")
        except SMBResponseException as e:
            check(status_of(e) == STATUS_FILE_LOCK_CONFLICT, f"read conflict status {status_of(e):#x}")
        check(f2.read(0, 100) == b"x" * 100, "read outside the lock")
        # A range next to it is free.
        f2.lock([lock_element(150, 10, excl)])
        f2.lock([lock_element(150, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
        f1.lock([lock_element(100, 50, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
        f2.lock([lock_element(120, 10, excl)])
        check(f2.read(110, 10) == b"x" * 10, "read after unlock")
        # Shared locks coexist.
        shared = LockFlags.SMB2_LOCKFLAG_SHARED_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
        f1.lock([lock_element(1000, 10, shared)])
        f2.lock([lock_element(1000, 10, shared)])
        f1.close()
        f2.close()
        # A blocking lock waits until the holder lets go.
        f1 = one.open("locked.bin")
        f2 = two.open("locked.bin")
        f1.lock([lock_element(0, 10, excl)])
        got = {}

        def waiter():
            try:
                f2.lock([lock_element(0, 10, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK)])
                got["t"] = time.monotonic()
            except Exception as e:  # reported below
                got["err"] = e

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.5)
        check(not got, f"blocking lock returned early: {got}")
        released = time.monotonic()
        f1.lock([lock_element(0, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
        t.join(10)
        check("t" in got and got["t"] >= released, f"blocking lock after release: {got}")
        f1.close()
        f2.close()
    finally:
        one.close()
        two.close()
    os.unlink(os.path.join(a.root, "locked.bin"))
    step("byte-range locks: conflicts, shared, blocking")


def change_notify(a, unc, kw):
    watcher_conn = Low(a)
    made = []
    try:
        smbclient.mkdir(unc + r"\watched", **kw)
        d = watcher_conn.open("watched", CreateDisposition.FILE_OPEN, directory=True)
        w = FileSystemWatcher(d)
        w.start(CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME, flags=ChangeNotifyFlags.SMB2_WATCH_TREE)
        done = threading.Event()
        threading.Thread(target=lambda: (w.wait(), done.set()), daemon=True).start()
        # The watch is set up when the server has read the request, which
        # may come after a file made through the other connection on a busy
        # machine: make files until one is reported.
        for i in range(5):
            name = f"new file {i}.txt"
            with smbclient.open_file(unc + rf"\watched\{name}", mode="wb", **kw) as f:
                f.write(b"hello")
            made.append(name)
            if done.wait(3):
                break
        check(done.is_set(), "no change notification")
        actions = [(x["action"].get_value(), x["file_name"].get_value()) for x in w.result]
        check(any((FileAction.FILE_ACTION_ADDED, n) in actions for n in made), f"notify {actions}")
        d.close()
    finally:
        watcher_conn.close()
    for name in made:
        smbclient.remove(unc + rf"\watched\{name}", **kw)
    smbclient.rmdir(unc + r"\watched", **kw)
    step("change notify reports an added file")


def encrypted(a):
    low = Low(a, encrypt=True)
    try:
        check(low.session.encrypt_data, "session not encrypted")
        f = low.open("enc.bin", CreateDisposition.FILE_OVERWRITE_IF)
        payload = os.urandom(1 << 20)
        for off in range(0, len(payload), 65536):
            f.write(payload[off : off + 65536], off)
        back = b"".join(f.read(off, 65536) for off in range(0, len(payload), 65536))
        check(back == payload, "encrypted round trip")
        f.close()
    finally:
        low.close()
    with open(os.path.join(a.root, "enc.bin"), "rb") as f:
        check(hashlib.sha256(f.read()).digest() == hashlib.sha256(payload).digest(), "encrypted write on disk")
    os.unlink(os.path.join(a.root, "enc.bin"))
    step("encrypted session (SMB 3.1.1)")


def guest(a):
    low = Low(a, require_signing=False, user="no-such-user", password="x")
    try:
        check(low.session.session_key is None, "guest session has a key")
        f = low.open("guest.txt", CreateDisposition.FILE_OVERWRITE_IF)
        f.write(b"guest was here", 0)
        f.close()
    finally:
        low.close()
    with open(os.path.join(a.root, "guest.txt"), "rb") as f:
        check(f.read() == b"guest was here", "guest write")
    os.unlink(os.path.join(a.root, "guest.txt"))
    step("unknown user mapped to guest")


def attempt(f):
    """None when f() succeeds, else the NTSTATUS it failed with."""
    try:
        f()
        return None
    except SMBResponseException as e:
        return status_of(e)


def unsigned_requests(a):
    """Which unsigned requests the server takes, as Samba 4.17 decides:
    none on a session whose signing is required (server signing =
    mandatory, or the client asked for it), and on SMB 3.1.1 never an
    unsigned TREE_CONNECT of an authenticated session."""
    mandatory = a.server_signing == "mandatory"
    denied = NtStatus.STATUS_ACCESS_DENIED
    for dialect in (Dialects.SMB_2_0_2, Dialects.SMB_3_0_0, Dialects.SMB_3_1_1):
        for client_requires in (False, True):
            conn = Connection(uuid.uuid4(), SERVER, a.port, require_signing=client_requires)
            conn.connect(dialect)
            try:
                session = Session(conn, a.user, a.password, require_encryption=False, auth_protocol="ntlm")
                session.connect()
                required = mandatory or client_requires
                what = f"dialect {dialect:#x}, client requires signing: {client_requires}"
                check(session.signing_required == required, f"{what}: session signing {session.signing_required}")
                # An unsigned TREE_CONNECT.
                session.signing_required = False
                tree = TreeConnect(session, rf"\\{SERVER}\{a.share}")
                got = attempt(lambda: tree.connect(require_secure_negotiate=False))
                want = denied if required or dialect >= Dialects.SMB_3_1_1 else None
                check(got == want, f"{what}: unsigned TREE_CONNECT gave {got}, want {want}")
                if required and not client_requires and dialect < Dialects.SMB_3_1_1:
                    # smbprotocol now claims signing required in its
                    # VALIDATE_NEGOTIATE_INFO, unlike in its NEGOTIATE, and
                    # the server rightly hangs up: nothing more to see here.
                    continue
                # A signed one works; then an unsigned CREATE on it.
                session.signing_required = True
                tree = TreeConnect(session, rf"\\{SERVER}\{a.share}")
                tree.connect(require_secure_negotiate=dialect < Dialects.SMB_3_1_1)
                session.signing_required = False
                o = Open(tree, "unsigned.txt")
                got = attempt(
                    lambda: o.create(
                        ImpersonationLevel.Impersonation,
                        FilePipePrinterAccessMask.GENERIC_READ,
                        FileAttributes.FILE_ATTRIBUTE_NORMAL,
                        ShareAccess.FILE_SHARE_READ,
                        CreateDisposition.FILE_OPEN_IF,
                        CreateOptions.FILE_NON_DIRECTORY_FILE,
                    )
                )
                want = denied if required else None
                check(got == want, f"{what}: unsigned CREATE gave {got}, want {want}")
                session.signing_required = required
                if got is None:
                    o.close()
            finally:
                try:
                    conn.disconnect(True)
                except Exception:
                    pass
    if os.path.exists(os.path.join(a.root, "unsigned.txt")):
        os.unlink(os.path.join(a.root, "unsigned.txt"))
    step(f"unsigned requests with server signing = {a.server_signing}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--share", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--server-signing", choices=["default", "mandatory"], default="default")
    a = p.parse_args()

    kw = {"port": a.port}
    unc = rf"\\{SERVER}\{a.share}"
    smbclient.ClientConfig(username=a.user, password=a.password, auth_protocol="ntlm")
    smbclient.register_session(SERVER, username=a.user, password=a.password, port=a.port, auth_protocol="ntlm")
    step("register_session")
    high_level(a, unc, kw)
    byte_range_locks(a)
    change_notify(a, unc, kw)
    encrypted(a)
    if a.server_signing == "mandatory":
        # smbprotocol itself refuses a guest session when the server
        # requires signing (smbd_smbclient.rs covers guests there).
        step("guest skipped: the client library refuses it under mandatory signing")
    else:
        guest(a)
    unsigned_requests(a)
    smbclient.reset_connection_cache()
    print("scenario passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, SMBException, OSError) as e:
        print(f"FAILED: {e!r}", file=sys.stderr, flush=True)
        raise

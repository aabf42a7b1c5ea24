"""The one I/O layer: every file operation of the storage engine goes through this module.

Why one module
    * **Typed errors.**  An ``OSError`` never leaves it.  Disk full (ENOSPC, EDQUOT, EFBIG, and
      a short write) becomes ``OperationalError("disk full: ... free space and reopen ...")``;
      EIO and everything else becomes ``OperationalError`` saying what failed, on which file,
      and what to do.  The error carries ``.errno`` and ``.filename``.
    * **No silent short writes.**  ``pwrite``/``write`` write everything or raise (a short count
      is treated as disk full, as SQLite does).
    * **Fault injection and power-loss simulation** for the test harnesses (:class:`Simulator`),
      at the cost of one global check per call in production.

Functions (``site`` is optional everywhere: a name for the call site used by the simulator;
by default it is derived from the caller as ``module.function:line``)::

    open(path, flags, mode=0o644, *, missing_ok=False) -> fd | None   (None: missing and missing_ok)
    close(fd)
    pwrite(fd, data, offset)          all of data at offset, else OperationalError
    write(fd, data)                   all of data at the file position
    pread(fd, size, offset) -> bytes  shorter only at end of file
    read_file(path, *, missing_ok=False) -> bytes | None
    write_file(path, data, *, sync=True)   create/truncate, write all, fdatasync, close
    fdatasync(fd), fsync(fd)          (macOS: F_FULLFSYNC)
    fsync_dir(path)                   make creates/renames/unlinks in ``path`` durable
    rename(src, dst), link(src, dst), unlink(path, *, missing_ok=False)
    mkdir(path, *, exist_ok=False), rmdir(path), makedirs(path)
    listdir(path, *, missing_ok=False) -> sorted names
    ftruncate(fd, size), preallocate(fd, size)   (posix_fallocate, else zero-fill)
    discard(fd, offset, length)       free the blocks of a range whose bytes no longer matter
    data_end(fd, size) -> int         end of the file's last allocated byte (holes after it)
    fstat(fd), lstat(path, *, missing_ok=False), exists(path), is_real_dir(path)
    mmap(fd, size) -> read-only mmap (b"" for size 0)
    flock(fd, exclusive=True) -> bool (False if another open file holds a conflicting lock);
    unlock(fd)
    copy_file(src, dst), link_or_copy(src, dst)   dst must not exist; the copy is fsynced
    copy_tree(src, dst)               a directory tree, files fsynced
    build_dir(dest)                   context manager: build a directory atomically (below)
    remove_tree(path)                 remove a directory tree this process created

Flags: add ``io.NOFOLLOW`` when opening files inside a database directory (a symbolic link
there is refused with ELOOP), ``os.O_RDONLY | io.DIRECTORY`` to open a directory (to flock or
fsync it).

``build_dir(dest)`` yields a fresh private directory beside ``dest`` (``.<name>.tmp-<random>``,
never the name of someone else's file); on success every file and directory in it is fsynced, it
is renamed to ``dest`` and the parent is fsynced (if that fsync fails, the rename is taken
back); on failure only that private directory is removed.  ``dest`` must not exist (``replace_empty=True``: or be an empty directory).
While it builds, the builder holds an exclusive flock on a sidecar file ``<tmp>.lock`` (not on
the directory itself: what is built there may flock its own directory).  A builder killed before
it could clean up leaves both; the next ``build_dir`` of the same ``dest`` removes every
``.<name>.tmp-<12 hex>`` whose lock file it can flock (its builder is gone), and nothing else.

The simulator (tests only)
    ``install(Simulator(root, ...))`` routes every call through the simulator until
    ``uninstall()`` (or use ``with installed(sim):``).  Calls on paths outside ``root`` pass
    straight through.  For calls under ``root`` it:

    * counts them by ``(kind, site)``: ``sim.calls``, ``sim.sites()``; kinds are ``open read write
      sync dirsync rename link unlink mkdir rmdir listdir truncate allocate mmap lock stat``;
    * injects faults: ``sim.fail(kind=None, site=None, nth=1, error="EIO"|"ENOSPC"|"EDQUOT"|
      "EFBIG"|"short", persistent=False)``: the nth matching call fails (a short write writes a
      prefix, then raises), and with ``persistent`` every later matching call too;
    * calls ``on_call(n, kind, site)`` before the n-th call (crash points: the callback may take
      a power-loss image, or kill the process);
    * with ``real_sync=False`` skips the real fsyncs (simulated durability is tracked anyway;
      harmless when the process only ever dies by SIGKILL or by a simulated power loss);
    * with ``record=True`` records, since the last sync, every write and truncation of each file
      (with the bytes it replaced) and every create / rename / link / unlink / mkdir / rmdir of
      each directory.  ``sim.image(dest, rng, mode=...)`` then writes into ``dest`` a copy of
      ``root`` as a power cut at this moment could leave it (SQLite's crash VFS, test6.c):

      - a file's synced data stays; each unsynced write is kept, dropped, or torn (``mode=
        "random"``: per 512-byte sector keep the new bytes, the old bytes or random garbage);
        ``"drop_all"`` drops every unsynced write, ``"keep_all"`` keeps all (a process crash);
      - the unsynced directory operations of each directory survive as a random prefix (none in
        ``"drop_all"``, all in ``"keep_all"``): a file created, renamed or unlinked since the last
        ``fsync_dir`` of its directory may come back to its old name or vanish.

      The live files are not touched, so a workload can go on and be imaged again.  Writes
      through ``mmap`` are not modelled (the engine maps read-only), nor fsyncgate (after a
      failed fsync the engine poisons its handle instead of retrying).
"""
from __future__ import annotations

import contextlib
import errno as _errno
import mmap as _mmap
import os
import random
import stat as _stat
import sys
import threading
import uuid as _uuid
from collections import Counter
from typing import Callable, Optional

from ..errors import OperationalError

_builtin_open = open

__all__ = [
    "open", "close", "pwrite", "write", "pread", "read_file", "write_file", "fdatasync", "fsync",
    "fsync_dir", "rename", "link", "unlink", "mkdir", "rmdir", "makedirs", "listdir", "ftruncate",
    "discard", "data_end", "preallocate", "fstat", "lstat", "exists", "is_real_dir", "mmap", "flock", "copy_file",
    "link_or_copy", "copy_tree", "build_dir", "remove_tree", "Simulator", "install", "uninstall", "installed",
]

_sim: Optional["Simulator"] = None      # the one check production pays per call
_fd_paths: dict = {}                     # fd -> path, for messages and the simulator

_FULL = (_errno.ENOSPC, _errno.EDQUOT, _errno.EFBIG)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
NOFOLLOW = _O_NOFOLLOW          # add to open() flags for files inside a database directory
DIRECTORY = _O_DIRECTORY        # open(path, os.O_RDONLY | DIRECTORY): a directory fd (flock, fsync)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20


# -- errors -------------------------------------------------------------------------------------
def _error(e: OSError, what: str, path) -> OperationalError:
    """The typed error for an OSError of operation ``what`` on ``path``."""
    code = e.errno
    why = os.strerror(code) if code else str(e)
    where = f"{what} {path}" if path is not None else what
    reason = None
    if code in _FULL:
        reason = "disk_full"
        msg = (f"disk full: could not {where} ({why}); free disk space (or raise the quota or "
               f"file-size limit), then reopen the database")
    elif code == _errno.EIO:
        reason = "io_error"
        msg = (f"I/O error: could not {where}: the storage device reported a failure; check the "
               f"device (e.g. dmesg), then reopen the database, or restore it from a backup if "
               f"the device is failing")
    elif code in (_errno.EACCES, _errno.EPERM, _errno.EROFS):
        msg = (f"could not {where} ({why}); check the permissions of the database directory "
               f"and that its file system is mounted writable")
    elif code == _errno.ELOOP:
        msg = (f"could not {where}: it is a symbolic link, and lpgdb does not follow symbolic "
               f"links inside a database directory; replace it with the real file")
    elif code == _errno.ENOENT:
        msg = f"could not {where}: no such file or directory"
    elif code == _errno.EMFILE or code == _errno.ENFILE:
        msg = f"could not {where}: too many open files; close some databases or raise the limit"
    else:
        name = _errno.errorcode.get(code, str(code))
        msg = f"could not {where} ({name}: {why}); check the file system, then reopen the database"
    err = OperationalError(msg, reason=reason)
    err.errno = code
    err.filename = path
    return err


def _short(path, wrote: int, want: int) -> OperationalError:
    err = OperationalError(f"disk full: short write to {path} ({wrote} of {want} bytes written); "
                           f"free disk space, then reopen the database", reason="disk_full")
    err.errno = _errno.ENOSPC
    err.filename = path
    return err


def _name(fd: int):
    return _fd_paths.get(fd, f"<fd {fd}>")


# -- raw operations (error mapping, no simulator) -----------------------------------------------
if sys.platform == "darwin":  # pragma: no cover - fsync does not flush the drive cache on macOS
    import fcntl as _fcntl

    def _raw_datasync(fd):
        _fcntl.fcntl(fd, _fcntl.F_FULLFSYNC)
    _raw_fsync = _raw_datasync
else:
    def _raw_datasync(fd):          # looked up at call time, so tests may patch os.fdatasync
        (getattr(os, "fdatasync", None) or os.fsync)(fd)

    def _raw_fsync(fd):
        os.fsync(fd)


def _open(path, flags, mode):
    try:
        fd = os.open(path, flags | _O_CLOEXEC, mode)
    except OSError as e:
        raise _error(e, "open", path) from e
    _fd_paths[fd] = path
    return fd


def _pwrite(fd, data, offset):
    want = len(data)
    try:
        n = os.pwrite(fd, data, offset)
    except OSError as e:
        raise _error(e, "write to", _name(fd)) from e
    if n != want:
        raise _short(_name(fd), n, want)


def _write(fd, data):
    want = len(data)
    try:
        n = os.write(fd, data)
    except OSError as e:
        raise _error(e, "write to", _name(fd)) from e
    if n != want:
        raise _short(_name(fd), n, want)


def _pread(fd, size, offset) -> bytes:
    parts, got = [], 0
    try:
        while got < size:
            b = os.pread(fd, size - got, offset + got)
            if not b:
                break
            parts.append(b)
            got += len(b)
    except OSError as e:
        raise _error(e, "read", _name(fd)) from e
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _sync(fd, data_only):
    try:
        (_raw_datasync if data_only else _raw_fsync)(fd)
    except OSError as e:
        raise _error(e, "fdatasync" if data_only else "fsync", _name(fd)) from e


def _fsync_dir(path):
    fd = _open(path, os.O_RDONLY | _O_DIRECTORY, 0)
    try:
        try:
            _raw_fsync(fd)
        except OSError as e:
            raise _error(e, "fsync the directory", path) from e
    finally:
        close(fd)


def _path_op(fn, what, path, *args):
    try:
        return fn(path, *args)
    except OSError as e:
        raise _error(e, what, path) from e


def _raw_open(path, flags, mode, missing_ok):
    if missing_ok:
        try:
            return _open(path, flags, mode)
        except OperationalError as e:
            if e.errno == _errno.ENOENT:
                return None
            raise
    return _open(path, flags, mode)


def _raw_rename(src, dst):
    try:
        os.rename(src, dst)
    except OSError as e:
        raise _error(e, f"rename {src} to", dst) from e


def _raw_link(src, dst):
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        raise _error(e, f"link {src} as", dst) from e


def _raw_unlink(path, missing_ok):
    try:
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise _error(FileNotFoundError(_errno.ENOENT, "missing"), "delete", path) from None
    except OSError as e:
        raise _error(e, "delete", path) from e


def _raw_mkdir(path, exist_ok, mode):
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not (exist_ok and is_real_dir(path)):
            raise _error(FileExistsError(_errno.EEXIST, "exists"), "create the directory", path) from None
    except OSError as e:
        raise _error(e, "create the directory", path) from e


def _raw_ftruncate(fd, size):
    try:
        os.ftruncate(fd, size)
    except OSError as e:
        raise _error(e, "truncate", _name(fd)) from e


def _raw_write(fd, data):
    view = memoryview(data)
    for i in range(0, len(view), _CHUNK):
        _write(fd, view[i:i + _CHUNK])


# -- the public functions -----------------------------------------------------------------------
def open(path, flags: int, mode: int = 0o644, *, site=None, missing_ok: bool = False):
    """``os.open`` (close-on-exec).  With ``missing_ok``, a missing file gives None."""
    if _sim is not None:
        return _sim._open(path, flags, mode, site, missing_ok)
    return _raw_open(path, flags, mode, missing_ok)


def close(fd: int) -> None:
    """Close ``fd``.  Errors are ignored: data that matters was fsynced before (Linux never
    reports write-back errors at close on local file systems, and a retry could close another
    file)."""
    if _sim is not None:
        _sim._close(fd)
    _fd_paths.pop(fd, None)
    try:
        os.close(fd)
    except OSError:
        pass


def pwrite(fd: int, data, offset: int, *, site=None) -> None:
    """Write all of ``data`` at ``offset``; a short count is a disk-full OperationalError."""
    if _sim is not None:
        return _sim._pwrite(fd, data, offset, site)
    _pwrite(fd, data, offset)


def write(fd: int, data, *, site=None) -> None:
    """Write all of ``data`` at the file position (large buffers in 1 MiB calls)."""
    if _sim is not None:
        return _sim._write(fd, data, site)
    _raw_write(fd, data)


def pread(fd: int, size: int, offset: int, *, site=None) -> bytes:
    """Read ``size`` bytes at ``offset`` (fewer only at end of file)."""
    if _sim is not None:
        return _sim._pread(fd, size, offset, site)
    return _pread(fd, size, offset)


def read_file(path, *, site=None, missing_ok: bool = False):
    """The whole content of a regular file (symbolic links refused); None if missing and
    ``missing_ok``."""
    site = site or _caller()
    fd = open(path, os.O_RDONLY | _O_NOFOLLOW, site=site, missing_ok=missing_ok)
    if fd is None:
        return None
    try:
        return pread(fd, fstat(fd).st_size, 0, site=site)
    finally:
        close(fd)


def write_file(path, data, *, site=None, sync: bool = True) -> None:
    """Create or truncate ``path``, write ``data``, fdatasync (unless ``sync=False``), close.
    The directory entry is not yet durable: rename it into place and ``fsync_dir``."""
    site = site or _caller()
    fd = open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW, site=site)
    try:
        write(fd, data, site=site)
        if sync:
            fdatasync(fd, site=site)
    finally:
        close(fd)


def fdatasync(fd: int, *, site=None) -> None:
    if _sim is not None:
        return _sim._sync(fd, site, True)
    _sync(fd, True)


def fsync(fd: int, *, site=None) -> None:
    if _sim is not None:
        return _sim._sync(fd, site, False)
    _sync(fd, False)


def fsync_dir(path, *, site=None) -> None:
    """fsync a directory: the creates, renames and unlinks inside it become durable."""
    if _sim is not None:
        return _sim._fsync_dir(path, site)
    _fsync_dir(path)


def rename(src, dst, *, site=None) -> None:
    """Atomically rename ``src`` to ``dst`` (replacing a file ``dst``)."""
    if _sim is not None:
        return _sim._rename(src, dst, site)
    _raw_rename(src, dst)


def link(src, dst, *, site=None) -> None:
    """Hard-link ``src`` as ``dst`` (``dst`` must not exist)."""
    if _sim is not None:
        return _sim._link(src, dst, site)
    _raw_link(src, dst)


def unlink(path, *, site=None, missing_ok: bool = False) -> None:
    if _sim is not None:
        return _sim._unlink(path, site, missing_ok)
    _raw_unlink(path, missing_ok)


def mkdir(path, *, site=None, exist_ok: bool = False, mode: int = 0o755) -> None:
    if _sim is not None:
        return _sim._mkdir(path, site, exist_ok, mode)
    _raw_mkdir(path, exist_ok, mode)


def rmdir(path, *, site=None) -> None:
    if _sim is not None:
        return _sim._rmdir(path, site)
    _path_op(os.rmdir, "remove the directory", path)


def makedirs(path, *, site=None) -> None:
    """Create ``path`` and missing parents (existing directories are fine)."""
    site = site or _caller()
    parent = os.path.dirname(os.path.abspath(path))
    if not exists(parent):
        makedirs(parent, site=site)
    mkdir(path, site=site, exist_ok=True)


def listdir(path, *, site=None, missing_ok: bool = False) -> list:
    """Sorted entry names of a directory ([] if missing and ``missing_ok``)."""
    if _sim is not None:
        return _sim._listdir(path, site, missing_ok)
    return _listdir(path, missing_ok)


def _listdir(path, missing_ok):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        if missing_ok:
            return []
        raise _error(FileNotFoundError(_errno.ENOENT, "missing"), "list", path) from None
    except OSError as e:
        raise _error(e, "list", path) from e


def ftruncate(fd: int, size: int, *, site=None) -> None:
    if _sim is not None:
        return _sim._ftruncate(fd, size, site)
    _raw_ftruncate(fd, size)


def discard(fd: int, offset: int, length: int, *, site=None) -> None:
    """The bytes ``[offset, offset + length)`` of the file no longer matter: free their disk
    blocks where the file system can (``fallocate(PUNCH_HOLE | KEEP_SIZE)``; the size stays).
    Afterwards they read as zeros, or as the old bytes where punching is not supported (so a
    caller may rely on neither).  Used to give back preallocated and checkpointed WAL space."""
    if length <= 0:
        return
    if _sim is not None:
        return _sim._discard(fd, offset, length, site)
    _discard(fd, offset, length)


_FALLOC_PUNCH = 0x02 | 0x01     # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (linux/falloc.h)
_libc_fallocate = None


def _discard(fd, offset, length):
    global _libc_fallocate
    if not sys.platform.startswith("linux"):
        return
    if _libc_fallocate is None:
        import ctypes
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            f = libc.fallocate
            f.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
            f.restype = ctypes.c_int
        except (OSError, AttributeError):
            f = False
        _libc_fallocate = f
    if not _libc_fallocate:
        return
    if _libc_fallocate(fd, _FALLOC_PUNCH, offset, length) != 0:
        import ctypes
        code = ctypes.get_errno()
        if code in (_errno.EOPNOTSUPP, _errno.ENOSYS, _errno.EINVAL):
            return                      # no hole punching here: the blocks stay allocated
        raise _error(OSError(code, os.strerror(code)), "free blocks of", _name(fd))


def data_end(fd: int, size: int) -> int:
    """Where the file's last allocated byte ends (``SEEK_DATA`` / ``SEEK_HOLE``): past it there
    are only holes, which read as zeros.  ``size`` where the file system does not tell."""
    seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
    if seek_data is None or seek_hole is None:
        return size
    end, pos = 0, 0
    try:
        for _ in range(64):                 # extents; give up on a very fragmented file
            pos = os.lseek(fd, pos, seek_data)
            end = pos = os.lseek(fd, pos, seek_hole)
            if pos >= size:
                return size
        return size
    except OSError as e:
        if e.errno == _errno.ENXIO:         # no data at or after pos
            return min(end, size)
        return size


def preallocate(fd: int, size: int, *, site=None) -> None:
    """Make the file at least ``size`` bytes of allocated zeros (posix_fallocate where the file
    system supports it, else by writing zeros), so later writes inside cannot hit ENOSPC."""
    if _sim is not None:
        return _sim._preallocate(fd, size, site)
    _preallocate(fd, size)


def _preallocate(fd, size):
    cur = fstat(fd).st_size
    if cur >= size:
        return
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, cur, size - cur)
            return
        except OSError as e:
            if e.errno not in (_errno.EOPNOTSUPP, _errno.ENOSYS, _errno.EINVAL):
                raise _error(e, "preallocate", _name(fd)) from e
    zeros = bytes(min(_CHUNK, size - cur))
    for pos in range(cur, size, _CHUNK):
        _pwrite(fd, zeros[:min(_CHUNK, size - pos)], pos)


def fstat(fd: int, *, site=None) -> os.stat_result:
    try:
        return os.fstat(fd)
    except OSError as e:
        raise _error(e, "stat", _name(fd)) from e


def lstat(path, *, site=None, missing_ok: bool = False):
    """``os.lstat`` (None if missing and ``missing_ok``)."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise _error(FileNotFoundError(_errno.ENOENT, "missing"), "stat", path) from None
    except OSError as e:
        raise _error(e, "stat", path) from e


def exists(path) -> bool:
    """True if ``path`` names anything (a dangling symbolic link too)."""
    return os.path.lexists(path)


def is_real_dir(path) -> bool:
    """True if ``path`` is a directory and not a symbolic link to one."""
    st = lstat(path, missing_ok=True)
    return st is not None and _stat.S_ISDIR(st.st_mode)


def mmap(fd: int, size: int, *, site=None, shared_write: bool = False):
    """A read-only mapping of the first ``size`` bytes of ``fd`` (b"" when size is 0).  The
    caller checks ``size`` against ``fstat`` first: touching pages past the end of a file that
    shrank raises SIGBUS, which no Python code can catch.  ``shared_write``: a writable shared
    mapping instead (stores go to the page cache that every process reads: no write call that
    could fail; never synced, so only for volatile files such as SHM)."""
    if size == 0:
        return b""
    if _sim is not None:
        _sim._plain("mmap", site, _name(fd))
    try:
        return _mmap.mmap(fd, size, access=_mmap.ACCESS_WRITE if shared_write else _mmap.ACCESS_READ)
    except (OSError, ValueError) as e:
        if isinstance(e, OSError):
            raise _error(e, "map", _name(fd)) from e
        raise _error(OSError(_errno.EINVAL, str(e)), "map", _name(fd)) from e


def flock(fd: int, exclusive: bool = True, *, site=None) -> bool:
    """Take a non-blocking flock; False if another open file holds a conflicting lock."""
    import fcntl
    if _sim is not None:
        _sim._plain("lock", site, _name(fd))
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        raise _error(e, "lock", _name(fd)) from e


def unlock(fd: int) -> None:
    import fcntl
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass


def copy_file(src, dst, *, site=None) -> None:
    """Copy ``src`` into the new file ``dst`` and fsync it (symbolic links refused)."""
    site = site or _caller()
    fi = open(src, os.O_RDONLY | _O_NOFOLLOW, site=site)
    try:
        fo = open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, site=site)
        try:
            pos = 0
            while True:
                chunk = pread(fi, _CHUNK, pos, site=site)
                if not chunk:
                    break
                pwrite(fo, chunk, pos, site=site)
                pos += len(chunk)
            fsync(fo, site=site)
        finally:
            close(fo)
    finally:
        close(fi)


_NO_LINK = (_errno.EXDEV, _errno.EPERM, _errno.EMLINK, _errno.EOPNOTSUPP, _errno.ENOTSUP,
            _errno.EACCES, _errno.ENOSYS)


def link_or_copy(src, dst, *, site=None) -> None:
    """Hard-link ``src`` as ``dst`` (immutable files: a link is a copy), or copy it where the
    file system cannot link."""
    site = site or _caller()
    try:
        link(src, dst, site=site)
    except OperationalError as e:
        if e.errno not in _NO_LINK:
            raise
        copy_file(src, dst, site=site)


def copy_tree(src, dst, *, site=None) -> None:
    """Copy the directory tree ``src`` into the new directory ``dst`` (files fsynced; symbolic
    links refused)."""
    site = site or _caller()
    mkdir(dst, site=site)
    for name in listdir(src, site=site):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if is_real_dir(s):
            copy_tree(s, d, site=site)
        else:
            copy_file(s, d, site=site)
    fsync_dir(dst, site=site)


def remove_tree(path, *, site=None) -> None:
    """Remove a directory tree this process created (never follows symbolic links: a link
    found at ``path`` or inside it is removed itself, what it points to is left alone)."""
    site = site or _caller()
    if not is_real_dir(path):
        unlink(path, site=site, missing_ok=True)
        return
    for name in listdir(path, site=site, missing_ok=True):
        p = os.path.join(path, name)
        if is_real_dir(p):
            remove_tree(p, site=site)
        else:
            unlink(p, site=site, missing_ok=True)
    if exists(path):
        rmdir(path, site=site)


def _sync_tree(path, site) -> None:
    for name in listdir(path, site=site):
        p = os.path.join(path, name)
        if is_real_dir(p):
            _sync_tree(p, site)
        else:
            fd = open(p, os.O_RDONLY | _O_NOFOLLOW, site=site)
            try:
                fsync(fd, site=site)
            finally:
                close(fd)
    fsync_dir(path, site=site)


@contextlib.contextmanager
def build_dir(dest, *, site=None, replace_empty: bool = False):
    """Build the directory ``dest`` atomically (see the module docstring); yields the private
    temporary directory to fill."""
    site = site or _caller()
    dest = os.fspath(dest)
    parent = os.path.dirname(os.path.abspath(dest))
    base = os.path.basename(os.path.abspath(dest))

    def taken():
        if not exists(dest):
            return False
        return not (replace_empty and is_real_dir(dest) and not listdir(dest, site=site))

    if taken():
        raise _error(FileExistsError(_errno.EEXIST, "exists"), "create", dest)
    if not exists(parent):
        makedirs(parent, site=site)
    _sweep_builds(parent, base, site)
    tmp, lock_fd = _claim_build(parent, base, site)
    try:
        mkdir(tmp, site=site)             # a fresh name: never anyone else's file
        try:
            yield tmp
            _sync_tree(tmp, site)
            if taken():
                raise _error(FileExistsError(_errno.EEXIST, "exists"), "create", dest)
            rename(tmp, dest, site=site)
            try:
                fsync_dir(parent, site=site)
            except BaseException:
                rename(dest, tmp, site=site)   # not durable: take it back (best effort)
                raise
        except BaseException:
            try:
                remove_tree(tmp, site=site)
            except OperationalError:
                pass    # keep tmp and its lock file: the next sweep removes them
            else:
                _forget_lock(tmp, site)
            raise
        _forget_lock(tmp, site)
    finally:
        close(lock_fd)


_BUILD_HEX = 12


def _claim_build(parent, base, site):
    """A fresh ``(tmp, lock_fd)``: ``tmp + ".lock"`` created and exclusively flocked.  A sweeper
    may flock and unlink the lock file in the instant between its creation and our flock; then
    the fd's link count is 0 and another fresh name is drawn.  O(1) expected."""
    while True:
        tmp = os.path.join(parent, f".{base}.tmp-{_uuid.uuid4().hex[:_BUILD_HEX]}")
        fd = open(tmp + ".lock", os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, site=site)
        try:
            if flock(fd, site=site) and fstat(fd, site=site).st_nlink > 0:
                return tmp, fd
        except BaseException:
            close(fd)
            unlink(tmp + ".lock", site=site, missing_ok=True)
            raise
        close(fd)


def _forget_lock(tmp, site) -> None:
    try:
        unlink(tmp + ".lock", site=site, missing_ok=True)
    except OperationalError:
        pass    # an unlocked lock file with no directory: the next sweep removes it


def _sweep_builds(parent, base, site) -> None:
    """Remove what killed builders of ``parent/base`` left: each ``.<base>.tmp-<hex>`` whose
    ``.lock`` no live builder holds.  Best effort (a failure leaves it for the next sweep);
    O(entries of parent)."""
    import re
    pat = re.compile(r"\.%s\.tmp-[0-9a-f]{%d}\.lock\Z" % (re.escape(base), _BUILD_HEX))
    try:
        names = listdir(parent, site=site, missing_ok=True)
    except OperationalError:
        return
    for name in names:
        if not pat.match(name):
            continue
        lock = os.path.join(parent, name)
        try:
            fd = open(lock, os.O_RDWR | _O_NOFOLLOW, site=site, missing_ok=True)
        except OperationalError:
            continue
        if fd is None:
            continue
        try:
            if flock(fd, site=site) and fstat(fd, site=site).st_nlink > 0:
                remove_tree(lock[:-len(".lock")], site=site)
                unlink(lock, site=site, missing_ok=True)
        except OperationalError:
            pass
        finally:
            close(fd)


# -- the simulator (tests) ----------------------------------------------------------------------
def _caller() -> str:
    """``module.function:line`` of the first frame outside this module (simulator only)."""
    if _sim is None:
        return None
    f = sys._getframe(1)
    here = __file__
    while f is not None and f.f_code.co_filename == here:
        f = f.f_back
    if f is None:
        return "?"
    mod = f.f_globals.get("__name__", "?").rsplit(".", 1)[-1]
    return f"{mod}.{f.f_code.co_name}:{f.f_lineno}"


def install(sim: "Simulator") -> None:
    """Route every call through ``sim`` (tests only)."""
    global _sim
    _sim = sim


def uninstall() -> None:
    global _sim
    _sim = None


@contextlib.contextmanager
def installed(sim: "Simulator"):
    install(sim)
    try:
        yield sim
    finally:
        uninstall()


_ERRNO = {"EIO": _errno.EIO, "ENOSPC": _errno.ENOSPC, "EDQUOT": _errno.EDQUOT,
          "EFBIG": _errno.EFBIG}


class Fault:
    """One injected fault: the ``nth`` call matching ``kind`` / ``site`` fails with ``error``."""

    def __init__(self, kind, site, nth, error, persistent):
        if error not in _ERRNO and error != "short" and not isinstance(error, int):
            raise ValueError(f"unknown injected error {error!r}")
        self.kind = (kind,) if isinstance(kind, str) else tuple(kind) if kind else None
        self.site = site
        self.nth = nth
        self.error = error
        self.persistent = persistent
        self.seen = 0       # matching calls so far
        self.fired = 0      # failures injected

    def matches(self, kind, site) -> bool:
        return (self.kind is None or kind in self.kind) and (self.site is None or self.site == site)

    def trip(self, kind, site) -> bool:
        if not self.matches(kind, site):
            return False
        if self.error == "short" and kind != "write":
            return False
        self.seen += 1
        if self.seen == self.nth or (self.persistent and self.seen > self.nth):
            self.fired += 1
            return True
        return False

    def oserror(self) -> OSError:
        code = _ERRNO[self.error] if isinstance(self.error, str) else self.error
        return OSError(code, f"{os.strerror(code)} (injected)")


class _DirOp:
    __slots__ = ("kind", "dir", "name", "src", "stash")

    def __init__(self, kind, dir, name, src=None, stash=None):
        self.kind = kind      # create | mkdir | rename | link | unlink | rmdir
        self.dir = dir        # the directory whose fsync makes it durable
        self.name = name      # absolute path created / removed / renamed to
        self.src = src        # rename: the old name
        self.stash = stash    # unlink / replacing rename: (file key, bytes) or "dir"


class Simulator:
    """Counts, fails and records the I/O calls under ``root`` (see the module docstring)."""

    def __init__(self, root, *, record: bool = False, real_sync: bool = True,
                 on_call: Optional[Callable] = None):
        self.root = os.path.abspath(root)
        self.record = record
        self.real_sync = real_sync
        self.on_call = on_call
        self.calls: Counter = Counter()     # (kind, site) -> calls
        self.n = 0                          # calls under root so far
        self.faults: list = []
        self.injected: list = []            # (n, kind, site, error) of every injected failure
        self._lock = threading.RLock()
        self._files: dict = {}              # file key -> unsynced content ops
        self._fdkey: dict = {}              # fd -> file key (files under root)
        self._dirops: list = []             # unsynced directory ops, in order
        self._under_cache: dict = {}

    # -- configuration --------------------------------------------------------------------------
    def fail(self, kind=None, site=None, *, nth: int = 1, error="EIO", persistent: bool = False) -> Fault:
        f = Fault(kind, site, nth, error, persistent)
        self.faults.append(f)
        return f

    def sites(self) -> list:
        """Every ``(kind, site)`` seen, in a stable order."""
        return sorted(self.calls)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _under(self, path) -> bool:
        if path is None or isinstance(path, int):
            return False
        hit = self._under_cache.get(path)
        if hit is None:
            p = os.path.abspath(path)
            hit = p == self.root or p.startswith(self.root + os.sep)
            if len(self._under_cache) > 4096:
                self._under_cache.clear()
            self._under_cache[path] = hit
        return hit

    def _begin(self, kind, site, path):
        """Count a call; run the crash-point callback; return the fault that fires, if any."""
        if site is None:
            site = _caller()
        with self._lock:
            self.n += 1
            n = self.n
            self.calls[(kind, site)] += 1
            fired = None
            for f in self.faults:
                if f.trip(kind, site) and fired is None:
                    fired = f
            if fired is not None:
                self.injected.append((n, kind, site, fired.error))
        if self.on_call is not None:
            self.on_call(n, kind, site)
        return fired

    def _raise(self, fault, what, path):
        raise _error(fault.oserror(), what, path)

    def _plain(self, kind, site, path):
        if self._under(path):
            f = self._begin(kind, site, path)
            if f is not None:
                self._raise(f, kind, path)

    def _key_of_fd(self, fd):
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino)

    def _track(self, fd):
        """The file key of ``fd`` if it is a file under root (also fds opened before install)."""
        key = self._fdkey.get(fd)
        if key is None:
            path = _fd_paths.get(fd)
            if path is not None and self._under(path):
                with self._lock:
                    key = self._fdkey[fd] = self._key_of_fd(fd)
        return key

    def _stash(self, path):
        """The content of ``path`` (to restore it if its removal is dropped)."""
        st = os.lstat(path)
        if _stat.S_ISDIR(st.st_mode):
            return "dir"
        with _builtin_open(path, "rb") as f:
            return ((st.st_dev, st.st_ino), f.read())

    # -- operations -----------------------------------------------------------------------------
    def _open(self, path, flags, mode, site, missing_ok):
        if not self._under(path):
            return _raw_open(path, flags, mode, missing_ok)
        f = self._begin("open", site, path)
        if f is not None:
            self._raise(f, "open", path)
        creating = bool(flags & os.O_CREAT) and not os.path.lexists(path)
        with self._lock:
            fd = _raw_open(path, flags, mode, missing_ok)
            if fd is None:
                return None
            key = self._key_of_fd(fd)
            self._fdkey[fd] = key
            if self.record:
                if creating:
                    self._dirops.append(_DirOp("create", os.path.dirname(os.path.abspath(path)),
                                               os.path.abspath(path)))
                elif flags & os.O_TRUNC:
                    old = self._file_bytes(fd)
                    if old:
                        self._files.setdefault(key, []).append(("t", 0, len(old), old))
        return fd

    def _close(self, fd):
        with self._lock:
            self._fdkey.pop(fd, None)

    def _file_bytes(self, fd) -> bytes:
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0) if size else b""

    def _pwrite(self, fd, data, offset, site):
        key = self._track(fd)
        if key is None:
            return _pwrite(fd, data, offset)
        f = self._begin("write", site, _name(fd))
        with self._lock:
            if f is not None and f.error == "short":
                part = bytes(data)[:len(data) // 2]
                self._record_write(fd, key, part, offset)
                os.pwrite(fd, part, offset)
                raise _short(_name(fd), len(part), len(data))
            if f is not None:
                self._raise(f, "write to", _name(fd))
            self._record_write(fd, key, data, offset)
            _pwrite(fd, data, offset)

    def _record_write(self, fd, key, data, offset):
        if not self.record or not len(data):
            return
        size = os.fstat(fd).st_size
        old = os.pread(fd, len(data), offset) if offset < size else b""
        self._files.setdefault(key, []).append(("w", offset, old, size, bytes(data)))

    def _write(self, fd, data, site):
        key = self._track(fd)
        if key is None:
            return _raw_write(fd, data)
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        self._pwrite(fd, data, pos, site)
        os.lseek(fd, pos + len(data), os.SEEK_SET)

    def _pread(self, fd, size, offset, site):
        if self._track(fd) is not None:
            f = self._begin("read", site, _name(fd))
            if f is not None:
                self._raise(f, "read", _name(fd))
        return _pread(fd, size, offset)

    def _sync(self, fd, site, data_only):
        key = self._track(fd)
        if key is None:
            return _sync(fd, data_only)
        f = self._begin("sync", site, _name(fd))
        if f is not None:
            self._raise(f, "fdatasync" if data_only else "fsync", _name(fd))
        if self.real_sync:
            _sync(fd, data_only)
        with self._lock:
            self._files.pop(key, None)

    def _fsync_dir(self, path, site):
        if not self._under(path):
            return _fsync_dir(path)
        f = self._begin("dirsync", site, path)
        if f is not None:
            self._raise(f, "fsync the directory", path)
        if self.real_sync:
            _fsync_dir(path)
        else:
            _path_op(os.lstat, "fsync the directory", path)
        d = os.path.abspath(path)
        with self._lock:
            self._dirops = [op for op in self._dirops if op.dir != d]

    def _rename(self, src, dst, site):
        if not (self._under(src) or self._under(dst)):
            return _raw_rename(src, dst)
        f = self._begin("rename", site, dst)
        if f is not None:
            self._raise(f, f"rename {src} to", dst)
        with self._lock:
            stash = self._stash(dst) if self.record and os.path.lexists(dst) else None
            _raw_rename(src, dst)
            if self.record:
                self._dirops.append(_DirOp("rename", os.path.dirname(os.path.abspath(dst)),
                                           os.path.abspath(dst), os.path.abspath(src), stash))

    def _link(self, src, dst, site):
        if not self._under(dst):
            return _raw_link(src, dst)
        f = self._begin("link", site, dst)
        if f is not None:
            self._raise(f, f"link {src} as", dst)
        with self._lock:
            _raw_link(src, dst)
            if self.record:
                self._dirops.append(_DirOp("link", os.path.dirname(os.path.abspath(dst)),
                                           os.path.abspath(dst)))

    def _unlink(self, path, site, missing_ok):
        if not self._under(path):
            return _raw_unlink(path, missing_ok)
        f = self._begin("unlink", site, path)
        if f is not None:
            self._raise(f, "delete", path)
        with self._lock:
            stash = self._stash(path) if self.record and os.path.lexists(path) else None
            _raw_unlink(path, missing_ok)
            if stash is not None:
                self._dirops.append(_DirOp("unlink", os.path.dirname(os.path.abspath(path)),
                                           os.path.abspath(path), stash=stash))

    def _mkdir(self, path, site, exist_ok, mode):
        if not self._under(path):
            return _raw_mkdir(path, exist_ok, mode)
        f = self._begin("mkdir", site, path)
        if f is not None:
            self._raise(f, "create the directory", path)
        with self._lock:
            existed = os.path.lexists(path)
            _raw_mkdir(path, exist_ok, mode)
            if self.record and not existed:
                self._dirops.append(_DirOp("mkdir", os.path.dirname(os.path.abspath(path)),
                                           os.path.abspath(path)))

    def _rmdir(self, path, site):
        if not self._under(path):
            return _path_op(os.rmdir, "remove the directory", path)
        f = self._begin("rmdir", site, path)
        if f is not None:
            self._raise(f, "remove the directory", path)
        with self._lock:
            _path_op(os.rmdir, "remove the directory", path)
            if self.record:
                self._dirops.append(_DirOp("rmdir", os.path.dirname(os.path.abspath(path)),
                                           os.path.abspath(path), stash="dir"))

    def _listdir(self, path, site, missing_ok):
        if self._under(path):
            f = self._begin("listdir", site, path)
            if f is not None:
                self._raise(f, "list", path)
        return _listdir(path, missing_ok)

    def _ftruncate(self, fd, size, site):
        key = self._track(fd)
        if key is None:
            return _raw_ftruncate(fd, size)
        f = self._begin("truncate", site, _name(fd))
        if f is not None:
            self._raise(f, "truncate", _name(fd))
        with self._lock:
            if self.record:
                cur = os.fstat(fd).st_size
                tail = os.pread(fd, cur - size, size) if size < cur else b""
                self._files.setdefault(key, []).append(("t", size, cur, tail))
            _raw_ftruncate(fd, size)

    def _discard(self, fd, offset, length, site):
        key = self._track(fd)
        if key is None:
            return _discard(fd, offset, length)
        f = self._begin("truncate", site, _name(fd))
        if f is not None:
            self._raise(f, "free blocks of", _name(fd))
        with self._lock:
            size = os.fstat(fd).st_size
            length = min(length, max(0, size - offset))
            if self.record and length:    # modelled as a write of zeros (what a punch reads as)
                self._record_write(fd, key, bytes(length), offset)
            _discard(fd, offset, length)

    def _preallocate(self, fd, size, site):
        key = self._track(fd)
        if key is None:
            return _preallocate(fd, size)
        f = self._begin("allocate", site, _name(fd))
        if f is not None:
            self._raise(f, "preallocate", _name(fd))
        with self._lock:
            cur = os.fstat(fd).st_size
            if size > cur and self.record:
                self._files.setdefault(key, []).append(("w", cur, b"", cur, bytes(size - cur)))
            _preallocate(fd, size)

    # -- power-loss images ----------------------------------------------------------------------
    def image(self, dest, rng=None, *, mode: str = "random", sector: int = 512) -> dict:
        """Write into the new directory ``dest`` what ``root`` could hold after a power cut now.

        Returns counts of what the model did (kept/dropped/torn writes, dropped directory ops).
        """
        if not self.record:
            raise RuntimeError("Simulator(record=True) is needed for power-loss images")
        if mode not in ("random", "drop_all", "keep_all"):
            raise ValueError(f"unknown mode {mode!r}")
        if self._under(dest):
            raise ValueError("a power-loss image must be written outside the simulated root")
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        stats = Counter()
        with self._lock:
            os.makedirs(dest)
            models: dict = {}

            def content(key, cur: bytes) -> bytes:
                if key not in models:
                    ops = self._files.get(key)
                    models[key] = cur if not ops else self._model(cur, ops, rng, mode, sector, stats)
                return models[key]

            for top, dirs, files in os.walk(self.root):
                rel = os.path.relpath(top, self.root)
                out = os.path.normpath(os.path.join(dest, rel))
                for d in dirs:
                    p = os.path.join(top, d)
                    if os.path.islink(p):
                        os.symlink(os.readlink(p), os.path.join(out, d))
                    else:
                        os.mkdir(os.path.join(out, d))
                for name in files:
                    p = os.path.join(top, name)
                    if os.path.islink(p):
                        os.symlink(os.readlink(p), os.path.join(out, name))
                        continue
                    st = os.lstat(p)
                    with _builtin_open(p, "rb") as fh:
                        data = content((st.st_dev, st.st_ino), fh.read())
                    with _builtin_open(os.path.join(out, name), "wb") as fh:
                        fh.write(data)
            dropped = self._dropped_dirops(rng, mode)
            stats["dirops_dropped"] = len(dropped)
            for op in reversed(dropped):
                self._undo(op, dest, content)
        return dict(stats)

    def _model(self, cur, ops, rng, mode, sector, stats) -> bytes:
        buf = bytearray(cur)
        for op in reversed(ops):            # back to the synced content
            if op[0] == "w":
                _, off, old, old_size, _new = op
                buf[off:off + len(old)] = old
                del buf[old_size:]
            else:
                _, new_size, old_size, tail = op
                if new_size < old_size:
                    del buf[new_size:]
                    buf += tail
                else:
                    del buf[old_size:]
        for op in ops:                      # then each unsynced change as the disk kept it
            choice = "keep" if mode == "keep_all" else "drop" if mode == "drop_all" else \
                rng.choice(("keep", "drop", "torn") if op[0] == "w" else ("keep", "drop"))
            stats[choice] += 1
            if choice == "drop":
                continue
            if op[0] == "t":
                new_size = op[1]
                if new_size < len(buf):
                    del buf[new_size:]
                else:
                    buf += bytes(new_size - len(buf))
                continue
            _, off, _old, _size, new = op
            if len(buf) < off:
                buf += bytes(off - len(buf))
            if choice == "keep":
                buf[off:off + len(new)] = new
                continue
            end = off + len(new)
            s = off
            while s < end:                   # torn: sector by sector
                e = min(end, (s // sector + 1) * sector)
                how = rng.randrange(3)
                if how == 0:
                    piece = new[s - off:e - off]
                elif how == 1:
                    piece = bytes(rng.getrandbits(8) for _ in range(e - s))
                else:
                    piece = None             # the old bytes (zeros past the old end)
                if piece is not None:
                    if len(buf) < e:
                        buf += bytes(e - len(buf))
                    buf[s:e] = piece
                elif len(buf) < e:
                    buf += bytes(e - len(buf))
                s = e
        return bytes(buf)

    def _dropped_dirops(self, rng, mode) -> list:
        if mode == "keep_all":
            return []
        by_dir: dict = {}
        for op in self._dirops:
            by_dir.setdefault(op.dir, []).append(op)
        drop = set()
        for d in sorted(by_dir):
            ops = by_dir[d]
            keep = 0 if mode == "drop_all" else rng.randint(0, len(ops))
            drop.update(id(op) for op in ops[keep:])
        return [op for op in self._dirops if id(op) in drop]

    def _undo(self, op, dest, content) -> None:
        def here(p):
            return os.path.join(dest, os.path.relpath(p, self.root))

        def restore(path, stash):
            if stash is None or os.path.lexists(path) or not os.path.isdir(os.path.dirname(path)):
                return
            if stash == "dir":
                os.mkdir(path)
            else:
                key, data = stash
                with _builtin_open(path, "wb") as fh:
                    fh.write(content(key, data))

        name = here(op.name)
        if op.kind in ("create", "link"):
            if os.path.lexists(name) and not os.path.isdir(name):
                os.unlink(name)
        elif op.kind == "mkdir":
            if os.path.isdir(name):
                import shutil
                shutil.rmtree(name)
        elif op.kind == "rename":
            src = here(op.src)
            if os.path.lexists(name) and not os.path.lexists(src) and os.path.isdir(os.path.dirname(src)):
                os.rename(name, src)
            restore(name, op.stash)
        elif op.kind in ("unlink", "rmdir"):
            restore(name, op.stash)

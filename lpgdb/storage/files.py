"""Format-2 data files: their names, mapping them (through io.py), writing them, checking them.

The byte format is documented in docs/storage.md ("On-disk format 2") and implemented by the C
core (native/file.c, part.c, build.c); this module only moves whole files around:

    part-<p:06x>-<lsn:016x>.lpg               partition p (nodes p * 2^17 ..) at checkpoint LSN
    eloc-<q:06x>-<lsn:016x>.lpg               edge locator of edge ids q * 2^20 ..
    key-<index:05x>-<bits:02x>-<sub:04x>-<lsn:016x>.lpg   sub-index `sub` of 2^bits of hash index

Files are immutable once renamed into ``data/``; a name never refers to two different contents
(the LSN is in it), so backups hard-link them and archives ship them once.

Invariants
    (1) A file is mapped only after ``fstat`` showed the size the manifest names (a truncated file
        is refused before mapping, so reading it can never fault with SIGBUS).
    (2) Damage found in a mapped file raises CorruptionError naming its path and offset
        (``corruption``).
    (3) A written file is complete and fdatasynced under ``tmp/`` before it is renamed into
        ``data/``; the caller fsyncs ``data/`` once after its last rename.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Optional

from .. import core
from ..errors import CorruptionError
from . import io

_NAME = re.compile(r"(part|eloc)-[0-9a-f]{6}-[0-9a-f]{16}\.lpg|key-[0-9a-f]{5}-[0-9a-f]{2}-[0-9a-f]{4}-[0-9a-f]{16}\.lpg")


def part_name(p: int, lsn: int) -> str:
    return f"part-{p:06x}-{lsn:016x}.lpg"


def eloc_name(q: int, lsn: int) -> str:
    return f"eloc-{q:06x}-{lsn:016x}.lpg"


def key_name(index: int, nsub_log: int, sub: int, lsn: int) -> str:
    return f"key-{index:05x}-{nsub_log:02x}-{sub:04x}-{lsn:016x}.lpg"


def valid_name(name) -> bool:
    """Whether ``name`` is a data file name this format writes (never a path)."""
    return type(name) is str and _NAME.fullmatch(name) is not None


_tags_lock = threading.Lock()
_tags: dict = {}          # tag -> path, for error messages (tags are process-wide)
_next_tag = [0]


def _new_tag(path: str) -> int:
    with _tags_lock:
        tag = _next_tag[0]
        _next_tag[0] += 1
        _tags[tag] = path
        return tag


def corruption(e: core.Corrupt) -> Exception:
    """The CorruptionError for damage the C core found in a mapped file."""
    pending = core.take_open_error(e.tag)
    if pending is not None:        # a lazy open failed (CorruptionError, OperationalError, ...)
        return pending
    path = _tags.get(e.tag)
    return CorruptionError(f"{e.what}: a data file is damaged (checksum or format mismatch); "
                           f"restore the database from a backup or an archive", path=path,
                           offset=e.offset)


class MappedFile:
    """One immutable data file of a manifest, mapped read-only and opened by the C core (lazy
    block CRCs) -- at its first use when the generation is lazy (``open_files(lazy=True)``).

    The constructor touches no file: it checks the name and takes the kind and keys the name
    gives.  ``open()`` (once; the store calls it from the first read that needs the file, or
    ``verify`` does) fstats the file, refuses a size other than the manifest's (invariant 1),
    maps it and checks its header (``core.File``); damage found then is a CorruptionError, kept
    and raised again by every later use.  The mapping lives as long as this object; generations
    and snapshots hold it, so a file deleted by a later checkpoint stays readable for the
    snapshots that still use it -- once opened: the writer opens a retiring generation's files
    before it deletes them (``open_retiring``); in a reader process, ``guard`` (the
    checkpoint.ManifestPin of a manifest naming the file) keeps the writer from deleting it
    until it is opened, and is dropped then.
    """

    __slots__ = ("path", "name", "size", "crc", "kind", "keys", "tag", "guard", "_file", "_error",
                 "_lock", "__weakref__")

    def __init__(self, root: str, name: str, size: int, crc: int):
        if not valid_name(name):
            raise CorruptionError(f"the manifest names a data file {name!r} this version does not write",
                                  path=os.path.join(root, "manifest"))
        self.path = os.path.join(root, "data", name)
        self.name, self.size, self.crc = name, size, crc
        parts = name[:-4].split("-")
        if parts[0] == "part":
            self.kind, self.keys = core.KIND_PART, (int(parts[1], 16), 0)
        elif parts[0] == "eloc":
            self.kind, self.keys = core.KIND_ELOC, (int(parts[1], 16), 0)
        else:
            self.kind = core.KIND_KEYS
            self.keys = (int(parts[1], 16), (int(parts[2], 16) << 32) | int(parts[3], 16))
        self._file = self._error = self.guard = None
        self._lock = threading.Lock()
        self.tag = _new_tag(self.path)

    @property
    def opened(self) -> bool:
        return self._file is not None

    @property
    def file(self) -> core.File:
        return self._file if self._file is not None else self.open()

    def open(self) -> core.File:
        """The opened file (open, size check, map, header check on the first call).  O(1)."""
        with self._lock:
            if self._file is not None:
                return self._file
            if self._error is not None:
                raise self._error
            try:
                self._file = self._open()
            except CorruptionError as e:
                self._error = e            # the file is damaged: every later use says so
                self.guard = None
                raise
            self.guard = None              # mapped: its deletion no longer matters to us
            return self._file

    def _open(self) -> core.File:
        fd = io.open(self.path, os.O_RDONLY, missing_ok=True)
        if fd is None:
            raise CorruptionError("a data file named by the manifest is missing; restore the database "
                                  "from a backup or an archive", path=self.path)
        try:
            actual = io.fstat(fd).st_size
            if actual != self.size:   # (1)
                raise CorruptionError(f"a data file has {actual} bytes, the manifest says {self.size} "
                                      f"(truncated or replaced); restore the database from a backup",
                                      path=self.path, offset=min(actual, self.size))
            data = io.mmap(fd, self.size)
        finally:
            io.close(fd)
        try:
            return core.File(data, self.tag)
        except core.Corrupt as e:
            raise corruption(e) from None

    def verify(self) -> None:
        """Check every block's CRC (``lpgdb verify``).  O(file)."""
        try:
            self.open().verify()
        except core.Corrupt as e:
            raise corruption(e) from None

    def __del__(self):
        _tags.pop(getattr(self, "tag", None), None)


def write_image(root: str, name: str, image) -> tuple:
    """Write a finished image to ``tmp/`` (fdatasync), rename it into ``data/``; return
    ``(crc32c, size)`` for the manifest.  Invariant (3)."""
    tmp = os.path.join(root, "tmp", name)
    io.write_file(tmp, image)
    io.rename(tmp, os.path.join(root, "data", name))
    return core.crc32c(image), len(image)


def open_files(root: str, entries, have: Optional[dict] = None, *, lazy: bool = False,
               guard=None) -> dict:
    """name -> MappedFile for the manifest entries ``[(name, crc, size)]``, reusing the ones in
    ``have`` (unchanged files are shared between generations: opened and checked once).

    ``lazy``: touch no file now; each is opened at its first use.  Safe for the writer, which
    alone deletes data files and opens what it deletes first (``open_retiring``), and for a
    reader given ``guard``, the pin on the manifest naming these files (every file not opened
    yet holds the newest pin naming it, so the writer keeps the file until it is opened).
    Not lazy: every file opened now, except ones a pin still guards (a follower replaying a
    bulk attach opens the attached files, which no manifest it pins names yet)."""
    out = {}
    have = have or {}
    for name, crc, size in entries:
        f = have.get(name)
        if f is None or f.size != size:
            f = MappedFile(root, name, size, crc)
        if guard is not None and not f.opened:
            f.guard = guard
        if not lazy and f.guard is None:
            f.open()
        out[name] = f
    return out


def open_retiring(old: dict, new: dict) -> None:
    """Before the writer deletes the files of generation ``old`` that ``new`` no longer names:
    open the ones not opened yet, so the snapshots still reading ``old`` keep them mapped.
    A damaged one stays damaged (its error is kept).  O(files of old not in new)."""
    for name, f in old.items():
        if name not in new and not f.opened:
            try:
                f.open()
            except CorruptionError:
                pass

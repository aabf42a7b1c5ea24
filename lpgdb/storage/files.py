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


def corruption(e: core.Corrupt) -> CorruptionError:
    """The CorruptionError for damage the C core found in a mapped file."""
    path = _tags.get(e.tag)
    return CorruptionError(f"{e.what}: a data file is damaged (checksum or format mismatch); "
                           f"restore the database from a backup or an archive", path=path,
                           offset=e.offset)


class MappedFile:
    """One immutable data file, mapped read-only and opened by the C core (lazy block CRCs).

    The mapping lives as long as this object; generations and snapshots hold it, so a file
    deleted by a later checkpoint stays readable for the snapshots that still use it.
    """

    __slots__ = ("path", "name", "size", "crc", "file", "tag", "__weakref__")

    def __init__(self, root: str, name: str, size: int, crc: int):
        if not valid_name(name):
            raise CorruptionError(f"the manifest names a data file {name!r} this version does not write",
                                  path=os.path.join(root, "manifest"))
        self.path = os.path.join(root, "data", name)
        self.name, self.size, self.crc = name, size, crc
        fd = io.open(self.path, os.O_RDONLY, missing_ok=True)
        if fd is None:
            raise CorruptionError("a data file named by the manifest is missing; restore the database "
                                  "from a backup or an archive", path=self.path)
        try:
            actual = io.fstat(fd).st_size
            if actual != size:   # (1)
                raise CorruptionError(f"a data file has {actual} bytes, the manifest says {size} "
                                      f"(truncated or replaced); restore the database from a backup",
                                      path=self.path, offset=min(actual, size))
            data = io.mmap(fd, size)
        finally:
            io.close(fd)
        self.tag = _new_tag(self.path)
        try:
            self.file = core.File(data, self.tag)
        except core.Corrupt as e:
            raise corruption(e) from None

    @property
    def kind(self) -> int:
        return self.file.kind

    def verify(self) -> None:
        """Check every block's CRC (``lpgdb verify``).  O(file)."""
        try:
            self.file.verify()
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


def open_files(root: str, entries, have: Optional[dict] = None) -> dict:
    """name -> MappedFile for the manifest entries ``[(name, crc, size)]``, reusing the already
    mapped ones in ``have`` (unchanged files are shared between generations)."""
    out = {}
    have = have or {}
    for name, crc, size in entries:
        f = have.get(name)
        if f is None or f.size != size:
            f = MappedFile(root, name, size, crc)
        out[name] = f
    return out

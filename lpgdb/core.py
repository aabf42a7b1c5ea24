"""The ONLY importer of the compiled cffi module ``lpgdb._native``.

Wraps the C core in small Python classes, converts status codes into lpgdb errors through one
table, and keeps C handles safe: a freed handle is replaced by None so later use raises
InterfaceError instead of handing NULL to C.
"""
from __future__ import annotations

from . import errors

try:
    from ._native import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    raise ImportError(
        "lpgdb's native core (lpgdb._native) is not built; install with `pip install -e .` "
        f"(needs a C compiler and the Python headers): {e}") from e

__all__ = ["crc32c", "check"]

_STATUS = {
    lib.LPG_EINVAL: errors.InterfaceError,
    lib.LPG_EBOUNDS: errors.InterfaceError,
    lib.LPG_ENOMEM: MemoryError,
    lib.LPG_ECORRUPT: errors.CorruptionError,
    lib.LPG_ENOTFOUND: errors.NotFoundError,
    lib.LPG_EEXIST: errors.IntegrityError,
}


def check(rc: int, what: str = "native call") -> int:
    """Return ``rc`` when it is a success (>= 0); raise the mapped lpgdb error otherwise."""
    if rc >= 0:
        return rc
    text = ffi.string(lib.lpg_strerror(rc)).decode()
    exc = _STATUS.get(rc)
    if exc is None:
        raise errors.InternalError(f"{what}: unexpected status {rc} ({text})")
    raise exc(f"{what}: {text}")


def crc32c(data, crc: int = 0) -> int:
    """CRC32C of a bytes-like object, continuing from ``crc``. O(len(data))."""
    buf = ffi.from_buffer(data)
    return lib.lpg_crc32c(crc, buf, len(buf))

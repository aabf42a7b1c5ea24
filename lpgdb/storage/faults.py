"""Deterministic crash points for the crash tests (design/storage.md §3.3 harness A).

Production cost is one global lookup per point.  A test arms a point either with the environment
variable ``LPGDB_CRASH_AT="<name>:<n>"`` (read at import) or with :func:`arm`; the n-th time the
code reaches that point the process kills itself with SIGKILL, exactly as a power cut or an
``kill -9`` would stop it (no atexit handlers, no buffered flushes).

Points: ``wal_before_write``, ``wal_torn_write`` (writes half a frame, then dies),
``wal_after_write``, ``wal_after_sync``, ``ckpt_after_files``, ``ckpt_after_manifest``,
``meta_between_slots`` (the first META slot of a checkpoint written, not the second),
``ckpt_after_meta``.  Every I/O call is a crash point too: see ``io.Simulator(on_call=...)``.
"""
import os
import signal

_target = None
_remaining = 0
TORN_WRITE = False


def arm(name, n: int = 1) -> None:
    """Die at the n-th hit of point ``name`` (None disarms)."""
    global _target, _remaining, TORN_WRITE
    _target, _remaining = name, n
    TORN_WRITE = name == "wal_torn_write"


def hit(name: str) -> bool:
    """Count a hit of ``name``; True when it is the armed one's n-th hit."""
    global _remaining
    if name != _target:
        return False
    _remaining -= 1
    return _remaining == 0


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    if _target is not None and hit(name):
        die()


_env = os.environ.get("LPGDB_CRASH_AT")
if _env:
    _name, _, _n = _env.partition(":")
    arm(_name, int(_n or 1))

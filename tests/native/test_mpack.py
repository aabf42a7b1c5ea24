"""native/mpack.c's skipping (mp_skip_n, with its first-byte size table FIXED) against Python's
msgpack: a property map {"a": value} is one well-formed row (core.rows_ok, lpg_rows_check)
exactly when msgpack reads ``value`` as one complete value with nothing after it."""
from array import array

import msgpack
import pytest

from lpgdb import core
from lpgdb.errors import CorruptionError


def _one_value(b: bytes) -> bool:
    try:
        msgpack.unpackb(b, raw=True, strict_map_key=False)
        return True
    except Exception:
        return False


@pytest.mark.parametrize("first", range(256))
def test_every_first_byte_skips_what_msgpack_reads(first):
    for tail in range(0, 20):
        value = bytes([first]) + bytes(tail)
        row = b"\x81\xa1a" + value
        assert core.rows_ok(row, array("Q", [0, len(row)])) == _one_value(value), (hex(first), tail)
        # and as a key read: a masked row's other entries are skipped the same way
        row2 = b"\x82\xa1a" + value + b"\xa1k\x05"
        try:
            keys, _o, flags = core.rows_key(row2, array("Q", [0, len(row2)]), array("I", [0]), b"\x01", "k")
            ok = True
        except CorruptionError:
            ok = False
        assert ok == _one_value(value), (hex(first), tail)
        if ok:
            assert keys == b"\x91\x05" and flags == b"\x01"

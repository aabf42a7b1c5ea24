"""native/mpack.c's skipping (mp_skip_n, with its first-byte size table MP_FIXED) against Python's
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


def test_rows_key_int_forms():
    """An int key read straight from its bytes (ingest.c small_uint: a non-negative int below
    2**32 in its smallest form) and through mp_value (every other form: longer than needed,
    signed, 64-bit) is the same key as Python's, and a truncated int is a malformed row."""
    import struct
    from lpgdb.storage.records import key_bytes
    forms = []
    for v in (0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2**63 - 1):
        forms.append((v, msgpack.packb(v)))
        for code, fmt in ((0xcc, ">B"), (0xcd, ">H"), (0xce, ">I"), (0xcf, ">Q")):   # every uint form that holds v
            if v < 256 ** struct.calcsize(fmt):
                forms.append((v, bytes([code]) + struct.pack(fmt, v)))
    for v in (-1, -32, -33, -128, -129, -2**31, -2**63):
        forms.append((v, msgpack.packb(v)))
        for code, fmt in ((0xd0, ">b"), (0xd1, ">h"), (0xd2, ">i"), (0xd3, ">q")):
            lim = 2 ** (8 * struct.calcsize(fmt) - 1)
            if -lim <= v < lim:
                forms.append((v, bytes([code]) + struct.pack(fmt, v)))
    for v, enc in forms:
        row = b"\x83\xa1ac\xa1k" + enc + b"\xa1z\x01"
        keys, koffs, flags = core.rows_key(row, array("Q", [0, len(row)]), array("I", [0]), b"\x01", "k")
        assert (keys, flags) == (key_bytes((v,)), b"\x01"), (v, enc.hex())
        for cut in range(1, len(enc)):                  # the int cut short, the map's end after it
            bad = b"\x81\xa1k" + enc[:cut]
            with pytest.raises(CorruptionError):
                core.rows_key(bad, array("Q", [0, len(bad)]), array("I", [0]), b"\x01", "k")

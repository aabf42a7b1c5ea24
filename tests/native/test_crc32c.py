"""CRC32C known answers: the C core against the standard check value and a bitwise reference."""
from hypothesis import given, strategies as st

from lpgdb import core


def _crc32c_reference(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_check_value():
    assert core.crc32c(b"123456789") == 0xE3069283


def test_empty_is_identity():
    assert core.crc32c(b"") == 0
    assert core.crc32c(b"", 1234) == 1234


@given(st.binary(max_size=300), st.integers(0, 299))
def test_matches_reference_and_is_incremental(data, cut):
    cut = min(cut, len(data))
    assert core.crc32c(data) == _crc32c_reference(data)
    assert core.crc32c(data[cut:], core.crc32c(data[:cut])) == core.crc32c(data)

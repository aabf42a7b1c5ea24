"""native/scan.c row grouping (core.Groups): rows are grouped by tag and by each property's key
and value class, integers by the interval between the cut points; malformed maps are refused."""
from array import array
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import core
from lpgdb.storage import records


def _rows(maps):
    blobs = [records.pack_props(m) if m else b"" for m in maps]
    offs = array("Q", [0])
    offs.extend(accumulate(map(len, blobs)))
    return b"".join(blobs), offs


def test_rows_are_grouped_by_tag_keys_and_value_class():
    g = core.Groups([0, 128])
    maps = [{"a": 1}, {"a": 2}, {"a": 127}, {"a": 128}, {"a": -1}, {"a": "x"}, {"a": "y"}, {"a": 1.5},
            {"a": True}, {}, {"b": 1}, {"a": 1}, {"a": 2 ** 64 - 1}, {"a": [1]}]
    tags = array("I", [0] * len(maps))
    tags[-3] = 1
    blob, offs = _rows(maps)
    gid = list(g.rows(blob, offs, tags))
    assert gid[0] == gid[1] == gid[2]                 # 1, 2, 127 lie between the cuts 0 and 128
    assert len({gid[2], gid[3], gid[4]}) == 3          # 128 and -1 are past them
    assert gid[5] == gid[6] and gid[7] not in (gid[0], gid[5], gid[8])
    assert gid[11] != gid[0]                           # another tag
    assert len(set(gid)) == g.count == max(gid) + 1
    firsts = [x for i, x in enumerate(gid) if x not in gid[:i]]
    assert firsts == list(range(len(firsts)))          # numbered in order of first appearance
    again = list(g.rows(blob, offs, tags))             # numbers hold across calls
    assert again == gid


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64), st.lists(st.integers(0, 64), max_size=4))
def test_malformed_rows_are_refused_not_read_past(blob, cuts):
    offs = array("Q", [0] + sorted(min(c, len(blob)) for c in cuts) + [len(blob)])
    tags = array("I", [0] * (len(offs) - 1))
    try:
        core.Groups().rows(blob, offs, tags)
    except lpgdb.CorruptionError:
        pass


def test_keys_repeat_only_when_equal():
    g = core.Groups()
    keys = b"aabbcc"
    koffs = array("Q", [0, 2, 4, 6, 6])
    gid = g.keys(keys, koffs, b"\x01\x01\x01\x00")
    assert list(gid)[:3] == [0, 1, 2] and gid[3] == 0xFFFFFFFF and g.count == 3
    gid = g.keys(b"bb", array("Q", [0, 2]), b"\x01")
    assert list(gid) == [1] and g.count == 3          # held before: the first number


def test_bad_arguments_are_interface_errors():
    with pytest.raises(lpgdb.InterfaceError):
        core.Groups().rows(b"", array("Q", [0, 0]), array("I", []))
    with pytest.raises(lpgdb.InterfaceError):
        core.u32_scatter(array("I", [0]), array("Q", [5]), array("I", [1]))

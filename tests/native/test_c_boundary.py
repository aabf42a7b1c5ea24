"""The raw C boundary (through core.ffi / core.lib): NULLs, bad lengths and offsets, bad ids
return LPG_E* codes and change nothing; nothing crashes."""
import pytest

from lpgdb import core
from lpgdb.core import ffi, lib

NULL = ffi.NULL
CAP = 2**40


def _u64(*xs):
    return ffi.new("uint64_t[]", list(xs) or 1)


def test_null_handles_are_einval():
    out64, size = ffi.new("uint64_t[1]"), ffi.new("size_t[1]")
    assert lib.lpg_adj_new(NULL) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_new(NULL) == lib.LPG_EINVAL
    assert lib.lpg_labels_new(NULL) == lib.LPG_EINVAL
    assert lib.lpg_adj_add(NULL, 0, 0, 0, 0, 1) == lib.LPG_EINVAL
    assert lib.lpg_adj_count(NULL, NULL, 0, 1, out64) == lib.LPG_EINVAL
    assert lib.lpg_adj_check(NULL) == lib.LPG_EINVAL
    assert lib.lpg_adj_gc(NULL, 1) == lib.LPG_EINVAL
    assert lib.lpg_adj_compact(NULL) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_put(NULL, 0, NULL, 0, 0, 1) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_get(NULL, 0, NULL, 0, 1, NULL, 0, size) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_check(NULL) == lib.LPG_EINVAL
    assert lib.lpg_labels_add(NULL, 0, 0, 1) == lib.LPG_EINVAL
    assert lib.lpg_labels_scan(NULL, 0, 1, NULL, 0, size) == lib.LPG_EINVAL
    assert lib.lpg_labels_check(NULL) == lib.LPG_EINVAL
    lib.lpg_adj_free(NULL)
    lib.lpg_keyidx_free(NULL)
    lib.lpg_labels_free(NULL)


def test_adj_bad_pointers_and_lengths():
    a = core.Adjacency()
    h = a._h
    a.add(0, 1, 2, 3, 1)
    size, out64 = ffi.new("size_t[1]"), ffi.new("uint64_t[4]")
    nbr, eid, frm = ffi.new("uint64_t[4]"), ffi.new("uint64_t[4]"), ffi.new("uint32_t[4]")
    # n > 0 with NULL arrays
    assert lib.lpg_adj_add_many(h, NULL, NULL, NULL, NULL, 3, 2) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, NULL, 2, 0, NULL, 0, 1, nbr, eid, frm, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 1, 0, NULL, 0, 1, NULL, NULL, NULL, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 1, 0, NULL, 3, 1, nbr, eid, frm, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 1, 0, NULL, 0, 1, nbr, eid, frm, 4, NULL) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 1, -1, NULL, 0, 1, nbr, eid, frm, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 1, 3, NULL, 0, 1, nbr, eid, frm, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_expand(h, _u64(2), 2**32, 0, NULL, 0, 1, nbr, eid, frm, 4, size) == lib.LPG_EBOUNDS
    assert lib.lpg_adj_degree_many(h, NULL, 1, 0, NULL, 0, 1, out64) == lib.LPG_EINVAL
    assert lib.lpg_adj_degree_many(h, _u64(2), 1, 0, NULL, 0, 1, NULL) == lib.LPG_EINVAL
    assert lib.lpg_adj_scan(h, NULL, 0, 1, NULL, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_adj_get(h, 0, 1, NULL, out64, out64) == lib.LPG_EINVAL
    assert lib.lpg_adj_count_reach(h, 2, 1, 0, NULL, 0, 1, 1, NULL) == lib.LPG_EINVAL
    # a zero-capacity output reports the size needed
    assert lib.lpg_adj_expand(h, _u64(2), 1, 0, NULL, 0, 1, NULL, NULL, NULL, 0, size) == lib.LPG_ETOOSMALL
    assert size[0] == 1
    assert lib.lpg_adj_scan(h, NULL, 0, 1, NULL, 0, size) == lib.LPG_ETOOSMALL and size[0] == 1
    # ids at the cap
    assert lib.lpg_adj_add(h, 1, 0, CAP - 1 + 1, 0, 2) == lib.LPG_EBOUNDS
    assert lib.lpg_adj_add_many(h, _u64(1, 2), ffi.new("uint32_t[2]"), _u64(0, 0), _u64(0, CAP), 2, 2) == lib.LPG_EBOUNDS
    a.check()
    assert a.scan(None, 5) == [0]
    a.close()


def test_keyidx_bad_offsets_and_lengths():
    k = core.KeyIndex()
    h = k._h
    k.put(0, b"abc", 1, 1)
    out = ffi.new("int64_t[2]")
    keys = b"abcxyz"
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(0, 3, 6), 2, 1, out) == lib.LPG_OK
    assert list(out) == [1, -1]
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(0, 3, 7), 2, 1, out) == lib.LPG_EBOUNDS
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(4, 3, 6), 2, 1, out) == lib.LPG_EBOUNDS
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(0, 2**63, 6), 2, 1, out) == lib.LPG_EBOUNDS
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(7, 7), 1, 1, out) == lib.LPG_EBOUNDS
    assert lib.lpg_keyidx_get_first_many(h, 0, NULL, 6, _u64(0, 3), 1, 1, out) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, NULL, 1, 1, out) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_get_first_many(h, 0, keys, 6, _u64(0, 3), 1, 1, NULL) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_get_first_many(h, 0, NULL, 0, NULL, 0, 1, NULL) == lib.LPG_OK
    size = ffi.new("size_t[1]")
    assert lib.lpg_keyidx_put(h, 0, NULL, 3, 1, 1) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_put(h, 0, keys, 65537, 1, 1) == lib.LPG_EBOUNDS
    assert lib.lpg_keyidx_get(h, 0, keys, 3, 1, NULL, 4, size) == lib.LPG_EINVAL
    assert lib.lpg_keyidx_get(h, 0, keys, 3, 1, NULL, 0, size) == lib.LPG_ETOOSMALL and size[0] == 1
    assert lib.lpg_keyidx_size(h, NULL) == lib.LPG_EINVAL
    k.check()
    assert k.get(0, b"abc", 1) == [1]
    k.close()


def test_labels_bad_pointers():
    x = core.LabelIndex()
    h = x._h
    x.add(0, 1, 1)
    size = ffi.new("size_t[1]")
    assert lib.lpg_labels_scan(h, 0, 1, NULL, 0, size) == lib.LPG_ETOOSMALL and size[0] == 1
    assert lib.lpg_labels_scan(h, 0, 1, NULL, 2, size) == lib.LPG_EINVAL
    assert lib.lpg_labels_count(h, 0, 1, NULL) == lib.LPG_EINVAL
    assert lib.lpg_labels_has(h, 0, 1, 1, NULL) == lib.LPG_EINVAL
    assert lib.lpg_labels_add(h, 2**24, 1, 1) == lib.LPG_EBOUNDS
    x.check()
    x.close()


@pytest.mark.parametrize("code, exc", [
    (lib.LPG_EINVAL, "InterfaceError"), (lib.LPG_EBOUNDS, "InterfaceError"),
    (lib.LPG_ENOTFOUND, "NotFoundError"), (lib.LPG_EEXIST, "IntegrityError"),
    (lib.LPG_ECORRUPT, "CorruptionError"), (lib.LPG_ETOOSMALL, "InternalError"),
    (-99, "InternalError"),
])
def test_status_codes_map_to_typed_errors(code, exc):
    from lpgdb import errors
    with pytest.raises(getattr(errors, exc)):
        core.check(code, "test")

"""The C CSV parser and row packer (native/csv.c, native/ingest.c) against simple Python models."""
import math
import random
from array import array

import pytest
from hypothesis import given, settings, strategies as st

from lpgdb import core
from lpgdb.storage import records

CELL = st.text(alphabet=st.sampled_from(list('ab,"\n\r;é😀 ')), max_size=8)


def encode(rows, quote_all=False):
    """CSV text of rows of str (None = an empty unquoted cell, '' = a quoted empty one)."""
    out = []
    for row in rows:
        cells = []
        for c in row:
            if c is None:
                cells.append("")
            elif quote_all or c == "" or any(x in c for x in ',"\n\r') or c.startswith('"'):
                cells.append('"' + c.replace('"', '""') + '"')
            else:
                cells.append(c)
        out.append(",".join(cells))
    return ("\n".join(out) + "\n").encode("utf-8")


def parse_all(data, kinds, maps=None, chunk=3):
    p = core.CsvParser(kinds, b",", b'"')
    for i, m in (maps or {}).items():
        p.set_map(i, m)
    p.set_input(data)
    pos, out = 0, []
    while pos < len(data):
        pos, n = p.parse(pos, chunk)
        cols = [p.column(i) for i in range(len(kinds))]
        out.append((n, cols, p.lines()))
    p.release_input()
    return out


def strings(n, col):
    valid, vals, data = col
    offs = array("q", vals) if n else []
    return [data[offs[i]:offs[i + 1]].decode() if valid[i >> 3] >> (i & 7) & 1 else None for i in range(n)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), CELL), min_size=2, max_size=2), min_size=1, max_size=12),
       st.booleans())
def test_fields_round_trip_through_quotes_newlines_and_empties(rows, quote_all):
    data = encode(rows, quote_all)        # two columns: a record is never an empty line
    got = []
    for n, cols, _lines in parse_all(data, ["str", "str"]):
        got.extend(zip(strings(n, cols[0]), strings(n, cols[1])))
    assert got == [tuple(r) for r in rows]


def test_lines_count_newlines_inside_quotes_and_skip_empty_lines():
    data = b'a,1\n"x\ny",2\n\n\r\nb,3\r\n'
    ((n, cols, lines),) = parse_all(data, ["str", "int"], chunk=10)
    assert n == 3 and list(lines) == [1, 2, 6]
    assert strings(n, cols[0]) == ["a", "x\ny", "b"] and list(array("q", cols[1][1])) == [1, 2, 3]


@pytest.mark.parametrize("data, what, line, column", [
    (b'a,1\n"open,2\n', "unclosed", 2, 1),
    (b'a,1\n"x"y,2\n', "after_quote", 2, 1),
    (b'a,1\nb\n', "width", 2, None),
    (b'a,1\nb,x\n', "int", 2, 2),
    (b'a,1\nb,99999999999999999999\n', "range", 2, 2),
    (b'a,1\n\xff,2\n', "utf8", 2, 1),
])
def test_bad_input_names_line_and_column(data, what, line, column):
    with pytest.raises(core.InputFault) as e:
        parse_all(data, ["str", "int"], chunk=10)
    assert (e.value.what, e.value.line, e.value.column) == (what, line, column)
    assert e.value.offset + e.value.length <= len(data)


def test_typed_columns():
    data = b"1,2.5,true,x\n-9223372036854775808,-inf,FALSE,\xc3\xa9\n,,,\n18446744073709551615, 7 ,True,z\n"
    p = core.CsvParser(["int", "float", "bool", "char"], b",", b'"')
    p.set_input(data)
    assert p.parse(0, 10) == (len(data), 4)
    valid, vals, _ = p.column(0)
    assert list(array("q", vals))[:2] == [1, -2 ** 63] and valid[0] == 0b1011 and p.big_rows(0) == [3]
    assert array("Q", vals)[3] == 2 ** 64 - 1
    fv = array("d", p.column(1)[1])
    assert fv[0] == 2.5 and fv[1] == -math.inf and fv[3] == 7.0
    assert p.column(2)[1][0] & 0b1011 == 0b1001 and p.column(2)[0][0] == 0b1011
    assert strings(4, p.column(3)) == ["x", "é", None, "z"]
    p.release_input()


def test_id_maps_put_get_and_duplicates():
    for integer in (False, True):
        m = core.IdMap(integer)
        p = core.CsvParser(["id", "str"], b",", b'"')
        p.set_map(0, m)
        data = b"10,a\n20,b\n10,c\n"
        p.set_input(data)
        p.set_position(1, 100)
        with pytest.raises(core.InputFault) as e:
            p.parse(0, 10)
        assert (e.value.what, e.value.line, e.value.aux) == ("dup_id", 3, 100)
        p.release_input()
        q = core.CsvParser(["ref", "ref"], b",", b'"')
        q.set_map(0, m)
        q.set_map(1, m)
        q.set_input(b"20,10\n10,20\n")
        assert q.parse(0, 10)[1] == 2 and list(array("Q", q.column(0)[1])) == [101, 100]
        q.set_input(b"20,10\n30,20\n")
        q.set_position(1, 0)
        with pytest.raises(core.InputFault) as e:
            q.parse(0, 10)
        assert (e.value.what, e.value.line, e.value.column) == ("no_id", 2, 1)
        # whole columns (Arrow input): ints and strings look up the same keys
        offs = array("q", [0, 2, 4]).tobytes()
        assert list(m.get_column("str", 2, None, offs, b"1020")) == [100, 101]
        assert list(m.get_column("int", 2, None, array("q", [20, 10]).tobytes(), None)) == [101, 100]


def test_many_keys_with_prefetched_lookups():
    rnd = random.Random(1)
    keys = rnd.sample(range(10 ** 12), 5000)
    m = core.IdMap(False)
    text = "".join(f"k{k}\n" for k in keys).encode()
    p = core.CsvParser(["id"], b",", b'"')
    p.set_map(0, m)
    p.set_input(text)
    p.parse(0, 10 ** 6)
    order = keys[:]
    rnd.shuffle(order)
    q = core.CsvParser(["ref"], b",", b'"')
    q.set_map(0, m)
    q.set_input("".join(f"k{k}\n" for k in order).encode())
    q.parse(0, 10 ** 6)
    where = {k: i for i, k in enumerate(keys)}
    assert list(array("Q", q.column(0)[1])) == [where[k] for k in order]


VALUE = st.one_of(st.integers(-2 ** 63, 2 ** 64 - 1), st.floats(allow_nan=False), st.booleans(),
                  st.text(max_size=5), st.binary(max_size=5))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "é"]), VALUE), min_size=1, max_size=6))
def test_packed_rows_equal_pack_props(rows):
    # one column per (name, python type): msgpack cells, plus typed columns where uniform
    names = sorted({k for r in rows for k in r})
    cols = []
    for name in names:
        offs, heap, valid = array("q", [0]), bytearray(), bytearray((len(rows) + 7) // 8)
        for i, r in enumerate(rows):
            if name in r:
                heap += records.pack(r[name])
                valid[i >> 3] |= 1 << (i & 7)
            offs.append(len(heap))
        cols.append((name, "msgpack", 0, bytes(valid), offs.tobytes(), bytes(heap)))
    blob, offs = core.pack_rows(len(rows), cols)
    for i, r in enumerate(rows):
        assert blob[offs[i]:offs[i + 1]] == records.pack_props({k: r[k] for k in names if k in r})


def test_typed_pack_is_byte_identical():
    ints, floats = [0, -1, 127, 128, -33, 2 ** 40, -2 ** 63], [0.5, -1e300, 3.0, 0.0, 1.5, 2.5, 9.0]
    texts = ["", "x", "é" * 40, "a" * 300, "b", "c", "d"]
    toffs = array("q", [0])
    for t in texts:
        toffs.append(toffs[-1] + len(t.encode()))
    cols = [("i", "int", 0, None, array("q", ints).tobytes(), None),
            ("f", "float", 0, None, array("d", floats).tobytes(), None),
            ("t", "str", 0, None, toffs.tobytes(), "".join(texts).encode()),
            ("d", "date", 0, None, array("i", [0, -719162, 2932896, 1, 2, 3, 19000]).tobytes(), None),
            ("b", "bool", 0, bytes([0b1111110]), bytes([0b0101010]), None)]
    blob, offs = core.pack_rows(7, cols)
    import datetime as dt
    for i in range(7):
        want = {"i": ints[i], "f": floats[i], "t": texts[i],
                "d": dt.date(1970, 1, 1) + dt.timedelta(days=[0, -719162, 2932896, 1, 2, 3, 19000][i])}
        if i:
            want["b"] = bool(0b0101010 >> i & 1)
        assert blob[offs[i]:offs[i + 1]] == records.pack_props(want)


def test_packer_checks_the_bounds_it_is_given():
    from lpgdb.errors import InterfaceError
    with pytest.raises(InterfaceError):
        core.pack_rows(3, [("x", "int", 0, None, b"\0" * 16, None)])       # 2 values for 3 rows
    with pytest.raises(InterfaceError):
        core.pack_rows(1, [("x", "str", 0, None, array("q", [0, 9]).tobytes(), b"abc")])
    with pytest.raises(InterfaceError):
        core.pack_rows(1, [("x", "msgpack", 0, None, array("q", [0, 1]).tobytes(), b"\xc1")])


def test_id_maps_across_their_growth_agree_with_a_dict():
    """Keys put in column chunks through several doublings of the table (at most 3/4 full;
    short text keys in the slot, long ones beside it): every key maps to its value, a key put again is a duplicate naming its first
    value, and an unknown key is reported (integer and text maps)."""
    rnd = random.Random(3)
    for integer in (True, False):
        m = core.IdMap(integer)
        keys = [rnd.randrange(-2 ** 62, 2 ** 62) for _ in range(20_000)]
        keys = list(dict.fromkeys(keys))
        if not integer:      # long keys (kept beside the table) and short ones (kept in the slot)
            keys = list(dict.fromkeys(str(k) if k % 3 == 0 else f"{k}é" if k % 3 == 1 else
                                      f"{k % 10 ** (k % 17)}"[:15] for k in keys))
            assert {len(k.encode()) for k in keys} >= {1, 14, 15, 16, 21}
        model = {}

        def column(ks):
            if integer:
                return "int", array("q", ks).tobytes(), None
            data = [k.encode() for k in ks]
            offs = array("q", [0])
            for d in data:
                offs.append(offs[-1] + len(d))
            return "str", offs.tobytes(), b"".join(data)

        for lo in range(0, len(keys), 1000):
            ks = keys[lo:lo + 1000]
            kind, vals, data = column(ks)
            m.put_column(kind, len(ks), None, vals, data, 5 + lo)
            model.update((k, 5 + lo + i) for i, k in enumerate(ks))
        assert len(m) == len(keys)
        order = keys[:]
        rnd.shuffle(order)
        kind, vals, data = column(order)
        assert list(m.get_column(kind, len(order), None, vals, data)) == [model[k] for k in order]
        again = [keys[17], keys[-1]]
        kind, vals, data = column(again)
        with pytest.raises(core.InputFault) as e:
            m.put_column(kind, 2, None, vals, data, 10 ** 6)
        assert (e.value.what, e.value.row, e.value.aux) == ("dup_id", 0, model[keys[17]])
        missing = [keys[3], (2 ** 62 + 1) if integer else "nope"]
        kind, vals, data = column(missing)
        with pytest.raises(core.InputFault) as e:
            m.get_column(kind, 2, None, vals, data)
        assert (e.value.what, e.value.row) == ("no_id", 1)
        assert len(m) == len(keys)

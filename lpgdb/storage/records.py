"""Byte encodings of everything lpgdb stores. msgpack is imported here and nowhere else.

Property values
    msgpack natives for bool / int (int64 or uint64) / float64 / str / bytes / lists, plus ext types:

    ======  ===================  ==========================================================
    ext id  Python type          payload (msgpack)
    ======  ===================  ==========================================================
    1       datetime.date        proleptic ordinal (int)
    2       datetime.time        [hour, minute, second, microsecond, utcoffset_s | nil]
    3       datetime.datetime    [ordinal, seconds_of_day, microsecond, utcoffset_s | nil
                                 (, IANA zone name: a zoneinfo tzinfo; absent before v2)]
    4       datetime.timedelta   [days, seconds, microseconds]
    5       values.LocalTime     ns_of_day
    6       values.Time          [ns_of_day, utcoffset_s]
    7       values.LocalDateTime [ordinal, ns_of_day]
    8       values.DateTime      [ordinal, ns_of_day, utcoffset_s, zone name | nil]
    9       values.Duration      [months, days, ns]
    ======  ===================  ==========================================================

    Ext 5-9 are the value classes of lpgdb/values.py, which sits above storage: values.py
    registers each class here (``register_ext``: its code's fields, and how to rebuild and check
    a value from them), so this module owns the bytes without importing the value model.
    Values arrive in their canonical form (values.canonical, applied by check_properties): ext
    5-8 only hold what the Python types cannot (nanoseconds, a zone whose offset the tz
    database does not give).  Fields read back are checked; bad ones are a CorruptionError.

    A property map is stored as the msgpack map ``{name: value}``; the empty map is ``b""``.

Commit records (the payload of a WAL transaction, see wal.py)
    msgpack array ``[FORMAT, commit_unix_ns, [op, ...]]``; each op is an array whose first
    element is its code.  Ops are logical, idempotent after-images (design/storage.md §4.3):

    ==========  ===========================================  =================================
    code        fields                                       meaning
    ==========  ===========================================  =================================
    NODE_PUT    id, [labels], props                          create or replace a node
    NODE_DEL    id                                           delete a node (edges deleted first)
    EDGE_PUT    id, [labels], src, dst, props                create an edge, or replace its props
    EDGE_DEL    id                                           delete an edge
    SCHEMA      ddl | nil, graph_type_name | nil             set (or drop, nil) the graph type
    INDEX       label, [props], create(bool)                 create / drop a user hash index
    NODES_BULK  first_id, [[labels]...], idx u32[], [props]  create consecutive nodes (columns)
    EDGES_BULK  first_id, [[labels]...], idx u32[],          create consecutive edges (columns;
                src u64[], dst u64[], [props]                arrays as little-endian bytes)
    NODES_COLS  first_id, [[labels]...], idx u32[],          NODES_BULK with the property maps
                blob, offs u64[n+1]                          as one blob: row i = blob[offs[i]:
                                                             offs[i+1]] (bulk ingest, issue 11)
    EDGES_COLS  first_id, [[labels]...], idx u32[],          EDGES_BULK likewise
                src u64[], dst u64[], blob, offs u64[n+1]
    ATTACH      {base, files, catalog, propkeys, stats}      bulk attach (issue 11): the files
                                                             written for a bulk load, alone in
                                                             its record (storage/attach.py)
    ==========  ===========================================  =================================

Key bytes
    ``key_bytes(tuple)`` is the canonical encoding used by the native KEY hash index: the bytes
    of each part's key form, which lpgdb/values.py decides (``values.key_value``: 1 == 1.0, a
    timedelta is the Duration of the same parts, NaN is refused), so equal keys give equal bytes.
"""
from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

import msgpack

from ..errors import CorruptionError, DataError, InternalError

FORMAT = 1
NODE_PUT, NODE_DEL, EDGE_PUT, EDGE_DEL, SCHEMA, INDEX, NODES_BULK, EDGES_BULK = 1, 2, 3, 4, 5, 6, 7, 8
NODES_COLS, EDGES_COLS = 9, 10
ATTACH = 11

EXT_DATE = _EXT_DATE = 1
_EXT_TIME, _EXT_DATETIME, _EXT_DURATION = 2, 3, 4
EXT_LOCALTIME_NS, EXT_TIME_NS, EXT_LOCALDATETIME_NS, EXT_DATETIME_NS, EXT_MONTH_DURATION = 5, 6, 7, 8, 9


def _offset_s(value) -> Any:
    off = value.utcoffset()
    return None if off is None else off.days * 86400 + off.seconds


def _tz(seconds):
    return None if seconds is None else _dt.timezone(_dt.timedelta(seconds=seconds))


def _default(obj):
    if isinstance(obj, _dt.datetime):
        secs = obj.hour * 3600 + obj.minute * 60 + obj.second
        fields = [obj.toordinal(), secs, obj.microsecond, _offset_s(obj)]
        zone = getattr(obj.tzinfo, "key", None)
        if type(zone) is str:
            fields.append(zone)
        return msgpack.ExtType(_EXT_DATETIME, msgpack.packb(fields))
    if isinstance(obj, _dt.date):
        return msgpack.ExtType(_EXT_DATE, msgpack.packb(obj.toordinal()))
    if isinstance(obj, _dt.time):
        return msgpack.ExtType(_EXT_TIME, msgpack.packb(
            [obj.hour, obj.minute, obj.second, obj.microsecond, _offset_s(obj)]))
    if isinstance(obj, _dt.timedelta):
        return msgpack.ExtType(_EXT_DURATION, msgpack.packb([obj.days, obj.seconds, obj.microseconds]))
    enc = _EXT_ENCODE.get(type(obj))
    if enc is not None:
        code, fields = enc
        return msgpack.ExtType(code, msgpack.packb(fields(obj)))
    raise DataError(f"cannot store a value of type {type(obj).__name__}")


def _zoned(d, secs, us, off, zone):
    """A datetime at ``off`` with the zoneinfo tzinfo ``zone`` when the tz database agrees on
    the offset (fold chosen to match), else with the fixed offset."""
    base = _dt.datetime(d.year, d.month, d.day, secs // 3600, secs // 60 % 60, secs % 60, us)
    if zone is not None:
        try:
            from zoneinfo import ZoneInfo
            tz = ZoneInfo(zone)
        except Exception:       # the tz database lacks it here: keep the instant
            tz = None
        if tz is not None:
            for fold in (0, 1):
                out = base.replace(tzinfo=tz, fold=fold)
                if _offset_s(out) == off:
                    return out
    return base.replace(tzinfo=_tz(off))


def _ext_hook(code, data):
    v = msgpack.unpackb(data)
    if code == _EXT_DATE:
        return _dt.date.fromordinal(v)
    if code == _EXT_TIME:
        h, m, s, us, off = v
        return _dt.time(h, m, s, us, tzinfo=_tz(off))
    if code == _EXT_DATETIME:
        ordinal, secs, us, off = v[:4]
        d = _dt.date.fromordinal(ordinal)
        if off is None:
            return _dt.datetime(d.year, d.month, d.day, secs // 3600, secs // 60 % 60, secs % 60, us)
        return _zoned(d, secs, us, off, v[4] if len(v) > 4 else None)
    if code == _EXT_DURATION:
        days, secs, us = v
        return _dt.timedelta(days=days, seconds=secs, microseconds=us)
    build = _EXT_DECODE.get(code)
    if build is None:
        raise ValueError(f"unknown msgpack ext type {code}")
    return build(v)      # checks the fields (ValueError / DataError -> CorruptionError)


# the types a stored property value (or list item) may decode to; register_ext adds its classes
_SCALAR_TYPES = {bool, int, float, str, bytes, _dt.date, _dt.time, _dt.datetime, _dt.timedelta}


_EXT_ENCODE: dict = {}   # value class -> (ext code, fields(value) -> msgpack natives)
_EXT_DECODE: dict = {}   # ext code -> build(fields) -> value


def register_ext(code: int, cls, fields, build) -> None:
    """Store values of ``cls`` (a class of lpgdb/values.py) as ext type ``code``:
    ``fields(value)`` gives its payload (msgpack natives), ``build(payload)`` rebuilds it and
    raises (ValueError, TypeError, DataError) on a payload that is not a valid value.
    ``build`` None: the code is decoded here (the class only encodes to it)."""
    _EXT_ENCODE[cls] = (code, fields)
    _SCALAR_TYPES.add(cls)
    if build is not None:
        _EXT_DECODE[code] = build


class _Packers(threading.local):
    def __init__(self):
        self.packer = msgpack.Packer(default=_default, use_bin_type=True)


_packers = _Packers()   # a Packer per thread: creating one per call costs more than packing


def pack(obj) -> bytes:
    """msgpack-encode ``obj`` (with lpgdb's ext types)."""
    try:
        return _packers.packer.pack(obj)
    except (TypeError, ValueError, OverflowError) as e:
        _packers.packer.reset()
        raise DataError(f"cannot encode value: {e}") from e


def unpack(data: bytes, *, what: str = "record", path: str | None = None, offset: int | None = None):
    """Decode bytes written by :func:`pack`; undecodable input is a CorruptionError."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated types on garbage
        raise CorruptionError(f"undecodable {what}: {e}", path=path, offset=offset) from e


def pack_props(props: dict) -> bytes:
    """Encode a property map; the empty map is b""."""
    return pack(props) if props else b""


def pack_props_many(maps) -> list:
    """``[pack_props(m) for m in maps]`` with one packer lookup (a commit's after-images)."""
    packer = _packers.packer
    try:
        return [packer.pack(m) if m else b"" for m in maps]
    except (TypeError, ValueError, OverflowError) as e:
        packer.reset()
        raise DataError(f"cannot encode value: {e}") from e


def unpack_props(data: bytes) -> dict:
    """Decode a property map written by :func:`pack_props`. O(size).

    Stored bytes are checksummed, but a crafted file can hold anything: whatever is not a map
    of names to storable values (scalars, or lists of scalars) is a CorruptionError."""
    if not data:
        return {}
    try:
        d = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated types on garbage
        raise CorruptionError(f"undecodable stored property map: {e}") from e
    if type(d) is not dict:
        raise CorruptionError("a stored property map is not a map")
    scalars = _SCALAR_TYPES
    for k, v in d.items():
        t = type(v)
        if type(k) is not str or (t not in scalars and not (
                t is list and all(type(x) in scalars for x in v))):
            raise CorruptionError(f"a stored property map holds {k!r:.40}: {t.__name__}, which is "
                                  f"not a storable value")
    return d


def unpack_values(data) -> list:
    """Decode a msgpack array of stored property values (None for absent ones)."""
    try:
        out = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except Exception as e:
        raise CorruptionError(f"undecodable stored property values: {e}") from e
    if type(out) is not list:
        raise CorruptionError("stored property values are not a list")
    scalars = _SCALAR_TYPES
    for v in out:
        t = type(v)
        if v is not None and t not in scalars and not (t is list and all(type(x) in scalars for x in v)):
            raise CorruptionError(f"a stored property holds a {t.__name__}, which is not a storable value")
    return out


_key_form = None   # values.key_value, registered by lpgdb/values.py (storage does not import it)


def register_key_form(fn) -> None:
    """Set the function that gives a value's canonical key form (values.key_value)."""
    global _key_form
    _key_form = fn


def key_bytes(key: tuple) -> bytes:
    """Canonical bytes of a key tuple for the native hash index."""
    if len(key) == 1 and type(key[0]) in (int, str):   # the common case, already canonical
        try:
            return _packers.packer.pack(key)
        except (ValueError, OverflowError) as e:       # a lone surrogate, an int past 64 bits
            _packers.packer.reset()
            raise DataError(f"cannot be part of a key: {e}") from None
    return pack([_key_form(v) for v in key])


# -- op builders: every log record is built by these functions and nowhere else -----------------
def op_node_put(nid: int, labels, props: dict) -> list:
    """Create or replace node ``nid`` (full after-image)."""
    return [NODE_PUT, nid, sorted(labels), pack_props(props)]


def op_node_put_packed(nid: int, labels, packed: bytes) -> list:
    """op_node_put of a property map already packed (pack_props)."""
    return [NODE_PUT, nid, sorted(labels), packed]


def op_node_del(nid: int) -> list:
    return [NODE_DEL, nid]


def op_edge_put(eid: int, labels, src: int, dst: int, props: dict) -> list:
    """Create edge ``eid`` or replace its properties (full after-image)."""
    return [EDGE_PUT, eid, sorted(labels), src, dst, pack_props(props)]


def op_edge_del(eid: int) -> list:
    return [EDGE_DEL, eid]


def op_schema(ddl, name) -> list:
    """Set the graph type (ddl None drops it)."""
    return [SCHEMA, ddl, name]


def op_index(label: str, props, create: bool) -> list:
    """Create (or drop) the user hash index on (label, props...)."""
    return [INDEX, label, list(props), bool(create)]


class BulkColumns:
    """The columns of one NODES_COLS / EDGES_COLS op, filled row by row (properties are packed
    as they come, so no row's dict outlives its call).  ``idx`` holds each row's label-set
    index into the ``labelsets`` later given to :meth:`nodes_op` / :meth:`edges_op`."""

    def __init__(self):
        from array import array
        self.idx = array("I")
        self.srcs = array("Q")
        self.dsts = array("Q")
        self.props: list = []

    def __len__(self) -> int:
        return len(self.idx)

    def add_node(self, labelset: int, props: dict) -> None:
        self.idx.append(labelset)
        self.props.append(pack(props) if props else b"")

    def add_edge(self, labelset: int, src: int, dst: int, props: dict) -> None:
        """TypeError/OverflowError for endpoints that are not ids (the columns are then
        inconsistent: the caller abandons the transaction)."""
        self.srcs.append(src)
        self.dsts.append(dst)
        self.idx.append(labelset)
        self.props.append(pack(props) if props else b"")

    def extend(self, labelsets, props: list, srcs=None, dsts=None) -> None:
        """Append many rows at once (columnar ingest): ``labelsets`` an array('I') of label-set
        indexes, ``props`` the rows' packed property maps (pack_props' bytes, as native/ingest.c
        writes them), ``srcs``/``dsts`` array('Q') of endpoints for edges."""
        self.idx.extend(labelsets)
        self.props.extend(props)
        if srcs is not None:
            self.srcs.extend(srcs)
            self.dsts.extend(dsts)

    def _blob(self):
        from array import array
        from itertools import accumulate
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, self.props)))
        return b"".join(self.props), offs

    def nodes_op(self, first: int, labelsets: list) -> list:
        """Create nodes first, first+1, ... with these columns: a NODES_COLS op (the property
        maps as one blob with offsets, checked and indexed by C at prepare and apply; the
        NODES_BULK form, a list of one bytes object per row, is still read from older logs)."""
        blob, offs = self._blob()
        return op_nodes_cols(first, labelsets, self.idx, blob, offs)

    def edges_op(self, first: int, labelsets: list) -> list:
        """Create edges first, first+1, ... with these columns: an EDGES_COLS op (see nodes_op)."""
        blob, offs = self._blob()
        return op_edges_cols(first, labelsets, self.idx, self.srcs, self.dsts, blob, offs)


def op_nodes_cols(first: int, labelsets: list, idx, blob: bytes, offs) -> list:
    """Create nodes first, first+1, ...: label-set index ``idx[i]`` (array('I')) into
    ``labelsets``, property map ``blob[offs[i]:offs[i+1]]`` (offs: array('Q'), n + 1 entries;
    each map as pack_props writes it).  No Python object per row (bulk ingest)."""
    return [NODES_COLS, first, [sorted(ls) for ls in labelsets], idx.tobytes(), bytes(blob), offs.tobytes()]


def op_edges_cols(first: int, labelsets: list, idx, srcs, dsts, blob: bytes, offs) -> list:
    """Create edges first, first+1, ... (as op_nodes_cols, with endpoints array('Q'))."""
    return [EDGES_COLS, first, [sorted(ls) for ls in labelsets], idx.tobytes(), srcs.tobytes(), dsts.tobytes(),
            bytes(blob), offs.tobytes()]


def makes_rows(op: list) -> bool:
    """Whether ``op`` creates nodes or edges from columns (a bulk op)."""
    return op[0] in (NODES_COLS, EDGES_COLS, NODES_BULK, EDGES_BULK)


def cols_ops(ids: list, labels: list, packed: list, srcs=None, dsts=None, runs=None) -> list:
    """The ops creating new nodes (or, given ``srcs`` and ``dsts``, edges) ``ids[i]`` with label
    set ``labels[i]`` and property map ``packed[i]`` (pack_props' bytes), ids ascending: one
    NODES_COLS / EDGES_COLS op per run of consecutive ids, so that a transaction's new rows
    reach the log, prepare and apply as columns (checked, indexed and installed by C, no Python
    object per row).  Each run's columns are appended to ``runs`` (if given) as ``(first,
    label sets, idx array('I'), blob, offs array('Q'))`` for nodes, with ``srcs, dsts``
    (array('Q')) before ``blob`` for edges: the schema check reads them.  InternalError if the
    ids are not ascending.  O(rows)."""
    from array import array
    from itertools import accumulate
    out = []
    n, start = len(ids), 0
    while start < n:
        end = start + 1
        while end < n and ids[end] == ids[end - 1] + 1:
            end += 1
        if end < n and ids[end] <= ids[end - 1]:
            raise InternalError("lpgdb built a commit whose new ids are not ascending; nothing was "
                                "written. This is a bug: please report it")
        labs = labels[start:end]
        if labs.count(labs[0]) == len(labs):        # one label set (the usual transaction)
            numbers = {labs[0]: 0}
            idx = array("I", bytes(4 * len(labs)))
        else:
            numbers = {}
            idx = array("I", [numbers.setdefault(ls, len(numbers)) for ls in labs])
        maps = packed[start:end]
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, maps)))
        blob = b"".join(maps)
        if srcs is None:
            out.append(op_nodes_cols(ids[start], list(numbers), idx, blob, offs))
            cols = (ids[start], list(numbers), idx, blob, offs)
        else:
            sa, da = array("Q", srcs[start:end]), array("Q", dsts[start:end])
            out.append(op_edges_cols(ids[start], list(numbers), idx, sa, da, blob, offs))
            cols = (ids[start], list(numbers), idx, sa, da, blob, offs)
        if runs is not None:
            runs.append(cols)
        start = end
    return out


def op_attach(desc: dict) -> list:
    """The one op of a bulk attach record (storage/attach.py has its fields and rules)."""
    return [ATTACH, desc]


def encode_commit(commit_ns: int, ops: list) -> bytes:
    return pack([FORMAT, commit_ns, ops])


def decode_commit(payload: bytes, *, path: str | None = None, offset: int | None = None):
    """Return ``(commit_ns, ops)``; anything malformed is a CorruptionError."""
    rec = unpack(payload, what="commit record", path=path, offset=offset)
    if not (isinstance(rec, list) and len(rec) == 3 and rec[0] == FORMAT and isinstance(rec[2], list)):
        raise CorruptionError("malformed commit record", path=path, offset=offset)
    return rec[1], rec[2]

"""Schema checks over a bulk load's columns, decided per group of like rows (issue 11).

``certainly_valid(gt, view, node_batches, edge_batches, first_node)`` answers True only when the
loaded rows certainly introduce no violation of ``gt``; the load then logs them as columnar ops.
False means "cannot tell here": the caller validates the rows the transactional way
(validate.py), so the verdict and every ``Violation`` record are those of the row path, exactly.
This is the interim entry point of the vectorized validator (issue 11 items 2 and 4, owned by
the schema package); it covers what bulk loads mostly meet, and says False for the rest.

``scan_stored(validator, view)`` is the vectorized full validation of stored data (set_schema,
check) and ``index_keys`` the KEY index build's keys: rows grouped in C by signature
(core.Groups), decided once per group (see ``scan_stored``).

How it decides (exact, never a guess):
  - Rows are grouped by label set and by which property columns hold a value.  A column's values
    are represented by witnesses: for integers its minimum and maximum, for other kinds one value
    of the kind (a shape's acceptance of a float, string, boolean, bytes or date does not depend
    on the value; of an integer only through a range, which holds every value between two it
    holds).  A group passes STRICT typing when one candidate shape accepts both witness records:
    then that shape accepts every row of the group.  Columns of mixed Python values (msgpack
    cells) have no witness: False.
  - Edges are grouped by label set, columns, and the groups of their endpoints (all endpoints
    must be new nodes of the load); an edge group passes when one candidate edge type accepts the
    witness records and one source shape and one target shape accept both witnesses of the
    endpoint groups.
  - Constraints: only KEY-like ones (node scope given by a label or a node type, no WHERE, the
    descriptor a tuple of one property of x, no pattern, no COUNT): the scope of a group is
    decided like typing (in for every row, or out for every row because no shape of the type
    takes its labels); MANDATORY needs the property in every in-scope row; EXCLUSIVE: no key
    twice among the new rows (a C hash set over the column) and none held by a stored node
    (one batched index probe).  Any other constraint: False.
Complexity: O(rows) in C plus O(groups * candidate shapes) in Python; O(rows) Python only for
columns with missing values (the group of each row) and for the stored-key probe.
"""
from __future__ import annotations

import datetime as _dt
from array import array
from itertools import compress
from typing import Dict, List, Optional, Sequence, Tuple

from .. import core
from ..values import comparable
from .graphtype import GraphType

__all__ = ["certainly_valid", "scan_stored"]

_WITNESS = {"float": 0.5, "bool": True, "str": "x", "bytes": b"x", "date": _dt.date(2000, 1, 1)}


def _bits(col) -> Optional[memoryview]:
    return None if col.valid is None else memoryview(col.valid).cast("B")


def _present(col, i: int, bits) -> bool:
    j = col.offset + i
    return bool(bits[j >> 3] >> (j & 7) & 1)


def _int_range(col) -> Optional[Tuple[int, int]]:
    """(min, max) of an int/uint column's values, or None if it holds none."""
    arr = _arr("q" if col.kind == "int" else "Q", col)
    bits = _bits(col)
    if bits is None or col.count() == col.n:
        vals = arr
    else:
        vals = [v for i, v in enumerate(arr) if _present(col, i, bits)]
    return (min(vals), max(vals)) if len(vals) else None


class _Groups:
    """Rows of one batch grouped by (label-set index, mask of the columns holding a value)."""

    def __init__(self, batch):
        self.names = [name for name, _c in batch.columns]
        self.full = (1 << len(self.names)) - 1
        sparse = [(k, c, _bits(c)) for k, (_n, c) in enumerate(batch.columns)
                  if c.valid is not None and c.count() != c.n]
        if not sparse:
            self.key_of_row = None          # one mask for all rows: the group is the label set
            self.keys = [(li, self.full) for li in sorted(set(batch.lset))]
        else:                               # O(rows) in Python: only when a column has gaps
            rows = []
            for i in range(batch.n):
                m = self.full
                for k, c, bits in sparse:
                    if not _present(c, i, bits):
                        m &= ~(1 << k)
                rows.append((batch.lset[i], m))
            self.key_of_row = rows
            self.keys = list(dict.fromkeys(rows))

    def row_keys(self, batch) -> list:
        return self.key_of_row if self.key_of_row is not None else [(li, self.full) for li in batch.lset]


def _arr(code: str, col) -> array:
    """The column's values [offset, offset + n) as an array."""
    size = array(code).itemsize
    out = array(code)
    out.frombytes(memoryview(col.values).cast("B")[size * col.offset:size * (col.offset + col.n)])
    return out


def _witnesses(batch) -> Optional[List[Tuple[str, object, object]]]:
    """(name, low witness, high witness) per column, or None when a column has none."""
    out = []
    for name, col in batch.columns:
        if col.kind in ("int", "uint"):
            r = _int_range(col)
            if r is None:
                r = (0, 0)
            out.append((name, r[0], r[1]))
        elif col.kind in _WITNESS:
            w = _WITNESS[col.kind]
            out.append((name, w, w))
        else:
            return None
    return out


def _records(wit, mask: int) -> Tuple[dict, dict]:
    lo = {name: a for k, (name, a, _b) in enumerate(wit) if mask >> k & 1}
    hi = {name: b for k, (name, _a, b) in enumerate(wit) if mask >> k & 1}
    return lo, hi


def _node_shape(gt: GraphType, labels, lo: dict, hi: dict):
    """A concrete candidate shape accepting both witness records, or None."""
    for _t, s in gt.concrete_node_candidates(labels):
        if s.record_ok(lo) and s.record_ok(hi):
            return s
    return None


def _simple_key(c) -> bool:
    return (not c.edge_scope and c.where is None and not c.has_pattern and not c.count_vars
            and c.prop_keys is not None and len(c.prop_keys) == 1 and not c.boolean
            and c.scope[0] in ("label", "type"))


def _in_scope(c, labels, lo: dict, hi: dict) -> Optional[bool]:
    """True: every row of the group is in c's scope; False: none is; None: cannot tell."""
    if c.scope[0] == "label":
        return c.scope[1] in labels
    t = c.scope[1]
    shapes = t.shapes_for(labels)
    if not shapes:
        return False
    for s in shapes:
        if s.record_ok(lo) and s.record_ok(hi):
            return True
    return None


def certainly_valid(gt: GraphType, view, node_batches: Sequence, edge_batches: Sequence, first_node: int) -> bool:
    """True only if loading the batches (new nodes from ``first_node`` on, in order, then the
    edges) introduces no violation of ``gt``.  See the module docstring."""
    cons = list(gt.constraints)
    if not all(_simple_key(c) for c in cons):
        return False
    # ---- nodes: groups, typing, scope ----
    node_group_of: List[Tuple[int, int, dict, int]] = []    # per batch: (first id, n, {key: shape}, batch idx)
    witness_of: Dict[Tuple[int, tuple], Tuple[dict, dict]] = {}
    in_scope: Dict[Tuple[str, int, tuple], bool] = {}
    nid = first_node
    groupings = []
    for bi, b in enumerate(node_batches):
        wit = _witnesses(b)
        if wit is None:
            return False
        g = _Groups(b)
        groupings.append(g)
        for key in g.keys:
            labels = b.labelsets[key[0]]
            lo, hi = _records(wit, key[1])
            witness_of[(bi, key)] = (labels, lo, hi)
            if gt.strict and _node_shape(gt, labels, lo, hi) is None:
                return False
            for c in cons:
                r = _in_scope(c, labels, lo, hi)
                if r is None:
                    return False
                in_scope[(c.name, bi, key)] = r
                if r and c.min >= 1 and c.prop_keys[0] not in lo:
                    return False                         # MANDATORY, and a row lacks the key
                if r and c.max is not None and c.max < 1:
                    return False
        node_group_of.append((nid, b.n, bi))
        nid += b.n
    last_node = nid
    # ---- EXCLUSIVE keys: among the new rows, and against stored nodes ----
    for c in cons:
        if not c.exclusive:
            continue
        key = c.prop_keys[0]
        kinds = set()
        seen: Optional[core.IdMap] = None
        probes: List[tuple] = []
        stored = view.node_count() > 0
        for bi, b in enumerate(node_batches):
            g = groupings[bi]
            flags = {k: in_scope[(c.name, bi, k)] for k in g.keys}
            if not any(flags.values()):
                continue
            col = next((cl for name, cl in b.columns if name == key), None)
            if col is None:
                continue                                # no row has the key: nothing to compare
            if col.kind not in ("int", "str") or col.offset:
                return False
            kinds.add(col.kind)
            if len(kinds) > 1:
                return False
            if seen is None:
                seen = core.IdMap(col.kind == "int")
            if all(flags.values()) and col.count() == col.n:
                keys = None                              # every row, every key: the column as it is
                n, vals, data = b.n, col.values, col.data if col.kind == "str" else None
            else:                                        # the in-scope rows holding a key (per row)
                rows = [i for i, k in enumerate(g.row_keys(b)) if flags[k]]
                keys = _values(col, rows)
                n, vals, data = _column_of(col.kind, keys)
            try:
                seen.put_column(col.kind, n, None, vals, data, 0)
            except core.InputFault:
                return False                             # a key twice: the row path says how
            if stored:
                probes.extend((v,) for v in (keys if keys is not None else _values(col, range(b.n))))
        if probes and any(view.untouched_key_nodes(c.name, probes)):
            return False
    # ---- edges ----
    if not edge_batches:
        return True
    if not gt.strict:
        return True
    if any(len(b.src) and (min(b.src) < first_node or min(b.dst) < first_node) for b in edge_batches):
        return False                                    # an existing endpoint: the row path decides
    one_group = len(witness_of) == 1
    if one_group:
        ((_, only),) = witness_of.items()
    else:
        # node id -> its group key, as an array of group numbers
        numbers = {k: i for i, k in enumerate(witness_of)}
        group_no = array("I")
        for (_start, _n, bi), g in zip(node_group_of, groupings):
            group_no.extend(numbers[(bi, k)] for k in g.row_keys(node_batches[bi]))
        info = list(witness_of.values())
    checked: Dict[tuple, bool] = {}
    for b in edge_batches:
        wit = _witnesses(b)
        if wit is None:
            return False
        g = _Groups(b)
        if one_group:
            pairs = {(k, 0, 0) for k in g.keys}
        else:
            rows = g.row_keys(b)
            pairs = {(k, group_no[s - first_node], group_no[d - first_node]) for k, s, d in zip(rows, b.src, b.dst)}
        for k, sg, dg in pairs:
            if (id(b), k, sg, dg) in checked:
                continue
            labels = b.labelsets[k[0]]
            lo, hi = _records(wit, k[1])
            src = only if one_group else info[sg]
            dst = only if one_group else info[dg]
            if not _edge_ok(gt, labels, lo, hi, src, dst):
                return False
            checked[(id(b), k, sg, dg)] = True
    return True


def _both(shapes, node) -> bool:
    labels, lo, hi = node
    return any(s.matches(labels, lo) and s.matches(labels, hi) for s in shapes)


def _edge_ok(gt: GraphType, labels, lo: dict, hi: dict, src, dst) -> bool:
    for t, s in gt.concrete_edge_candidates(labels):
        if s.record_ok(lo) and s.record_ok(hi) and _both(t.source, src) and _both(t.target, dst):
            return True
    return False


def _values(col, rows) -> list:
    """The key values (int or str) of ``rows`` that hold one."""
    bits = _bits(col)
    if col.kind == "int":
        vals = _arr("q", col)
        return [vals[i] for i in rows if bits is None or _present(col, i, bits)]
    offs = array("q")
    offs.frombytes(memoryview(col.values).cast("B")[:8 * (col.n + 1)])
    data = bytes(col.data)
    return [data[offs[i]:offs[i + 1]].decode("utf-8") for i in rows if bits is None or _present(col, i, bits)]


def _column_of(kind: str, values: list):
    """(n, values buffer, data) of a list of ints or strs in the C ID maps' column form."""
    if kind == "int":
        return len(values), array("q", values).tobytes(), None
    encoded = [v.encode("utf-8") for v in values]
    offs = array("q", [0])
    for e in encoded:
        offs.append(offs[-1] + len(e))
    return len(values), offs.tobytes(), b"".join(encoded)


# ---- stored data: a full validation over grouped rows (validate.validate_stored) -------------

_NONE = 0xFFFFFFFF
_ONLY_ONES = bytes.maketrans(b"\x02\x03", b"\x00\x00")
_I64 = 2 ** 63


def _int_cuts() -> Optional[List[int]]:
    """The cut points between which every integer value type's acceptance is constant: each
    integer type's lo and hi + 1 (shapes' types are these or their intersections, whose bounds
    are theirs).  Above int64 only 2**63 and 2**64 may occur (C classes those values apart);
    None if another does (then no grouping)."""
    from .types import VALUE_TYPES
    cuts = set()
    for t in VALUE_TYPES.values():
        if t.kind == "int":
            cuts.update((t.lo, t.hi + 1))
    if any(c >= _I64 and c not in (_I64, 2 * _I64) for c in cuts) or any(c < -_I64 for c in cuts):
        return None
    return sorted(c for c in cuts if -_I64 < c < _I64)


def _firsts(gids, start: int, count: int) -> Dict[int, int]:
    """{group: index of its first row in gids} for the groups numbered start..count-1 (new in
    this chunk: they first appear here, in order)."""
    if count - start <= 32:
        return {g: gids.index(g) for g in range(start, count)}
    out: Dict[int, int] = {}
    for i, g in enumerate(gids):
        if g >= start and g not in out:
            out[g] = i
            if len(out) == count - start:
                break
    return out


def _node_scope(c, labels, props) -> bool:
    scope = c.scope
    if scope[0] == "type":
        return scope[1].conforms(labels, props)
    if scope[0] == "any":
        return True
    from .constraints import eval_node_labels
    return eval_node_labels(scope, labels, props)


class _KeyScan:
    """One node-scoped constraint whose descriptor is the node's own properties, over the
    node chunks: per group, whether it is in scope and holds the key; per row, only what the
    groups cannot settle (a WHERE, a key of several properties, key uniqueness)."""

    def __init__(self, c, limit):
        self.c = c
        self.limit = limit
        self.scope: List[bool] = []          # group -> every row of it is in scope (no WHERE yet)
        self.has: List[bool] = []            # group -> its rows hold the key (all of them)
        self.bounds: list = []               # (nid, n, "least" | "most"), node order
        self.dups: list = []                 # (culprit, first holder, tuple or None), node order
        self.seen = core.Groups()            # key bytes -> a number, in C
        self.holder = array("Q")             # key number -> its first holder
        self.by_value: Dict[tuple, int] = {}
        self.holders: Dict[tuple, int] = {}  # the per-row path's
        c = self.c
        self.per_row = c.where is not None or len(c.prop_keys) != 1

    def add_groups(self, reps) -> None:
        c = self.c
        for labels, props in reps[len(self.scope):]:
            self.scope.append(labels is not None and _node_scope(c, labels, props))
            self.has.append(all(props.get(k) is not None for k in c.prop_keys))

    def chunk(self, v, ids, gids, blob, offs, labelsets, lsets, decode) -> None:
        c, limit, scope = self.c, self.limit, self.scope
        if not any(scope[g] for g in set(gids)):
            return
        if self.per_row:
            st = (self.bounds, self.dups, self.holders)
            for i, g in enumerate(gids):
                if scope[g]:
                    v._scan_constraint(c, st, ids[i], labelsets[lsets[i]], decode(blob[offs[i]:offs[i + 1]]))
            return
        has, bounds = self.has, self.bounds
        bad = {g for g in set(gids) if scope[g] and (has[g] < c.min or (c.max is not None and has[g] > c.max))}
        if bad and (limit is None or len(bounds) < limit):
            for i, g in enumerate(gids):
                if g in bad:
                    n = 1 if has[g] else 0
                    if n < c.min and (limit is None or len(bounds) < limit):
                        bounds.append((ids[i], n, "least"))
                    if c.max is not None and n > c.max and (limit is None or len(bounds) < limit):
                        bounds.append((ids[i], n, "most"))
        if not c.exclusive:
            return
        mask = bytes(1 if s and h else 0 for s, h in zip(scope, has))
        keys, koffs, flags = core.rows_key(blob, offs, gids, mask, c.prop_keys[0])
        dups, holder, seen = self.dups, self.holder, self.seen
        before = seen.count
        kg = seen.keys(keys, koffs, flags)
        if seen.count - before == flags.count(1):       # no key twice: C said so
            holder.extend(compress(ids, flags.translate(_ONLY_ONES)))
        else:
            for i, g in enumerate(kg):
                if g == _NONE:
                    continue
                if g == len(holder):                   # numbered in order of first appearance
                    holder.append(ids[i])
                elif limit is None or len(dups) < limit:
                    dups.append((ids[i], holder[g], None))
        if 2 in flags:                                  # kinds C leaves to Python: GQL-equality forms
            for i, f in enumerate(flags):
                if f == 2:
                    nid = ids[i]
                    t = (comparable(decode(blob[offs[i]:offs[i + 1]])[c.prop_keys[0]]),)
                    first = self.by_value.setdefault(t, nid)
                    if first != nid and (limit is None or len(dups) < limit):
                        dups.append((nid, first, t))
        # 3: NaN, equal to nothing

    def report(self, v) -> None:
        c = self.c
        for nid, n, which in self.bounds:
            kind = c.min_kind if which == "least" else "participation_max"
            v.report(kind, "node", nid, c.name, v._bound_message(c, v.node(nid), n, which))
        for culprit, other, t in self.dups:
            if t is None:
                t = tuple(comparable(v.node(culprit).properties[k]) for k in c.prop_keys)
            v._duplicate(c, culprit, other, t)


def scan_stored(v, view) -> bool:
    """A full validation of the stored graph ``view`` (a storage GraphView) into the validator
    ``v`` (validate._Validator: its element-by-element checks and reports), giving exactly the
    violations, in the order, of typing every node, then every edge, then checking every
    constraint element by element.  False (nothing done) when the rows cannot be grouped.

    How: the nodes are read in chunks (one native call each) and numbered in C by signature
    (label set; each property's key and value class, integers by the interval of the value
    types' bounds that holds them), so the rows of a group are alike for every shape: STRICT
    typing, and a constraint's scope and key presence, are decided once per group, on its first
    row.  Only the rows of failing groups go through the element-by-element check (and the
    validator stops once it has its limit).  Edges likewise, grouped with their endpoints'
    groups.  KEY/EXCLUSIVE uniqueness: canonical key bytes from C (core.rows_key) into one dict.
    A constraint with a WHERE or several key properties evaluates its in-scope rows one by one;
    every other constraint (patterns, COUNT, edge scopes) runs element by element after.
    Complexity: O(nodes + edges) in C, O(groups) decodes and shape checks, O(in-scope rows) dict
    operations per EXCLUSIVE constraint; memory O(chunk + nodes) (node groups by id, keys)."""
    cuts = _int_cuts()
    if cuts is None:
        return False
    gt, limit = v.gt, v.limit
    strict = gt.strict
    labelsets, type_labels, decode = view.labelsets, view.type_labels, view.decode_props
    scans = [_KeyScan(c, limit) for c in gt.constraints if not c.edge_scope and c.prop_keys is not None]
    groups = core.Groups(cuts)
    reps: List[tuple] = []                   # node group -> (labels, props) of its first row
    typed: List[bool] = []                   # node group -> STRICT typing passes
    all_ids, all_gids = array("Q"), array("I")
    cands = gt.concrete_node_candidates
    for ids, lsets, blob, offs in view.node_chunks():
        gids = groups.rows(blob, offs, lsets)
        start = len(reps)
        for g, i in sorted(_firsts(gids, start, groups.count).items()):
            labels = labelsets[lsets[i]] if lsets[i] != _NONE else None
            props = decode(blob[offs[i]:offs[i + 1]])
            reps.append((labels, props))
            typed.append(labels is not None and any(s.record_ok(props) for _t, s in cands(labels)))
        if strict:
            all_ids.extend(ids)
            all_gids.extend(gids)
            if not all(typed[g] for g in set(gids)):
                for i, g in enumerate(gids):
                    if not typed[g] and lsets[i] != _NONE:
                        v.type_node(v.node(ids[i]))
        for s in scans:
            s.add_groups(reps)
            s.chunk(v, ids, gids, blob, offs, labelsets, lsets, decode)
    if strict and all_ids:
        node_group = array("I", [_NONE]) * (all_ids[-1] + 1)
        core.u32_scatter(node_group, all_ids, all_gids)
        del all_ids, all_gids
        middles, triples = core.Groups(cuts), core.Groups()
        ok: List[bool] = []
        for ids, types, srcs, dsts, blob, offs in view.edge_chunks():
            tg = triples.triples(middles.rows(blob, offs, types), srcs, dsts, node_group)
            for g, i in sorted(_firsts(tg, len(ok), triples.count).items()):
                probe = type(v)(gt, v.view)          # does typing this edge report anything?
                probe.type_edge(v.edge(ids[i]))
                ok.append(not probe.out and not probe._consequences)
            if not all(ok[g] for g in set(tg)):
                for i, g in enumerate(tg):
                    if not ok[g] and types[i] != _NONE:
                        v.type_edge(v.edge(ids[i]))
    by_c = {id(s.c): s for s in scans}
    for c in gt.constraints:
        s = by_c.get(id(c))
        if s is not None:
            s.report(v)
        else:
            v.check_constraint(c, None)
    return True


_TO_PYTHON = bytes.maketrans(b"\x03", b"\x02")


def index_keys(spec, labelsets, lsets, blob: bytes, offs):
    """``IndexSpec.key_rows``: the scope decided per group of like rows (as ``scan_stored``),
    the key bytes read by C (core.rows_key); a NaN (flag 3) goes to ``key_of`` (flag 2), which
    says why it cannot be a key.  None for a WHERE or a key of several properties."""
    c = spec.constraint
    if c.where is not None or c.prop_keys is None or len(c.prop_keys) != 1:
        return None
    cuts = _int_cuts()
    if cuts is None:
        return None
    groups = core.Groups(cuts)
    gids = groups.rows(blob, offs, lsets)
    mask = bytearray(groups.count)
    for g, i in _firsts(gids, 0, groups.count).items():
        if lsets[i] != _NONE:
            labels = labelsets[lsets[i]]
            mask[g] = _node_scope(c, labels, _props(blob[offs[i]:offs[i + 1]]))
    keys, koffs, flags = core.rows_key(blob, offs, gids, bytes(mask), c.prop_keys[0])
    return keys, koffs, flags.translate(_TO_PYTHON)


def _props(data: bytes):
    from ..storage.view import GraphView
    return GraphView.decode_props(data)

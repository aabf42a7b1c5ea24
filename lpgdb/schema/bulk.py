"""Schema checks over a bulk load's columns, decided per group of like rows (issue 11).

``certainly_valid(gt, view, node_batches, edge_batches, first_node)`` answers True only when the
loaded rows certainly introduce no violation of ``gt``; the load then logs them as columnar ops.
False means "cannot tell here": the caller validates the rows the transactional way
(validate.py), so the verdict and every ``Violation`` record are those of the row path, exactly.
This is the interim entry point of the vectorized validator (issue 11 items 2 and 4, owned by
the schema package); it covers what bulk loads mostly meet, and says False for the rest.

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
from typing import Dict, List, Optional, Sequence, Tuple

from .. import core
from .graphtype import GraphType

__all__ = ["certainly_valid"]

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

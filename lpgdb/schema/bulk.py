"""The vectorized schema validator (issue 11 items 2 and 4): rows grouped in C, decided per group.

Rows (a bulk load's packed batches, or stored nodes and edges read a chunk at a time) are
numbered in C by *signature* (core.Groups, native/scan.c): the label set and, for each property,
its key and the class of its value (its kind; for an integer, the interval between the bounds of
the integer value types that holds it).  Rows with one signature are accepted by exactly the same
shapes, so STRICT typing, a constraint's scope and whether a row holds a key are decided once per
group, on its first row (exact: never a guess).  Edges are grouped with their endpoints' groups.
Key uniqueness compares canonical key bytes made in C (core.rows_key) in a C set (Groups.keys).

``certainly_valid(gt, view, node_batches, edge_batches, first_node)`` (bulk loads) answers True
only when the loaded rows certainly introduce no violation of ``gt``; the load then logs them as
columnar ops.  False means "cannot tell here": the caller validates the rows the transactional
way (validate.py), so the verdict and every ``Violation`` record are those of the row path.  It
covers STRICT typing (new endpoints only), KEY/EXCLUSIVE/MANDATORY/SINGLETON over the node's own
properties without a WHERE (uniqueness within the load in C, against stored nodes by one batched index probe) and
participation over one edge step (MANDATORY / SINGLETON / COUNT OF the far end or the edge: the
new nodes' degrees over the new edges); any other constraint, a key value C does not
canonicalise, or an edge to a stored node: False.

``scan_stored(validator, view)`` (set_schema, check) is the full validation of stored data,
writing exactly the row path's violations (see there); ``index_keys`` gives the KEY index
build's keys a chunk at a time (``IndexSpec.key_rows``).
Complexity: O(rows + bytes) in C, O(groups) decodes and shape checks in Python.
"""
from __future__ import annotations

from array import array
from itertools import accumulate, compress
from typing import Dict, List, Optional, Sequence, Tuple

from .. import core
from ..values import comparable
from .graphtype import GraphType

__all__ = ["certainly_valid", "scan_stored"]

def _simple_key(c) -> bool:
    return (not c.edge_scope and c.where is None and not c.has_pattern and not c.count_vars
            and c.prop_keys is not None and 1 <= len(c.prop_keys) <= _MAX_PARTS and not c.boolean
            and c.scope[0] in ("label", "type"))


def _tags(batch, numbers: Dict[frozenset, int], sets: List[frozenset]) -> array:
    """The batch's label set numbers in one numbering shared by every batch of the load."""
    local = []
    for labels in batch.labelsets:
        k = numbers.get(labels)
        if k is None:
            k = numbers[labels] = len(sets)
            sets.append(labels)
        local.append(k)
    if local == list(range(len(local))):
        return batch.lset if batch.lset.typecode == "I" else array("I", batch.lset)
    return array("I", map(local.__getitem__, batch.lset))


def certainly_valid(gt: GraphType, view, node_batches: Sequence, edge_batches: Sequence, first_node: int) -> bool:
    """True only if loading the batches (new nodes from ``first_node`` on, in order, then the
    edges) introduces no violation of ``gt``.  See the module docstring."""
    cons = [c for c in gt.constraints if _simple_key(c)]
    degree = [(c, _degree_form(c)) for c in gt.constraints if not _simple_key(c)]
    if any(f is None for _c, f in degree):
        return False
    cuts = _int_cuts()
    if cuts is None:
        return False
    from ..storage.view import GraphView
    decode, strict = GraphView.decode_props, gt.strict
    cands = gt.concrete_node_candidates
    numbers: Dict[frozenset, int] = {}
    sets: List[frozenset] = []
    groups = core.Groups(cuts)
    reps: List[tuple] = []                      # node group -> (labels, props) of its first row
    keyed = {id(c): bytearray() for c in cons}  # node group -> in c's scope and holding its key
    seen = {id(c): core.Groups() for c in cons if c.exclusive}
    probes: Dict[int, list] = {id(c): [] for c in cons if c.exclusive}
    stored = view.node_count() > 0
    node_gids = array("I")
    for b in node_batches:
        blob, offs = b.props()
        tags = _tags(b, numbers, sets)
        gids = groups.rows(blob, offs, tags)
        for g, i in sorted(_firsts(gids, len(reps), groups.count).items()):
            labels, props = sets[tags[i]], decode(blob[offs[i]:offs[i + 1]])
            if strict and not any(sh.record_ok(props) for _t, sh in cands(labels)):
                return False
            reps.append((labels, props))
            for c in cons:
                has = all(props.get(k) is not None for k in c.prop_keys)
                inside = _node_scope(c, labels, props)
                if inside and (has < c.min or (c.max is not None and has > c.max)):
                    return False                # MANDATORY without the key, SINGLETON 0
                keyed[id(c)].append(inside and has)
        node_gids.extend(gids)
        for c in cons:
            if not c.exclusive:
                continue
            keys, koffs, flags = _tuple_keys(blob, offs, gids, bytes(keyed[id(c)]), c.prop_keys)
            if 2 in flags or 3 in flags:
                return False                    # a value C leaves to Python (or NaN): the row path
            k = seen[id(c)]
            before = k.count
            k.keys(keys, koffs, flags)
            if k.count - before != flags.count(1):
                return False                    # a key twice among the new rows
            if stored:
                probes[id(c)].extend(keys[koffs[i]:koffs[i + 1]] for i in compress(range(len(flags)), flags))
    if stored and any(probes.values()):
        committed = getattr(view, "scan_view", lambda: None)()
        if committed is None:
            return False                        # the transaction wrote nodes of its own
        for c in cons:
            if probes.get(id(c)) and max(committed.key_first_bytes(c.name, probes[id(c)])) >= 0:
                return False                    # a key a stored node holds: the row path says how
    if any(len(b.src) and (min(b.src) < first_node or min(b.dst) < first_node) for b in edge_batches):
        return False                            # an existing endpoint: the row path decides
    if degree and not _degrees_ok(degree, reps, node_gids, edge_batches, first_node):
        return False
    if not edge_batches or not strict:
        return True
    node_group = array("I", [_NONE]) * first_node + node_gids
    middles, triples = core.Groups(cuts), core.Groups()
    enumbers: Dict[frozenset, int] = {}
    esets: List[frozenset] = []
    done = 0
    for b in edge_batches:
        blob, offs = b.props()
        tags = _tags(b, enumbers, esets)
        src = b.src if b.src.typecode == "Q" else array("Q", b.src)
        dst = b.dst if b.dst.typecode == "Q" else array("Q", b.dst)
        tg = triples.triples(middles.rows(blob, offs, tags), src, dst, node_group)
        for g, i in sorted(_firsts(tg, done, triples.count).items()):
            top = len(node_group)
            sg = node_group[src[i]] if src[i] < top else _NONE
            dg = node_group[dst[i]] if dst[i] < top else _NONE
            if sg == _NONE or dg == _NONE:
                return False
            (sl, sp), (dl, dp) = reps[sg], reps[dg]
            labels, props = esets[tags[i]], decode(blob[offs[i]:offs[i + 1]])
            if not any(sh.record_ok(props) and any(x.matches(sl, sp) for x in t.source)
                       and any(x.matches(dl, dp) for x in t.target)
                       for t, sh in gt.concrete_edge_candidates(labels)):
                return False
        done = triples.count
    return True


def _degrees_ok(degree, reps, node_gids, edge_batches, first_node: int) -> bool:
    """Participation constraints of ``_degree_form`` on a load whose edges join new nodes only
    (stored nodes keep their edges, and their verdicts): every new node in scope has a degree,
    over the new edges, that settles the bounds (at least 1 under a MANDATORY, at most the
    maximum).  False when one does not (the row path decides).  O(edges) per constraint."""
    n = len(node_gids)
    for c, (direction, label) in degree:
        if c.min > 1:
            return False                        # the degree bounds |D(x)| from above only
        scope = [labels is not None and _node_scope(c, labels, props) for labels, props in reps]
        if not any(scope):
            continue
        deg = array("I", bytes(4 * n))
        for b in edge_batches:
            if label is None:
                rows = None
            else:
                has = [label in ls for ls in b.labelsets]
                if not any(has):
                    continue
                rows = bytes(has[k] for k in b.lset) if not all(has) else None
            ends = ((b.src,) if direction == "out" else (b.dst,) if direction == "in" else (b.src, b.dst))
            for col in ends:
                for x in (col if rows is None else compress(col, rows)):
                    deg[x - first_node] += 1
        lo, hi = c.min, c.max
        for d in compress(deg, map(scope.__getitem__, node_gids)):
            if d < lo or (hi is not None and d > hi):
                return False
    return True


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


def _labels_only(lx) -> bool:
    """A resolved label expression that names no type (decided by the labels alone)."""
    op = lx[0]
    if op in ("label", "any"):
        return True
    if op in ("and", "or"):
        return all(_labels_only(i) for i in lx[1])
    return op == "not" and _labels_only(lx[1])


def _node_scope(c, labels, props) -> bool:
    scope = c.scope
    if scope[0] == "type":
        return scope[1].conforms(labels, props)
    if scope[0] == "any":
        return True
    from .constraints import eval_node_labels
    return eval_node_labels(scope, labels, props)


_MAX_PARTS = 15    # a key of up to 15 properties: a msgpack fixarray header, as records.key_bytes


def _tuple_keys(blob: bytes, offs, gids, mask: bytes, names) -> tuple:
    """``core.rows_key`` for a key of one or more properties: ``(keys, koffs, flags)``, row r's
    key ``keys[koffs[r]:koffs[r+1]]`` when ``flags[r]`` is 1: the canonical key bytes of the
    tuple (records.key_bytes: one msgpack array of the parts' key forms), made from each part's
    key bytes (read by C).  A row's flag is 0 when a part is missing, else its parts' largest: 2
    when C leaves a part to Python, 3 when one is NaN.  O(rows x parts), one native call per part."""
    if len(names) == 1:
        return core.rows_key(blob, offs, gids, mask, names[0])
    parts = [core.rows_key(blob, offs, gids, mask, k) for k in names]
    fl = [f for _k, _o, f in parts]
    flags = bytes(map(max, *fl))
    if 0 in flags or b"\x00" in bytes(map(min, *fl)):      # a part missing: no key
        flags = bytes(map(lambda lo, hi: hi if lo else 0, map(min, *fl), flags))
    head = bytes([0x90 + len(names)])
    # each part's key is the 1-tuple [v] (0x91, then v): the tuple's is the header, then each v
    cols = [map(kb.__getitem__, map(slice, map((1).__add__, ko), ko[1:])) for kb, ko, _f in parts]
    rows = [head + b"".join(t) for t in zip(*cols)]
    koffs = array("Q", [0])
    koffs.extend(accumulate(map(len, rows)))
    return b"".join(rows), koffs, flags


class _KeyScan:
    """One node-scoped constraint whose descriptor is the node's own properties, over the
    node chunks: per group, whether it is in scope and holds the key; per row, only what the
    groups cannot settle (a WHERE; key uniqueness, over key bytes made in C for keys of one or
    several properties)."""

    def __init__(self, c, limit):
        self.c = c
        self.limit = limit
        self.element = "edge" if c.edge_scope else "node"
        self.scope: List[bool] = []          # group -> every row of it is in scope (no WHERE yet)
        self.has: List[bool] = []            # group -> its rows hold the key (all of them)
        self.bounds: list = []               # (nid, n, "least" | "most"), node order
        self.dups: list = []                 # (culprit, first holder, tuple or None), node order
        self.seen = core.Groups()            # key bytes -> a number, in C
        self.holder = array("Q")             # key number -> its first holder
        self.by_value: Dict[tuple, int] = {}
        self.holders: Dict[tuple, int] = {}  # the per-row path's
        c = self.c
        self.per_row = c.where is not None or len(c.prop_keys) > _MAX_PARTS

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
        keys, koffs, flags = _tuple_keys(blob, offs, gids, mask, c.prop_keys)
        dups, holder, seen = self.dups, self.holder, self.seen
        if limit is not None and len(dups) >= limit:
            return
        start, before = len(dups), seen.count
        kg = seen.keys(keys, koffs, flags)
        if seen.count - before == flags.count(1):       # no key twice: C said so
            holder.extend(compress(ids, flags.translate(_ONLY_ONES)))
        else:
            for i, g in enumerate(kg):
                if g == _NONE:
                    continue
                if g == len(holder):                   # numbered in order of first appearance
                    holder.append(ids[i])
                else:
                    dups.append((ids[i], holder[g], None))
        if 2 in flags:                                  # kinds C leaves to Python: GQL-equality forms
            for i, f in enumerate(flags):
                if f == 2:
                    nid = ids[i]
                    props = decode(blob[offs[i]:offs[i + 1]])
                    t = tuple(comparable(props[k]) for k in c.prop_keys)
                    first = self.by_value.setdefault(t, nid)
                    if first != nid:
                        dups.append((nid, first, t))
        # 3: NaN, equal to nothing
        if len(dups) > start:       # the two loops above each go in node order; merge them, then cut
            dups[start:] = sorted(dups[start:], key=lambda d: d[0])
            if limit is not None:
                del dups[limit:]

    def report(self, v) -> None:
        c, element = self.c, self.element
        get = v.edge if element == "edge" else v.node
        for nid, n, which in self.bounds:
            kind = c.min_kind if which == "least" else "participation_max"
            v.report(kind, element, nid, c.name, v._bound_message(c, get(nid), n, which))
        for culprit, other, t in self.dups:
            if t is None:
                t = tuple(comparable(get(culprit).properties[k]) for k in c.prop_keys)
            v._duplicate(c, culprit, other, t)


def _degree_form(c) -> Optional[Tuple[str, Optional[str]]]:
    """``(direction, edge label or None)`` when ``D(x)`` is the distinct far ends, or the
    distinct edges, of one edge step from ``x`` with no other condition (``FOR (x:A) MANDATORY
    y WITHIN (x)-[:R]->(y)``, ``COUNT 0..2 OF y WITHIN (y)-[:R]->(x)``, ``SINGLETON e WITHIN
    (x)-[e:R]-()``): then ``|D(x)|`` is at most x's degree over those edges, and at least 1
    exactly when that degree is.  None otherwise."""
    from . import ast
    if (c.edge_scope or c.exclusive or c.where is not None or c.pattern_where is not None or c.boolean
            or c.count_vars or len(c.nodes) != 2 or len(c.edges) != 1 or len(c.items) != 1
            or not isinstance(c.items[0], ast.Var)):
        return None
    (a, b), e = c.nodes, c.edges[0]
    if a.var == c.var and b.var != c.var:
        me, other, first = a, b, True
    elif b.var == c.var and a.var != c.var:
        me, other, first = b, a, False
    else:
        return None
    if me.labels != ("any",) or other.labels != ("any",) or e.var == c.var:
        return None
    if other.var is not None and other.var == e.var:
        return None
    want = c.items[0].name
    if want is None or want not in (other.var, e.var):
        return None
    if e.labels == ("any",):
        label = None
    elif len(e.labels) == 2 and e.labels[0] == "label":
        label = e.labels[1]
    else:
        return None
    d = e.direction
    if d == "any":
        return "both", label
    if d not in ("out", "in"):
        return None
    return ("out" if (d == "out") == first else "in"), label


class _DegreeScan:
    """A participation constraint of ``_degree_form``, over the node chunks: the in-scope nodes'
    degrees in one native call a chunk; only the nodes whose degree does not settle the bounds
    (a degree of 0 below a minimum, above a maximum; under a minimum of 2 or more, the nodes
    whose distinct edges or far ends, counted from one batched expansion a chunk, break a
    bound) go through the element-by-element check."""

    def __init__(self, c, form):
        self.c, (self.direction, self.label) = c, form
        self.edges = c.items[0].name == c.edges[0].var      # D(x): the edges, not the far ends
        self.scope: List[bool] = []          # group -> every row of it is in scope
        self.suspects: List[int] = []        # node ids, ascending

    def add_groups(self, reps) -> None:
        for labels, props in reps[len(self.scope):]:
            self.scope.append(labels is not None and _node_scope(self.c, labels, props))

    def chunk(self, view, ids, gids) -> None:
        scope = self.scope
        sel = list(compress(ids, map(scope.__getitem__, gids)))
        if not sel:
            return
        c = self.c
        lo, hi = c.min, c.max
        degs = view.degree_many(sel, self.direction, self.label)
        if lo <= 1:
            self.suspects.extend(n for n, d in zip(sel, degs) if d < lo or (hi is not None and d > hi))
            return
        # A minimum of 2 or more: the degree bounds |D(x)| from above only. Below the minimum
        # the node fails (the element-by-element check says how); at or above it, |D(x)| is
        # counted: the distinct edges, or distinct far ends, of one batched expansion.
        out = [n for n, d in zip(sel, degs) if d < lo]
        rest = [n for n, d in zip(sel, degs) if d >= lo]
        if rest:
            nbrs, eids, frm = view.expand(rest, self.direction, self.label)
            count = [0] * len(rest)
            for i, _x in set(zip(frm, eids if self.edges else nbrs)):
                count[i] += 1
            out += [n for n, k in zip(rest, count) if k < lo or (hi is not None and k > hi)]
            out.sort()
        self.suspects.extend(out)

    def report(self, v) -> None:
        if self.suspects:
            v.check_constraint(self.c, self.suspects)


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
    A participation constraint over one edge step (MANDATORY / SINGLETON / COUNT OF the far end
    or the edge) reads the in-scope nodes' degrees (one native call a chunk) and checks element
    by element only the nodes whose degree does not settle it (``_degree_form``); every other
    constraint (longer patterns, edge scopes, WHERE in patterns) runs element by element after.
    Complexity: O(nodes + edges) in C, O(groups) decodes and shape checks, O(in-scope rows) dict
    operations per EXCLUSIVE constraint; memory O(chunk + nodes) (node groups by id, keys)."""
    cuts = _int_cuts()
    if cuts is None:
        return False
    gt, limit = v.gt, v.limit
    strict = gt.strict
    labelsets, type_labels, decode = view.labelsets, view.type_labels, view.decode_props
    scans = [_KeyScan(c, limit) for c in gt.constraints if not c.edge_scope and c.prop_keys is not None]
    # edge scopes decided by the edge's labels alone (no type: that needs the endpoints)
    escans = [_KeyScan(c, limit) for c in gt.constraints
              if c.edge_scope and c.prop_keys is not None and not _KeyScan(c, limit).per_row
              and _labels_only(c.scope)]
    degrees = [_DegreeScan(c, f) for c, f in ((c, _degree_form(c)) for c in gt.constraints) if f is not None]
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
        for d in degrees:
            d.add_groups(reps)
            d.chunk(view, ids, gids)
    typing = strict and len(all_ids) > 0
    if typing or escans:
        if typing:
            node_group = array("I", [_NONE]) * (all_ids[-1] + 1)
            core.u32_scatter(node_group, all_ids, all_gids)
        del all_ids, all_gids
        middles, triples = core.Groups(cuts), core.Groups()
        ok: List[bool] = []
        ereps: List[tuple] = []              # edge middle group -> (labels, props) of its first row
        for ids, types, srcs, dsts, blob, offs in view.edge_chunks():
            mg = middles.rows(blob, offs, types)
            if escans:
                for g, i in sorted(_firsts(mg, len(ereps), middles.count).items()):
                    ereps.append((type_labels[types[i]] if types[i] != _NONE else None,
                                  decode(blob[offs[i]:offs[i + 1]])))
                for s in escans:
                    s.add_groups(ereps)
                    s.chunk(v, ids, mg, blob, offs, None, None, decode)
            if not typing:
                continue
            tg = triples.triples(mg, srcs, dsts, node_group)
            for g, i in sorted(_firsts(tg, len(ok), triples.count).items()):
                probe = type(v)(gt, v.view)          # does typing this edge report anything?
                probe.type_edge(v.edge(ids[i]))
                ok.append(not probe.out and not probe._consequences)
            if not all(ok[g] for g in set(tg)):
                for i, g in enumerate(tg):
                    if not ok[g] and types[i] != _NONE:
                        v.type_edge(v.edge(ids[i]))
    by_c = {id(s.c): s for s in scans + degrees + escans}
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
    says why it cannot be a key.  None for a WHERE."""
    c = spec.constraint
    if c.where is not None or c.prop_keys is None or len(c.prop_keys) > _MAX_PARTS:
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
    keys, koffs, flags = _tuple_keys(blob, offs, gids, bytes(mask), c.prop_keys)
    return keys, koffs, flags.translate(_TO_PYTHON)


def _props(data: bytes):
    from ..storage.view import GraphView
    return GraphView.decode_props(data)

"""Validation of graph data against a resolved GraphType: a whole graph, or one transaction's delta.

Owns: STRICT typing and its diagnosis (SPEC.md §4.7), constraint evaluation (scopes, WHERE,
descriptor sets D(x) over pattern matches, bounds, EXCLUSIVE), the choice of which elements a
write set can have affected, and the wording of every ``Violation``.

The engine calls ``validate_commit(gt, view, ws)`` at commit and ``validate_all(gt, view)`` for
``set_schema`` / ``check``. ``view`` is read-only (node, edge, nodes, edges, edges_of, key_nodes);
nothing here writes or imports the engine.

Invariant (tested by a property test): if the graph conformed before a transaction, then
``validate_commit`` returns no violation exactly when ``validate_all`` on the post-commit graph
returns none. ``validate_commit`` relies on that premise beyond the choice of affected elements:
under STRICT, a node the transaction did not touch conformed to some concrete member type, so an
endpoint check on it may be settled from its labels alone (``GraphType.strict_implies``).

Fast paths (each with a test that it agrees with the general code): the write set's after-images
are read in place of fetched copies; key probes for all written nodes go to the engine in one
batch (``untouched_key_nodes``), and the transaction's own holders are compared here. The optional
view methods (``node_labels``, ``untouched_key_nodes``) and write-set fields have fallbacks.

Cost of ``validate_commit``: proportional to the write set and the neighbourhoods its
constraints' patterns reach, except for constraints whose pattern does not bind the scope
variable (foreign keys) and EXCLUSIVE constraints no hash index backs (edge keys, WITHIN
descriptors): those re-check their whole scope.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ..errors import NotFoundError, Violation
from . import ast
from ..values import comparable
from .constraints import CompiledConstraint, eval_expr, eval_node_labels, required_label
from .bulk import scan_stored
from . import fastpath
from .graphtype import GraphType
from .types import EdgeType

__all__ = ["validate_all", "validate_stored", "validate_commit", "Report"]


class Report:
    """What a full validation found: ``violations`` (the first ``limit`` when it stopped early),
    ``counts`` ({kind: number} of those) and ``complete`` (False when it stopped early)."""

    __slots__ = ("violations", "counts", "complete")

    def __init__(self, violations: List[Violation], complete: bool):
        self.violations = violations
        self.counts: Dict[str, int] = {}
        for v in violations:
            self.counts[v.kind] = self.counts.get(v.kind, 0) + 1
        self.complete = complete


def validate_all(graph_type: GraphType, view) -> List[Violation]:
    """Every violation of ``graph_type`` in the graph ``view`` shows."""
    return validate_stored(graph_type, view).violations


def validate_stored(graph_type: GraphType, view, *, limit: Optional[int] = None) -> Report:
    """A full validation of the graph ``view`` shows, stopping once ``limit`` violations are
    found (None: never). The violations, and their order, are those of the element-by-element
    check (``_Validator.type_node`` / ``type_edge`` / ``check_constraint``: every node typed,
    then every edge, then each constraint) whatever path runs.

    With a reader that offers ``scan_view`` (a snapshot, or a transaction without writes of its
    own), the vectorized validator runs (``bulk.scan_stored``: rows grouped in C by signature,
    typing and key constraints decided per group, uniqueness over C key bytes); only failing
    rows and the constraints it cannot group go element by element."""
    v = _Validator(graph_type, view, limit=limit)
    scan = getattr(view, "scan_view", None)
    stored = scan() if scan is not None else None
    try:
        if stored is None or not scan_stored(v, stored):
            if graph_type.strict:
                for n in view.nodes():
                    v.type_node(n)
                for e in view.edges():
                    v.type_edge(e)
            for c in graph_type.constraints:
                v.check_constraint(c, None)
    except _Enough:
        pass
    return Report(v.finish(), not v.stopped)


def validate_commit(graph_type: GraphType, view, ws, *, fast: bool = True) -> List[Violation]:
    """The violations a transaction's writes ``ws`` introduce; ``view`` is the post-commit state.

    ``ws`` has ``nodes_written``, ``nodes_deleted``, ``edges_written`` (id sets) and
    ``edges_deleted`` (id -> (src, dst, labels)); optionally ``node_images`` / ``edge_images``
    (the after-images: id -> (labels, props) / (labels, src, dst, props), or None when deleted),
    read instead of fetching, and ``first_new_node`` (ids from it on were created by the
    transaction, so their edges are all in ``edges_written``).

    The common commit is accepted by the compiled fast path (``fastpath.accepts``, unless
    ``fast`` is False); whatever it does not accept is checked here, which writes the
    violations."""
    if fast and fastpath.accepts(graph_type, view, ws):
        return []                   # the common commit, decided by the compiled fast path
    v = _Validator(graph_type, view, ws)
    ends = None                 # existing endpoints of written or deleted edges, when needed
    if graph_type.strict:
        node, type_node = v.node, v.type_node
        for nid in ws.nodes_written:
            n = node(nid)
            if n is not None:
                type_node(n)
        first_new = getattr(ws, "first_new_node", None)
        old = ws.nodes_written if first_new is None else [n for n in ws.nodes_written if n < first_new]
        edges = set(ws.edges_written)
        if old:
            edges |= v.incident_edges(old)
        edge, type_edge = v.edge, v.type_edge
        for eid in sorted(edges):
            e = edge(eid)
            if e is not None:
                type_edge(e)
    for c in graph_type.constraints:
        if c.has_pattern and not c.binds_scope_var():
            v.check_constraint(c, None)             # x is correlated only through WHERE: full check
            continue
        # A match is a path of k edges through x. Walking it from x to the first changed element
        # crosses only unchanged edges: a changed edge is at most k-1 edges away (so x is within
        # k-1 of one of its endpoints), a written node at most k.
        k = c.pattern_length() if c.has_pattern else 0
        if not k and not c.edge_scope:
            v.check_constraint(c, ws.nodes_written)     # (it skips the ids of deleted nodes)
            continue
        near = v.within(ws.nodes_written, k)
        if k:
            if ends is None:
                ends = _changed_ends(v, ws)
            near |= v.within(ends, k - 1)
        if c.edge_scope:
            affected = set(ws.edges_written) | v.incident_edges(near)
        else:
            affected = near
        v.check_constraint(c, affected)
    return v.finish()


def _changed_ends(v: "_Validator", ws) -> Set[int]:
    """The existing endpoints of the written and the deleted edges."""
    ends = set()
    for eid in ws.edges_written:
        e = v.edge(eid)
        if e is not None:
            ends.add(e.src)
            ends.add(e.dst)
    for src, dst, _labels in ws.edges_deleted.values():
        ends.update(n for n in (src, dst) if v.node(n) is not None)
    return ends


class _Node:
    """A node of the write set, read from its after-image (the view's Node without the copy)."""
    __slots__ = ("id", "labels", "properties")

    def __init__(self, id: int, labels, properties):
        self.id, self.labels, self.properties = id, labels, properties


class _Edge:
    __slots__ = ("id", "src", "dst", "labels", "properties")

    def __init__(self, id: int, labels, src: int, dst: int, properties):
        self.id, self.labels, self.src, self.dst, self.properties = id, labels, src, dst, properties


_ABSENT = object()


class _Enough(Exception):
    """The validation found its limit of violations."""


class _Validator:
    def __init__(self, gt: GraphType, view, ws=None, limit: Optional[int] = None):
        self.gt = gt
        self.view = view
        self.out: List[Violation] = []
        self.limit = limit
        self.stopped = False
        self._nodes: Dict[int, Any] = {}
        self._edges: Dict[int, Any] = {}
        self._reported: Set[Tuple] = set()
        self._incident: Dict[Tuple, List[Any]] = {}
        self._lx: Dict[Tuple, bool] = {}
        self._conf: Dict[Tuple, bool] = {}
        self._implied: Dict[Tuple, bool] = {}
        self._node_images = getattr(ws, "node_images", None) or {}
        self._edge_images = getattr(ws, "edge_images", None) or {}
        # STRICT and a commit: every node the transaction did not touch conformed before it, so
        # its typing can stand in for its properties (GraphType.strict_implies). None otherwise.
        self._touched = None
        if ws is not None and gt.strict:
            self._touched = (self._node_images if self._node_images
                             else set(ws.nodes_written) | set(ws.nodes_deleted))
        self._labels_of = getattr(view, "node_labels", None)
        # Cascades (issue 13): an edge whose endpoint check fails only because an endpoint node
        # breaks its own type is not reported on its own; node id -> [the edge's violation].
        self._consequences: Dict[int, List[Violation]] = {}
        self._typed: Dict[int, bool] = {}

    # ---- access ----
    def node(self, nid: int):
        n = self._nodes.get(nid, _ABSENT)
        if n is _ABSENT:
            img = self._node_images.get(nid, _ABSENT)
            if img is not _ABSENT:
                n = None if img is None else _Node(nid, img[0], img[1])
            else:
                try:
                    n = self.view.node(nid)
                except (NotFoundError, KeyError):
                    n = None
            self._nodes[nid] = n
        return n

    def edge(self, eid: int):
        e = self._edges.get(eid, _ABSENT)
        if e is _ABSENT:
            img = self._edge_images.get(eid, _ABSENT)
            if img is not _ABSENT:
                e = None if img is None else _Edge(eid, img[0], img[1], img[2], img[3])
            else:
                try:
                    e = self.view.edge(eid)
                except (NotFoundError, KeyError):
                    e = None
            self._edges[eid] = e
        return e

    def incident(self, nid: int, direction: str, label: Optional[str] = None) -> List[Any]:
        key = (nid, direction, label)
        out = self._incident.get(key)
        if out is None:
            out = []
            if self.node(nid) is not None:
                for e in self.view.edges_of(nid, direction, label):
                    self._edges.setdefault(e.id, e)
                    out.append(e)
            self._incident[key] = out
        return out

    def node_lx(self, lx, n) -> bool:
        """A resolved label expression on node ``n``, memoised per validation."""
        if lx[0] == "any":
            return True
        if lx[0] == "label":
            return lx[1] in n.labels
        op = lx[0]
        if op == "type":
            return self.node_conforms(lx[1], n)
        if op == "and":
            return all(self.node_lx(i, n) for i in lx[1])
        if op == "or":
            return any(self.node_lx(i, n) for i in lx[1])
        return not self.node_lx(lx[1], n)          # "not"

    def node_conforms(self, t, n) -> bool:
        """``n`` conforms to node type ``t``, memoised per validation."""
        key = (id(t), n.id)
        r = self._conf.get(key)
        if r is None:
            r = self._conf[key] = t.conforms(n.labels, n.properties)
        return r

    def incident_edges(self, nids: Iterable[int]) -> Set[int]:
        return {e.id for n in nids for e in self.incident(n, "both")}

    def within(self, start: Iterable[int], radius: int) -> Set[int]:
        """Existing nodes at most ``radius`` edges (either direction) from ``start``."""
        seen = {n for n in start if self.node(n) is not None}
        frontier = set(seen)
        for _ in range(radius):
            nxt = set()
            for n in frontier:
                for e in self.incident(n, "both"):
                    for m in (e.src, e.dst):
                        if m not in seen:
                            nxt.add(m)
            seen |= nxt
            frontier = nxt
            if not frontier:
                break
        return seen

    def report(self, kind: str, element: str, eid: Optional[int], type_name: Optional[str], msg: str):
        key = (kind, element, eid, type_name, msg)
        if key not in self._reported:
            self._reported.add(key)
            self.out.append(Violation(kind, element, eid, type_name, msg))
            if self.limit is not None and len(self.out) >= self.limit:
                self.stopped = True
                raise _Enough()

    # ---- per-row constraint evaluation for the vectorized validator (bulk.scan_stored) ----
    def _scan_constraint(self, c: CompiledConstraint, state, nid: int, labels, props) -> None:
        """``check_constraint(c, None)`` for one node of a scan, its reports deferred (they come
        after the typing, as in the element-by-element order): ``state`` is (bounds, duplicates,
        key holders)."""
        scope = c.scope
        if scope[0] == "type":
            if not scope[1].conforms(labels, props):
                return
        elif scope[0] != "any" and not eval_node_labels(scope, labels, props):
            return
        if c.where is not None and eval_expr(c.where, {c.var: ("node", props, nid)}) is not True:
            return
        bounds, dups, holders = state
        limit = self.limit
        t = []
        for k in c.prop_keys:
            v = props.get(k)
            if v is None:
                t = None
                break
            t.append(comparable(v))
        n = 0 if t is None else 1
        if n < c.min and (limit is None or len(bounds) < limit):
            bounds.append((nid, n, "least"))
        if c.max is not None and n > c.max and (limit is None or len(bounds) < limit):
            bounds.append((nid, n, "most"))
        if c.exclusive and t is not None:
            t = tuple(t)
            first = holders.get(t)
            if first is None:
                holders[t] = nid
            elif limit is None or len(dups) < limit:
                dups.append((nid, first, t))

    # ---- STRICT typing ----
    def type_node(self, n) -> None:
        labels, props = n.labels, n.properties
        cands = self.gt.concrete_node_candidates(labels)
        if not cands:
            abstract = [t for t, s in self.gt.node_candidates(labels)
                        if t.abstract and s.matches(labels, props)]
            if abstract:
                self.report("abstract_only", "node", n.id, abstract[0].name,
                            f"{_desc_node(n)}: conforms only to abstract type "
                            f"{', '.join(sorted(t.name for t in abstract))}; a STRICT graph needs a "
                            f"concrete node type")
            else:
                self.report("unknown_label", "node", n.id, None,
                            f"{_desc_node(n)}: no node type of graph type {self.gt.name} has the "
                            f"labels {_labels_text(labels)}")
            return
        for t, s in cands:
            if s.record_ok(props):
                self._conf[(id(t), n.id)] = True
                return
        self._record_failures("node", n, cands)

    def type_edge(self, e) -> None:
        labels, props = e.labels, e.properties
        cands = self.gt.concrete_edge_candidates(labels)
        if len(cands) == 1:                     # the usual case, without the bookkeeping below
            t, s = cands[0]
            if (s.record_ok(props) and self.shapes_ok(t.source, e.src)
                    and self.shapes_ok(t.target, e.dst)):
                return
        if not cands:
            self.report("unknown_label", "edge", e.id, None,
                        f"{_desc_edge(e)}: no edge type of graph type {self.gt.name} has the labels "
                        f"{_labels_text(labels)}")
            return
        middle_ok = [t for t, s in cands if s.record_ok(props)]
        if not middle_ok:
            self._record_failures("edge", e, cands)
            return
        for t in dict.fromkeys(middle_ok):
            if self._endpoints_ok(t, e):
                return
        src, dst = self.node(e.src), self.node(e.dst)
        names = ", ".join(sorted({t.name for t in middle_ok}))
        violation = Violation("bad_endpoint", "edge", e.id, middle_ok[0].name,
                              f"{_desc_edge(e)}: matches {names} but its endpoints ({_desc_node(src)} -> "
                              f"{_desc_node(dst)}) are not of the endpoint types {names} allows")
        roots = self._cascade_roots(e, middle_ok)
        if roots:
            self._consequences.setdefault(roots[0], []).append(violation)
        else:
            self.report(violation.kind, "edge", e.id, violation.type_name, violation.message)

    # ---- cascades ----
    def node_typed(self, nid: int) -> bool:
        """Node ``nid`` exists and conforms to some concrete member node type (STRICT typing)."""
        r = self._typed.get(nid)
        if r is None:
            n = self.node(nid)
            r = n is not None and any(s.record_ok(n.properties)
                                      for _t, s in self.gt.concrete_node_candidates(n.labels))
            self._typed[nid] = r
        return r

    def _cascade_roots(self, e, types) -> List[int]:
        """The endpoint nodes of edge ``e`` whose own typing failure alone explains its failed
        endpoint check: with each such node taken as conforming to a type its labels allow (and
        whose records fit the endpoint spec), some type in ``types`` accepts both endpoints.
        [] when the edge is wrong in its own right."""
        bad = [n for n in dict.fromkeys((e.src, e.dst)) if self.node(n) is not None and not self.node_typed(n)]
        if not bad:
            return []
        for t in dict.fromkeys(types):
            if all(self.shapes_ok(shapes, nid) or (nid in bad and self.gt.could_conform(shapes, self.node(nid).labels))
                   for shapes, nid in ((t.source, e.src), (t.target, e.dst))):
                return bad
        return []

    def finish(self) -> List[Violation]:
        """The violations, with cascades folded into their roots: a node's first violation says
        how many edges fail their endpoint check only because of it. A consequence whose root
        was not reported (not expected: the node was typed) is reported itself."""
        if not self._consequences:
            return self.out
        rooted = {v.id for v in self.out if v.element == "node"}
        for nid, edges in self._consequences.items():
            if nid not in rooted:
                for v in edges:
                    self.report(v.kind, v.element, v.id, v.type_name, v.message)
        out, done = [], set()
        for v in self.out:
            edges = self._consequences.get(v.id) if v.element == "node" and v.id not in done else None
            if edges:
                done.add(v.id)
                ids = ", ".join(str(x.id) for x in edges[:5]) + (", ..." if len(edges) > 5 else "")
                types = ", ".join(sorted({x.type_name for x in edges}))
                v = Violation(v.kind, v.element, v.id, v.type_name,
                              f"{v.message}; so {len(edges)} edge{'s' if len(edges) != 1 else ''} at it "
                              f"({ids}) {'do' if len(edges) != 1 else 'does'} not match the endpoint "
                              f"types of {types}, until it conforms")
            out.append(v)
        self.out = out
        return out

    def _endpoints_ok(self, t: EdgeType, e) -> bool:
        return self.shapes_ok(t.source, e.src) and self.shapes_ok(t.target, e.dst)

    def shapes_ok(self, shapes, nid: int) -> bool:
        """Node ``nid`` exists and matches one of ``shapes`` (an endpoint spec), memoised per
        validation."""
        if self._touched is not None and nid not in self._touched:
            # STRICT commit, node untouched: it conformed before, so its labels may be enough
            if self._labels_of is not None:
                labels = self._labels_of(nid)
            else:
                n = self.node(nid)
                labels = None if n is None else n.labels
            if labels is None:
                return False
            key = (id(shapes), labels)
            r = self._implied.get(key)
            if r is None:
                r = self._implied[key] = self.gt.strict_implies(shapes, labels)
            if r:
                return True
        key = (id(shapes), nid)
        r = self._lx.get(key)
        if r is None:
            n = self.node(nid)
            if n is None:
                r = False
            else:
                labels, props = n.labels, n.properties
                r = any(s.matches(labels, props) for s in shapes)
            self._lx[key] = r
        return r

    def _record_failures(self, element: str, x, cands) -> None:
        desc = _desc_node(x) if element == "node" else _desc_edge(x)
        seen = set()
        for t, s in cands:
            for kind, key in s.record_failures(x.properties):
                if (kind, key) in seen:
                    continue
                seen.add((kind, key))
                if kind == "missing_property":
                    msg = f"{desc}: missing required property {key!r} of {t.name}"
                elif kind == "property_type":
                    rule = s.rule(key)
                    msg = (f"{desc}: property {key!r} = {x.properties[key]!r} is not a "
                           f"{rule.type.describe()} (as {t.name} requires)")
                else:
                    msg = f"{desc}: property {key!r} is not allowed by {t.name} (closed property set)"
                self.report(kind, element, x.id, t.name, msg)

    # ---- constraints ----
    def elements(self, c: CompiledConstraint) -> Iterator[Any]:
        label = required_label(c.scope)
        return self.view.edges(label) if c.edge_scope else self.view.nodes(label)

    def in_scope(self, c: CompiledConstraint, x) -> bool:
        if c.edge_scope:
            if not self.edge_labels_ok(c.scope, x):
                return False
        elif c.scope[0] == "type":              # the usual scope: memoised conformance
            if not self.node_conforms(c.scope[1], x):
                return False
        elif not self.node_lx(c.scope, x):
            return False
        if c.where is not None:
            return eval_expr(c.where, {c.var: self._binding(c.edge_scope, x)}) is True
        return True

    @staticmethod
    def _binding(is_edge: bool, x) -> tuple:
        return ("edge" if is_edge else "node", x.properties, x.id)

    def edge_labels_ok(self, lx, e) -> bool:
        op = lx[0]
        if op == "label":
            return lx[1] in e.labels
        if op == "type":
            t = lx[1]
            return t.middle_conforms(e.labels, e.properties) and self._endpoints_ok(t, e)
        if op == "and":
            return all(self.edge_labels_ok(i, e) for i in lx[1])
        if op == "or":
            return any(self.edge_labels_ok(i, e) for i in lx[1])
        if op == "not":
            return not self.edge_labels_ok(lx[1], e)
        return True

    def descriptor(self, c: CompiledConstraint, x) -> Set[tuple]:
        """D(x): the distinct descriptor tuples (missing components drop a tuple)."""
        keys = c.prop_keys
        if keys is not None:                    # x's own properties: one tuple at most
            props = x.properties
            t = []
            for k in keys:
                v = props.get(k)
                if v is None:
                    return set()
                t.append(comparable(v))
            return {tuple(t)}
        start = {c.var: self._binding(c.edge_scope, x)}
        envs = self.matches(c, x, start) if c.has_pattern else [start]
        out = set()
        for env in envs:
            if c.pattern_where is not None and eval_expr(c.pattern_where, env) is not True:
                continue
            if c.count_vars:
                out.add(tuple((env[v][0], env[v][2]) for v in c.count_vars))
            elif c.boolean:
                if eval_expr(c.items[0], env) is True:
                    out.add(())
            else:
                t = []
                for item in c.items:
                    if isinstance(item, ast.Var):
                        b = env.get(item.name)
                        val = None if b is None else ("@", b[0], b[2])
                    else:
                        v = eval_expr(item, env)
                        val = None if v is None else comparable(v)
                    if val is None:
                        break
                    t.append(val)
                else:
                    out.add(tuple(t))
        return out

    def check_constraint(self, c: CompiledConstraint, affected: Optional[Set[int]]) -> None:
        """Check ``c`` for the scope elements in ``affected`` (ids), or for all when None."""
        in_scope = self.in_scope
        if affected is None:
            xs = [x for x in self.elements(c) if in_scope(c, x)]
        else:
            get = self.edge if c.edge_scope else self.node
            xs = [x for x in map(get, sorted(affected)) if x is not None and in_scope(c, x)]
        element = "edge" if c.edge_scope else "node"
        ds = {}
        descriptor, lo, hi = self.descriptor, c.min, c.max
        for x in xs:
            d = descriptor(c, x)
            ds[x.id] = d
            n = len(d)
            if n < lo:
                self.report(c.min_kind, element, x.id, c.name, self._bound_message(c, x, n, "least"))
            if hi is not None and n > hi:
                self.report("participation_max", element, x.id, c.name,
                            self._bound_message(c, x, n, "most"))
        if c.exclusive:
            self._exclusive(c, xs, ds, full=affected is None)

    def _exclusive(self, c: CompiledConstraint, xs, ds, full: bool) -> None:
        holders: Dict[tuple, int] = {}
        if not full and not xs:
            return
        if full or c.index is None:
            # build the whole scope's tuples (the index, when there is one, only helps the delta case)
            if not full:
                for y in self.elements(c):
                    if y.id not in ds and self.in_scope(c, y):
                        ds[y.id] = self.descriptor(c, y)
            changed = {x.id for x in xs}
            for yid in sorted(ds):
                for t in ds[yid]:
                    if t in holders:
                        culprit = yid if (full or yid in changed) else holders[t]
                        other = holders[t] if culprit == yid else yid
                        self._duplicate(c, culprit, other, t)
                    else:
                        holders[t] = yid
            return
        # The delta case with a hash index. Every written node in scope is in xs (affected holds
        # all written nodes when there is no pattern, and only such constraints have an index),
        # so the transaction's own holders of a tuple are found here; the index gives the others.
        key_values = c.index.key_values
        probes = [(x, t, key_values(x.properties)) for x in xs for t in ds[x.id]]
        mine: Dict[tuple, List[int]] = {}      # tuple -> the transaction's holders, if shared
        if len({t for _x, t, _p in probes}) < len(probes):
            for x, t, _p in probes:
                mine.setdefault(t, []).append(x.id)
        untouched = getattr(self.view, "untouched_key_nodes", None)
        if untouched is not None:
            found = untouched(c.name, [p for _x, _t, p in probes])
        else:
            found = [self.view.key_nodes(c.name, p) for _x, _t, p in probes]
        for (x, t, _p), oids in zip(probes, found):
            group = mine.get(t, ())
            if not oids and len(group) < 2:
                continue
            for oid in sorted(set(oids).union(group)):
                if oid == x.id:
                    continue
                o = self.node(oid)
                if o is not None and self.in_scope(c, o) and t in self.descriptor(c, o):
                    self._duplicate(c, x.id, oid, t)
                    break

    def _duplicate(self, c: CompiledConstraint, xid: int, other: int, t: tuple) -> None:
        element = "edge" if c.edge_scope else "node"
        get = self.edge if c.edge_scope else self.node
        x, o = get(xid), get(other)
        desc = _desc_edge(x) if c.edge_scope else _desc_node(x)
        odesc = _desc_edge(o) if c.edge_scope else _desc_node(o)
        vals = ", ".join(_show(v) for v in t)
        what = ", ".join(map(str, c.items)) if c.items else "the pattern"
        self.report("key_duplicate", element, xid, c.name,
                    f"{desc}: {what} = {vals} is also held by {odesc}, but must be unique"
                    f"{_at(c)}")

    def _bound_message(self, c: CompiledConstraint, x, n: int, which: str) -> str:
        desc = _desc_edge(x) if c.edge_scope else _desc_node(x)
        bound = c.min if which == "least" else c.max
        if c.min_kind == "key_missing" and which == "least":
            what = ", ".join(map(str, c.items))
            return f"{desc}: needs {what} (all of them present){_at(c)}"
        if c.min_kind == "check_failed" and which == "least":
            return f"{desc}: fails the check {c.items[0]}{_at(c)}"
        if c.count_vars and which == "most" and bound == 0:
            return f"{desc}: must not match {_pattern_text(c)}, but matches {n} time(s){_at(c)}"
        if c.count_vars:
            what = f"match of {_pattern_text(c)}"
        else:
            what = ", ".join(map(str, c.items))
            if c.has_pattern:
                what += f" within {_pattern_text(c)}"
        return f"{desc}: needs at {which} {bound} distinct {what}, has {n}{_at(c)}"

    # ---- pattern matching (distinct edges within a match) ----
    def matches(self, c: CompiledConstraint, x, env: dict) -> Iterator[dict]:
        nodes, edges = c.nodes, c.edges
        if c.edge_scope:
            pos = [j for j, s in enumerate(edges) if s.var == c.var]
            if not pos:
                yield from self._free(c, env)
                return
            j = pos[0]
            for a, b in _orientations(x, edges[j].direction):
                e2 = dict(env)
                if not self._bind_node(nodes[j], a, e2) or not self._bind_node(nodes[j + 1], b, e2):
                    continue
                for r_env, r_used in self._right(c, j + 1, b, e2, {x.id}):
                    yield from (le for le, _u in self._left(c, j, a, r_env, r_used))
            return
        pos = [i for i, s in enumerate(nodes) if s.var == c.var]
        if not pos:
            yield from self._free(c, env)
            return
        i = pos[0]
        e2 = dict(env)
        if not self._bind_node(nodes[i], x.id, e2):
            return
        for r_env, r_used in self._right(c, i, x.id, e2, set()):
            yield from (le for le, _u in self._left(c, i, x.id, r_env, r_used))

    def _free(self, c: CompiledConstraint, env: dict) -> Iterator[dict]:
        """Matches of a pattern that does not mention the scope variable: start anywhere."""
        for n in self.view.nodes(required_label(c.nodes[0].labels)):
            self._nodes.setdefault(n.id, n)
            e2 = dict(env)
            if self._bind_node(c.nodes[0], n.id, e2):
                yield from (r for r, _u in self._right(c, 0, n.id, e2, set()))

    def _bind_node(self, step, nid: int, env: dict) -> bool:
        n = self.node(nid)
        if n is None or not self.node_lx(step.labels, n):
            return False
        return _bind(step.var, ("node", n.properties, nid), env)

    def _bind_edge(self, step, e, env: dict) -> bool:
        if not self.edge_labels_ok(step.labels, e):
            return False
        return _bind(step.var, ("edge", e.properties, e.id), env)

    def _right(self, c, i: int, nid: int, env: dict, used: set):
        if i == len(c.nodes) - 1:
            yield env, used
            return
        step = c.edges[i]
        for e, nxt in self._steps(nid, step, forward=True):
            if e.id in used:
                continue
            e2 = dict(env)
            if self._bind_edge(step, e, e2) and self._bind_node(c.nodes[i + 1], nxt, e2):
                yield from self._right(c, i + 1, nxt, e2, used | {e.id})

    def _left(self, c, i: int, nid: int, env: dict, used: set):
        if i == 0:
            yield env, used
            return
        step = c.edges[i - 1]
        for e, prev in self._steps(nid, step, forward=False):
            if e.id in used:
                continue
            e2 = dict(env)
            if self._bind_edge(step, e, e2) and self._bind_node(c.nodes[i - 1], prev, e2):
                yield from self._left(c, i - 1, prev, e2, used | {e.id})

    def _steps(self, nid: int, step, forward: bool):
        """(edge, other node) pairs leaving ``nid`` along ``step`` (walked forward or backward)."""
        label = required_label(step.labels)
        d = step.direction
        if d == "any":
            for e in self.incident(nid, "both", label):
                yield e, (e.dst if e.src == nid else e.src)
            return
        outgoing = (d == "out") == forward
        for e in self.incident(nid, "out" if outgoing else "in", label):
            yield e, (e.dst if outgoing else e.src)


def _bind(var: Optional[str], value: tuple, env: dict) -> bool:
    if var is None:
        return True
    old = env.get(var)
    if old is not None:
        return old[0] == value[0] and old[2] == value[2]
    env[var] = value
    return True


def _orientations(e, direction: str):
    if direction == "out":
        return [(e.src, e.dst)]
    if direction == "in":
        return [(e.dst, e.src)]
    return [(e.src, e.dst)] if e.src == e.dst else [(e.src, e.dst), (e.dst, e.src)]


# ---- wording ----------------------------------------------------------------------------------------

def _labels_text(labels) -> str:
    return "{" + ", ".join(sorted(labels)) + "}" if labels else "{} (none)"


def _desc_node(n) -> str:
    if n is None:
        return "a deleted node"
    return (":".join(sorted(n.labels)) if n.labels else "node") + f" {n.id}"


def _desc_edge(e) -> str:
    if e is None:
        return "a deleted edge"
    lab = ":".join(sorted(e.labels)) if e.labels else "unlabeled"
    return f"edge {e.id} ({lab}, {e.src}->{e.dst})"


def _show(v) -> str:
    if isinstance(v, tuple) and v and v[0] == "@":
        return f"{v[1]} {v[2]}"
    if isinstance(v, tuple) and len(v) == 2:
        return repr(v[1])
    return repr(v)


def _pattern_text(c: CompiledConstraint) -> str:
    return str(c.definition.within)


def _at(c: CompiledConstraint) -> str:
    return f" (constraint at line {c.line}: {c.name})" if c.line else f" (constraint {c.name})"

"""Schema inference: a LOOSE graph type that describes the stored data and that the data passes.

Owns: grouping elements into types and writing the DDL for them. One node type per distinct node
label set, one edge type per distinct edge label set. For each group:
- the properties it has, each with a value type: the observed kind, widened to ANY when the kinds
  are mixed, INT (or UINT64 above the int64 range) for integers, DOUBLE for floats;
- OPTIONAL when some members lack the property;
- for edges, the union of the node types found at each end.
A candidate key is proposed for every node group of at least two nodes: one required INT or STRING
property whose values are all distinct (preferring a name with "id" in it). It becomes
``FOR (x:type) IDENTIFIER x.k``.

Invariant: every node conforms to its group's type and every edge to its group's type, so the
graph passes the inferred schema, and it would pass it even under STRICT. Type names are made
unique and never equal a label in the data, because a visible type name would shadow the label.
The cost is one pass over all nodes and edges.
"""
from __future__ import annotations

import re
from typing import Dict, FrozenSet, List

from ..values import kind as value_kind
from . import ast
from .graphtype import GraphType
from .resolve import resolve_schema
from .parser import parse_ddl

__all__ = ["infer_schema"]


_SCHEMA_TYPE = {"bool": "BOOL", "float": "DOUBLE", "str": "STRING", "bytes": "BYTES", "date": "DATE",
                "localtime": "TIME", "time": "TIME", "localdatetime": "DATETIME", "datetime": "DATETIME",
                "duration": "DURATION"}


_KEY_KINDS = ("INT", "UINT64", "STRING")      # the kinds a candidate key may have


def _kind(v) -> str:
    """The schema value type of a value (its kind is lpgdb.values.kind's answer); ANY for lists."""
    k = value_kind(v)
    if k == "int":
        return "INT" if -(2 ** 63) <= v < 2 ** 63 else "UINT64"
    return _SCHEMA_TYPE.get(k, "ANY")


class _Group:
    def __init__(self):
        self.count = 0
        self.kinds: Dict[str, set] = {}
        self.present: Dict[str, int] = {}
        self.values: Dict[str, set] = {}
        self.src: set = set()
        self.dst: set = set()

    def add(self, props) -> None:
        self.count += 1
        for k, v in props.items():
            if v is None:
                continue
            kd = _kind(v)
            self.kinds.setdefault(k, set()).add(kd)
            self.present[k] = self.present.get(k, 0) + 1
            if kd in _KEY_KINDS:
                vals = self.values.setdefault(k, set())
                if vals is not None:
                    before = len(vals)
                    vals.add(v)
                    if len(vals) == before:          # a repeated value: not a key
                        self.values[k] = None
            else:
                self.values[k] = None

    def property_spec(self) -> ast.PropertySpec:
        props = []
        for k in sorted(self.kinds):
            kinds = self.kinds[k]
            if kinds <= {"INT", "UINT64"} and len(kinds) == 2:
                vt = "ANY"
            else:
                vt = next(iter(kinds)) if len(kinds) == 1 else "ANY"
            props.append(ast.PropertyDef(k, vt, self.present[k] < self.count))
        return ast.PropertySpec(tuple(props), False)

    def candidate_key(self):
        if self.count < 2:
            return None
        keys = [k for k, vals in self.values.items()
                if vals is not None and self.present.get(k) == self.count
                and self.kinds[k] <= {"INT", "STRING"} and len(self.kinds[k]) == 1]
        if not keys:
            return None
        return sorted(keys, key=lambda k: ("id" not in k.lower(), len(k), k))[0]


def _type_name(labels: FrozenSet[str], suffix: str, taken: set) -> str:
    parts = [re.sub(r"[^A-Za-z0-9_]", "", lab) for lab in sorted(labels)]
    base = "".join(p[:1].upper() + p[1:] for p in parts if p) or "Unlabeled"
    base = base[:1].lower() + base[1:] + suffix
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    taken.add(name)
    return name


def _labels_spec(labels: FrozenSet[str]):
    names = [ast.LabelName(lab) for lab in sorted(labels)]
    if not names:
        return None
    return names[0] if len(names) == 1 else ast.LabelAnd(tuple(names))


def _union(type_names) -> ast.LabelPropertySpec:
    names = [ast.LabelName(n) for n in sorted(type_names)]
    labels = names[0] if len(names) == 1 else ast.LabelOr(tuple(names))
    return ast.LabelPropertySpec(labels, False, None)


def infer_schema(view, name: str = "inferredGraphType") -> GraphType:
    """A LOOSE GraphType describing every node and edge ``view`` shows."""
    node_groups: Dict[FrozenSet[str], _Group] = {}
    node_label_of: Dict[int, FrozenSet[str]] = {}
    all_labels = set()
    for n in view.nodes():
        node_groups.setdefault(n.labels, _Group()).add(n.properties)
        node_label_of[n.id] = n.labels
        all_labels |= n.labels
    edge_groups: Dict[FrozenSet[str], _Group] = {}
    for e in view.edges():
        g = edge_groups.setdefault(e.labels, _Group())
        g.add(e.properties)
        g.src.add(node_label_of[e.src])
        g.dst.add(node_label_of[e.dst])
        all_labels |= e.labels
    taken = set(all_labels)
    node_names = {labels: _type_name(labels, "Type", taken) for labels in sorted(node_groups, key=sorted)}
    elements: List = []
    for labels, tname in node_names.items():
        g = node_groups[labels]
        elements.append(ast.NodeTypeDef(tname, ast.LabelPropertySpec(
            _labels_spec(labels), False, g.property_spec())))
    for labels in sorted(edge_groups, key=sorted):
        g = edge_groups[labels]
        tname = _type_name(labels, "EdgeType", taken)
        elements.append(ast.EdgeTypeDef(
            tname, _union(node_names[s] for s in g.src),
            ast.LabelPropertySpec(_labels_spec(labels), False, g.property_spec()),
            _union(node_names[d] for d in g.dst)))
    for labels, tname in node_names.items():
        key = node_groups[labels].candidate_key()
        if key is not None:
            elements.append(ast.Constraint(ast.Scope("x", ast.LabelName(tname)), None, ("IDENTIFIER",),
                                           None, (ast.Prop("x", key),)))
    ddl = str(ast.GraphTypeDef(name, False, (), tuple(elements)))
    return resolve_schema(parse_ddl(ddl))

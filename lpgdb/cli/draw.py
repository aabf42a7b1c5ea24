"""Pictures of a graph type: Graphviz DOT (drawn like the PG-Schema paper's figures), Mermaid,
and SVG/PNG through Graphviz's ``dot`` when it is installed.

DOT: one box per node type (its name, its labels, its properties with their types and
OPTIONAL marks; ABSTRACT types dashed), an arrow with a hollow head from a type to each type
it inherits (``&`` of a type name), one arrow per edge type from its source to its target type
(labelled with the edge type's name, labels and properties), endpoints that are not named
types as ellipses, and a note listing the constraints.  Mermaid: the same as a class diagram.

Reads the GraphType that ``db.schema`` / ``db.infer_schema()`` return (its types' definitions
and constraints); nothing else of lpgdb.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from typing import Dict, List, Optional, Tuple

__all__ = ["draw_dot", "draw_mermaid", "render", "FORMATS"]

FORMATS = ("dot", "mermaid", "svg", "png")


# ---- reading a type's definition ----------------------------------------------------------------

def _names(expr) -> List[str]:
    """Every bare name in a label expression (labels and type references), in order."""
    if expr is None:
        return []
    if hasattr(expr, "name") and not hasattr(expr, "items"):
        return [expr.name]
    if hasattr(expr, "items"):
        return [n for i in expr.items for n in _names(i)]
    if hasattr(expr, "item"):
        return _names(expr.item)
    return []


def _is_conjunction(expr) -> bool:
    """A plain ``A & B & C`` of names (the usual label spec), or one name, or nothing."""
    if expr is None or (hasattr(expr, "name") and not hasattr(expr, "items")):
        return True
    return type(expr).__name__ == "LabelAnd" and all(_is_conjunction(i) for i in expr.items)


class _Part:
    """What a label-property spec says, for drawing: parent types, labels, properties."""

    def __init__(self, spec, types: Dict[str, object]):
        expr = spec.labels if spec is not None else None
        names = _names(expr)
        self.parents = [n for n in names if n in types]
        if _is_conjunction(expr):
            self.labels = " & ".join(n for n in names if n not in types)
        else:                      # |, ?, ...: show the expression as written
            self.labels = str(expr)
        if spec is not None and spec.open_labels:
            self.labels = (self.labels + " " if self.labels else "") + "OPEN"
        props = spec.properties if spec is not None else None
        self.props: List[Tuple[str, str, bool]] = [(p.key, p.type_name, p.optional) for p in props.properties] \
            if props is not None else []
        self.props_open = bool(props is not None and props.open)

    def prop_lines(self) -> List[str]:
        out = [("OPTIONAL " if opt else "") + f"{k}: {t}" for k, t, opt in self.props]
        if self.props_open:
            out.append("OPEN: other properties allowed")
        return out


# ---- DOT --------------------------------------------------------------------------------------------

def _q(s: str) -> str:
    """A DOT quoted string (newlines become DOT's centred line breaks)."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _h(s: str) -> str:
    return html.escape(str(s), quote=True)


def _box(name: str, part: Optional[_Part], abstract: bool) -> str:
    rows = [f'<TR><TD BGCOLOR="#dde8f5"><B>{_h(name)}</B>{"  <I>abstract</I>" if abstract else ""}</TD></TR>']
    if part is not None:
        if part.labels:
            rows.append(f'<TR><TD ALIGN="LEFT">:{_h(part.labels)}</TD></TR>')
        lines = part.prop_lines()
        body = '<BR ALIGN="LEFT"/>'.join(_h(x) for x in lines) + '<BR ALIGN="LEFT"/>' if lines else " "
        rows.append(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{body}</TD></TR>')
    style = ' STYLE="dashed"' if abstract else ""
    return f'<<TABLE BORDER="1" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"{style}>{"".join(rows)}</TABLE>>'


def draw_dot(gt) -> str:
    """Graphviz DOT of a graph type (see the module docstring)."""
    node_types: Dict[str, object] = dict(gt.node_types)
    lines = [f"digraph {_q(gt.name)} {{",
             "  graph [rankdir=LR, fontname=Helvetica, labelloc=t, "
             f"label={_q(f'graph type {gt.name} ({gt.mode})')}];",
             "  node [shape=plaintext, fontname=Helvetica, fontsize=11];",
             "  edge [fontname=Helvetica, fontsize=10];"]
    ids: Dict[str, str] = {}

    def node_id(key: str) -> str:
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    inherit: List[Tuple[str, str]] = []
    for name, t in sorted(node_types.items()):
        part = _Part(t.definition.spec, node_types)
        lines.append(f"  {node_id('type:' + name)} [label={_box(name, part, t.abstract)}];")
        inherit.extend((name, p) for p in part.parents)
    extra = set()
    for child, parent in inherit:
        if parent not in node_types and parent not in extra:
            extra.add(parent)
            lines.append(f"  {node_id('type:' + parent)} [label={_box(parent, None, False)}];")
        lines.append(f"  {node_id('type:' + child)} -> {node_id('type:' + parent)} "
                     f"[arrowhead=onormal, style=solid, color=gray40, tooltip=\"inherits\"];")

    def endpoint(spec) -> str:
        names = _names(spec.labels) if spec is not None else []
        if spec is not None and spec.properties is None and len(names) == 1 and names[0] in node_types:
            return node_id("type:" + names[0])
        text = ":" + str(spec.labels) if spec is not None and spec.labels is not None else "any node"
        if spec is not None and spec.properties is not None:
            text += " " + str(spec.properties)
        key = "end:" + text
        if key not in ids:
            lines.append(f"  {node_id(key)} [shape=ellipse, style=dashed, label={_q(text)}];")
        return node_id(key)

    for name, t in sorted(gt.edge_types.items()):
        d = t.definition
        part = _Part(d.spec, gt.edge_types)
        label_parts = [name + (" (abstract)" if t.abstract else "")]
        if part.labels:
            label_parts.append(":" + part.labels)
        label_parts += part.prop_lines()
        label_parts += [f"inherits {p}" for p in part.parents]
        style = ", style=dashed" if t.abstract else ""
        lines.append(f"  {endpoint(d.source)} -> {endpoint(d.target)} [label={_q(chr(10).join(label_parts))}"
                     f"{style}];")
    if gt.constraints:
        text = "Constraints\\l" + "".join(_q(c.name)[1:-1] + "\\l" for c in gt.constraints)
        lines.append(f'  constraints [shape=note, fontsize=10, label="{text}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---- Mermaid ----------------------------------------------------------------------------------------

def _mq(s: str) -> str:
    """Text for a quoted Mermaid string."""
    return str(s).replace('"', "#quot;")


def _mt(s: str) -> str:
    """Text for an unquoted Mermaid position (a member line, a relation label): no brackets,
    which Mermaid would read as a method or a label."""
    return re.sub(r"[(){}\[\]<>]", "", str(s).replace('"', "'")).strip()


def draw_mermaid(gt) -> str:
    """A Mermaid class diagram of a graph type (renders on GitHub in a ```mermaid block)."""
    node_types: Dict[str, object] = dict(gt.node_types)
    out = ["---", f"title: graph type {gt.name} ({gt.mode})", "---", "classDiagram"]
    ids: Dict[str, str] = {}

    def cid(name: str) -> str:
        if name not in ids:
            ids[name] = "T" + str(len(ids))
        return ids[name]

    rels, parents = [], set()
    for name, t in sorted(node_types.items()):
        part = _Part(t.definition.spec, node_types)
        body = (["<<abstract>>"] if t.abstract else []) + ([f"labels: {_mt(part.labels)}"] if part.labels else []) \
            + [_mt(line) for line in part.prop_lines()]
        out.append(f'  class {cid(name)}["{_mq(name)}"]' + (" {" if body else ""))
        if body:
            out += [f"    {line}" for line in body] + ["  }"]
        rels += [f"  {cid(p)} <|-- {cid(name)} : inherits" for p in part.parents]
        parents.update(part.parents)
    for name in sorted(parents - set(node_types)):
        out.append(f'  class {cid(name)}["{_mq(name)}"]')
    out += rels

    def endpoint(spec) -> str:
        names = _names(spec.labels) if spec is not None else []
        if spec is not None and spec.properties is None and len(names) == 1 and names[0] in node_types:
            return cid(names[0])
        text = ":" + str(spec.labels) if spec is not None and spec.labels is not None else "any node"
        if spec is not None and spec.properties is not None:
            text += " " + str(spec.properties)
        key = "endpoint " + text
        if key not in ids:
            out.append(f'  class {cid(key)}["{_mq(text)}"]')
        return cid(key)

    for name, t in sorted(gt.edge_types.items()):
        d = t.definition
        part = _Part(d.spec, gt.edge_types)
        text = name + (" :" + part.labels if part.labels else "")
        props = part.prop_lines()
        if props:
            text += ", " + ", ".join(props)
        out.append(f"  {endpoint(d.source)} --> {endpoint(d.target)} : {_mt(text)}")
    for c in gt.constraints:
        out.append(f'  note "{_mq(c.name)}"')
    return "\n".join(out) + "\n"


# ---- rendering ---------------------------------------------------------------------------------------

class GraphvizMissing(Exception):
    """Graphviz's ``dot`` is not on PATH."""


def render(dot_text: str, fmt: str) -> bytes:
    """SVG or PNG bytes of a DOT text through Graphviz's ``dot`` (GraphvizMissing when absent)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing()
    r = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"dot failed: {r.stderr.decode('utf-8', 'replace').strip()}")
    return r.stdout

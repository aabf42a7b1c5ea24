"""openCypher TCK support for the runner in test_tck.py: the Gherkin reader, the TCK value
notation, result normalisation and side-effect snapshots (spec: shared/tck/README.md)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import datetime

import lpgdb
from lpgdb.query.temporal import from_python


# ---------------------------------------------------------------- Gherkin
@dataclass
class Step:
    keyword: str
    text: str
    doc: Optional[str] = None
    table: Optional[list] = None


@dataclass
class Scenario:
    id: str
    folder: str
    title: str
    tags: list
    steps: list = field(default_factory=list)


_STEP = re.compile(r"^(Given|When|Then|And|But)\s+(.*)$")


def _cells(line: str) -> list:
    line = line.strip()
    assert line.startswith("|")
    body = line[1:]
    cells, cur, i = [], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur.append(body[i:i + 2])
            i += 2
            continue
        if c == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    return [_unescape_cell(c) for c in cells]


def _unescape_cell(c: str) -> str:
    out, i = [], 0
    while i < len(c):
        if c[i] == "\\" and i + 1 < len(c) and c[i + 1] in "|\\n":
            out.append({"|": "|", "\\": "\\", "n": "\n"}[c[i + 1]])
            i += 2
        else:
            out.append(c[i])
            i += 1
    return "".join(out)


def read_feature(path: Path, root: Path) -> list:
    rel = path.relative_to(root).as_posix()
    folder = "/".join(rel.split("/")[:2])
    lines = [l.rstrip("\r\n").rstrip("\r") for l in path.read_text(encoding="utf-8").split("\n")]
    background, scenarios = [], []
    cur_steps, cur = None, None  # cur: dict for scenario being read
    pending_tags = []
    i, n = 0, len(lines)

    def finish():
        if cur is None:
            return
        if cur["outline"]:
            header, rows = cur["examples"][0], cur["examples"][1:]
            for k, row in enumerate(rows):
                sub = dict(zip(header, row))
                steps = [_subst_step(s, sub) for s in background + cur["steps"]]
                scenarios.append(Scenario(f"{rel}::[{cur['num']}]#{k + 1}", folder, cur["title"], cur["tags"], steps))
        else:
            scenarios.append(Scenario(f"{rel}::[{cur['num']}]", folder, cur["title"], cur["tags"],
                                      background + cur["steps"]))

    while i < n:
        raw = lines[i]
        s = raw.strip()
        i += 1
        if not s or s.startswith("#"):
            continue
        if s.startswith("@"):
            pending_tags += s.split()
            continue
        if s.startswith("Feature:"):
            continue
        if s.startswith("Background:"):
            cur_steps = background
            continue
        m = re.match(r"^Scenario( Outline)?:\s*\[(\d+)\]\s*(.*)$", s)
        if m:
            finish()
            cur = {"outline": bool(m.group(1)), "num": m.group(2), "title": m.group(3), "tags": pending_tags,
                   "steps": [], "examples": []}
            pending_tags = []
            cur_steps = cur["steps"]
            continue
        if s.startswith("Examples:"):
            while i < n:
                t = lines[i].strip()
                if t.startswith("|"):
                    cur["examples"].append(_cells(t))
                elif t and not t.startswith("#"):
                    break
                i += 1
            continue
        m = _STEP.match(s)
        if m:
            step = Step(m.group(1), m.group(2))
            cur_steps.append(step)
            # doc string or table
            while i < n and not lines[i].strip():
                i += 1
            if i < n and lines[i].strip().startswith('"""'):
                indent = len(lines[i]) - len(lines[i].lstrip())
                i += 1
                doc = []
                while i < n and not lines[i].strip().startswith('"""'):
                    doc.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i].strip())
                    i += 1
                i += 1
                step.doc = "\n".join(doc)
            elif i < n and lines[i].strip().startswith("|"):
                table = []
                while i < n:
                    t = lines[i].strip()
                    if t.startswith("|"):
                        table.append(_cells(t))
                    elif t and not t.startswith("#"):
                        break
                    i += 1
                step.table = table
            continue
    finish()
    return scenarios


def _subst(text, sub):
    if text is None:
        return None
    return re.sub(r"<([^<>\s]+)>", lambda m: sub.get(m.group(1), m.group(0)), text)


def _subst_step(step: Step, sub) -> Step:
    table = None if step.table is None else [[_subst(c, sub) for c in row] for row in step.table]
    return Step(step.keyword, _subst(step.text, sub), _subst(step.doc, sub), table)


def load_all(root: Path) -> list:
    out = []
    for p in sorted(root.rglob("*.feature")):
        out.extend(read_feature(p, root))
    return out


# ---------------------------------------------------------------- value notation -> canonical form
class _ValueParser:
    def __init__(self, text):
        self.s = text
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self):
        self.ws()
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, c):
        self.ws()
        if not self.s.startswith(c, self.i):
            raise ValueError(f"expected {c!r} at {self.i} in {self.s!r}")
        self.i += len(c)

    def name(self):
        self.ws()
        m = re.compile(r"[A-Za-z0-9_$]+").match(self.s, self.i)
        if not m:
            raise ValueError(f"name expected at {self.i} in {self.s!r}")
        self.i = m.end()
        return m.group(0)

    def value(self):
        c = self.peek()
        if c == "(":
            return self.node()
        if c == "[":
            j = self.i + 1
            while j < len(self.s) and self.s[j].isspace():
                j += 1
            if j < len(self.s) and self.s[j] == ":":
                return self.rel()
            return self.list()
        if c == "<":
            return self.path()
        if c == "{":
            return ("map", self.map())
        if c == "'":
            return self.string()
        m = re.compile(r"-?(\d+\.\d+([eE]-?\d+)?|\.\d+([eE]-?\d+)?|\d+[eE]-?\d+)").match(self.s, self.i)
        if m:
            self.i = m.end()
            return ("float", float(m.group(0)))
        m = re.compile(r"-?\d+").match(self.s, self.i)
        if m:
            self.i = m.end()
            return ("int", int(m.group(0)))
        for word, v in (("true", ("bool", True)), ("false", ("bool", False)), ("null", None),
                        ("NaN", ("nan",)), ("-Inf", ("float", -math.inf)), ("Inf", ("float", math.inf))):
            if self.s.startswith(word, self.i):
                self.i += len(word)
                return v
        raise ValueError(f"cannot parse value at {self.i} in {self.s!r}")

    def string(self):
        self.expect("'")
        out = []
        while True:
            c = self.s[self.i]
            if c == "\\" and self.s[self.i + 1] in "'\\":
                out.append(self.s[self.i + 1])
                self.i += 2
            elif c == "'":
                self.i += 1
                return ("str", "".join(out))
            else:
                out.append(c)
                self.i += 1

    def map(self):
        self.expect("{")
        items = {}
        if self.peek() == "}":
            self.i += 1
            return frozenset()
        while True:
            k = self.name()
            self.expect(":")
            items[k] = self.value()
            if self.peek() == ",":
                self.i += 1
                continue
            self.expect("}")
            return frozenset(items.items())

    def list(self):
        self.expect("[")
        items = []
        if self.peek() == "]":
            self.i += 1
            return ("list", ())
        while True:
            items.append(self.value())
            if self.peek() == ",":
                self.i += 1
                continue
            self.expect("]")
            return ("list", tuple(items))

    def node(self):
        self.expect("(")
        labels = []
        while self.peek() == ":":
            self.i += 1
            labels.append(self.name())
        props = frozenset()
        if self.peek() == "{":
            props = self.map()
        self.expect(")")
        return ("node", frozenset(labels), _drop_nulls(props))

    def rel(self):
        self.expect("[")
        self.expect(":")
        t = self.name()
        props = frozenset()
        if self.peek() == "{":
            props = self.map()
        self.expect("]")
        return ("rel", t, _drop_nulls(props))

    def path(self):
        self.expect("<")
        items = [self.node()]
        while self.peek() in ("-", "<"):
            if self.s.startswith("<-", self.i):
                self.i += 2
                r = self.rel()
                self.expect("-")
                items.append(("<-", r))
            else:
                self.expect("-")
                r = self.rel()
                self.expect("->")
                items.append(("->", r))
            items.append(self.node())
        self.expect(">")
        return ("path", tuple(items))


def _drop_nulls(props):
    return frozenset((k, v) for k, v in props if v is not None)


def parse_value(text: str):
    p = _ValueParser(text)
    v = p.value()
    p.ws()
    if p.i != len(p.s):
        raise ValueError(f"trailing text in {text!r}")
    return v


def canon(v):
    """Canonical hashable form of a value returned by lpgdb (comparable with parse_value)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("nan",) if math.isnan(v) else ("float", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, (list, tuple)):
        return ("list", tuple(canon(x) for x in v))
    if isinstance(v, dict):
        return ("map", frozenset((k, canon(x)) for k, x in v.items()))
    if isinstance(v, lpgdb.Node):
        return ("node", frozenset(v.labels), _props(v.properties))
    if isinstance(v, lpgdb.Edge):
        return ("rel", v.label, _props(v.properties))
    if isinstance(v, (datetime.date, datetime.time, datetime.timedelta)):
        return ("str", str(from_python(v)))  # Cypher's toString() form (README: temporal values)
    if isinstance(v, lpgdb.Path):
        items = [canon(v.nodes[0])]
        for i, e in enumerate(v.edges):
            items.append(("->" if e.src == v.nodes[i].id else "<-", canon(e)))
            items.append(canon(v.nodes[i + 1]))
        return ("path", tuple(items))
    return ("str", str(v))


def _props(m):
    return frozenset((k, canon(x)) for k, x in m.items())


def unorder_lists(c):
    """Make every list a multiset (for 'ignoring element order for lists')."""
    if c is None:
        return None
    if c[0] == "list":
        return ("bag", tuple(sorted((unorder_lists(x) for x in c[1]), key=repr)))
    if c[0] == "map":
        return ("map", frozenset((k, unorder_lists(x)) for k, x in c[1]))
    return c


# ---------------------------------------------------------------- side effects
def graph_state(db):
    with db.snapshot() as s:
        nodes = list(s.nodes())
        edges = list(s.edges())
    labels = set()
    props = set()
    for n in nodes:
        labels |= set(n.labels)
        for k, v in n.properties.items():
            props.add(("n", n.id, k, canon(v)))
    for e in edges:
        for k, v in e.properties.items():
            props.add(("e", e.id, k, canon(v)))
    return {"nodes": {n.id for n in nodes}, "relationships": {e.id for e in edges}, "labels": labels,
            "properties": props}


def side_effects(before, after) -> dict:
    out = {}
    for key in ("nodes", "relationships", "labels", "properties"):
        out["+" + key] = len(after[key] - before[key])
        out["-" + key] = len(before[key] - after[key])
    return out

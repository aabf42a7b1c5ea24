"""Query text -> AST (lpgdb.query.ast).  The only module that imports lark for queries.

Owns: loading grammar/cypher.lark once (LALR, contextual lexer, positions), turning lark
trees into AST nodes, literal decoding (numbers, strings, escapes) and turning every lark
exception into ``QuerySyntaxError`` with a plain-words message, line, column and a caret
snippet.  Must not: check scopes or types (semantic.py does), or evaluate anything.
Query text is never evaluated as Python.

Limits (B10): a query is at most ``MAX_QUERY_LENGTH`` characters and ``MAX_TOKENS`` tokens
(parsing costs time and memory per token), and nests at most ``MAX_NESTING`` levels, counting every nested expression, subquery and clause (a clause runs
inside the one before it, so a chain of clauses nests too).  Beyond either, ``parse`` raises
``QuerySyntaxError`` (``.code == "QueryTooComplex"``) before the AST exists, so no later phase
(semantic pass, compiler, executor) ever recurses deeper than the limit allows; the parser
itself never recurses on the input (LALR plus a non-recursive tree transform).  With a
``deadline``, parsing stops with ``OperationalError`` once it passes.
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Optional

from lark import Lark, Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import (LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
                             UnexpectedToken, VisitError)

from ..errors import Error, InterfaceError, OperationalError, QuerySyntaxError
from . import ast as A

__all__ = ["parse", "MAX_QUERY_LENGTH", "MAX_NESTING"]

_MAX_INT = 2 ** 63 - 1

MAX_QUERY_LENGTH = 1_000_000
"""Longest query text accepted, in characters (large data belongs in $parameters)."""

MAX_TOKENS = 100_000
"""Most tokens accepted (names, literals, operators; a long string literal is one token)."""

MAX_NESTING = 200
"""Deepest nesting accepted: expressions within expressions, subqueries, and chained clauses."""

# The LALR value stack grows by one to three entries per open nesting level (an open '(' or
# 'NOT', a function name and its '(', a map key and its ':'); past this the query is certainly
# nested deeper than MAX_NESTING, and parsing stops at once instead of reading the rest.
_MAX_STACK = 3 * MAX_NESTING + 64
_TICK = 256     # tokens between two deadline checks


def _grammar_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "grammar" / "cypher.lark", here.parents[1] / "grammar" / "cypher.lark"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("grammar/cypher.lark not found next to the lpgdb package")


def _load():
    text = _grammar_path().read_text(encoding="utf-8")
    opts = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False)
    try:
        return Lark(text, cache=True, **opts)  # cached parse tables (keyed by grammar + options)
    except OSError:  # no writable temp dir
        return Lark(text, **opts)


_PARSER = _load()


class _Labels(list):
    pass


class _Types(list):
    pass


class _Range(tuple):
    pass


_SNIPPET_WIDTH = 160


def _syntax(message: str, text: str, pos: int, code: str = "UnexpectedSyntax") -> QuerySyntaxError:
    line = text.count("\n", 0, max(pos, 0)) + 1
    col = pos - (text.rfind("\n", 0, max(pos, 0)) + 1) + 1
    start = text.rfind("\n", 0, max(pos, 0)) + 1
    end = text.find("\n", start)
    src_line = text[start:] if end < 0 else text[start:end]
    caret = col - 1
    if len(src_line) > _SNIPPET_WIDTH:    # a window around the column, not a megabyte line
        lo = max(0, min(caret - _SNIPPET_WIDTH // 2, len(src_line) - _SNIPPET_WIDTH))
        src_line, caret = src_line[lo:lo + _SNIPPET_WIDTH], caret - lo
    err = QuerySyntaxError(message, line=line, column=col, snippet=f"{src_line}\n{' ' * caret}^")
    err.code, err.tck_type, err.phase = code, "SyntaxError", "compile"
    return err


class _SyntaxProblem(Exception):
    def __init__(self, message, pos, code="UnexpectedSyntax"):
        super().__init__(message)
        self.pos, self.code = pos, code


def _name(tok) -> str:
    s = str(tok)
    if s.startswith("`"):
        return s[1:-1].replace("``", "`")
    return s


_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def _unescape(body: str, pos: int) -> str:
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < n else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("u", "U"):
            width = 4 if nxt == "u" else 8
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise _SyntaxProblem(f"invalid unicode escape '\\{nxt}{digits}'", pos, "InvalidUnicodeLiteral")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


def _number(text: str, pos: int):
    t = text
    try:
        if t[:2] in ("0x", "0X"):
            return int(t[2:], 16)
        if t[:2] in ("0o", "0O"):
            return int(t[2:], 8)
        if re.fullmatch(r"\d+", t):
            return int(t)
        if re.fullmatch(r"(\d+\.\d+|\.\d+|\d+)([eE][-+]?\d+)?", t):
            v = float(t)
            if math.isinf(v):
                raise _SyntaxProblem(f"floating point number {t} is too large", pos, "FloatingPointOverflow")
            return v
    except ValueError:
        pass
    raise _SyntaxProblem(f"invalid number literal {t!r}", pos, "InvalidNumberLiteral")


def _meta_pos(meta) -> int:
    return -1 if getattr(meta, "empty", True) else meta.start_pos


def _e(node, meta):
    node.pos = _meta_pos(meta)
    return node


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    # ------------------------------------------------------------ query structure
    def query(self, meta, ch):
        parts, alls, mode = [], [], None
        for c in ch:
            if isinstance(c, tuple) and c and c[0] == "mode":
                mode = c[1]
            elif isinstance(c, tuple) and c and c[0] == "union":
                alls.append(c[1])
            else:
                parts.append(c)
        return A.Query(parts, alls, mode)

    def explain(self, meta, ch):
        return ("mode", "EXPLAIN")

    def profile(self, meta, ch):
        return ("mode", "PROFILE")

    def foreach_clause(self, meta, ch):
        return A.Foreach(ch[0].name, ch[1], list(ch[2:]))

    def call_subquery(self, meta, ch):
        imports = None
        if isinstance(ch[0], tuple) and ch[0][0] == "scope":
            imports, ch = ch[0][1], ch[1:]
        q = ch[0]
        if q.mode is not None:
            raise _SyntaxProblem(f"{q.mode} may only start a query, not a CALL {{ }} subquery", _meta_pos(meta))
        if len(ch) > 1:
            return A.CallSubquery(q, True, ch[1][1], imports)
        return A.CallSubquery(q, imports=imports)

    def call_scope(self, meta, ch):
        if ch and isinstance(ch[0], Token) and ch[0].type == "STAR":
            return ("scope", None)                  # CALL (*) { }: every outer variable
        names = tuple(v.name for v in ch)
        if len(set(names)) != len(names):
            raise _SyntaxProblem("a CALL ( ) scope names each variable once", _meta_pos(meta))
        return ("scope", names)

    def in_transactions(self, meta, ch):
        return ("tx", ch[0] if ch else None)

    def load_csv_clause(self, meta, ch):
        headers = bool(ch) and ch[0] == "headers"
        rest = ch[1:] if headers else ch
        sep = None
        if len(rest) > 2:
            sep = _unescape(str(rest[2])[1:-1], rest[2].start_pos)
        return A.LoadCsv(rest[0], rest[1].name, headers, sep)

    def with_headers(self, meta, ch):
        return "headers"

    def _schema(self, meta, kind, ch, constraint=None):
        name, label, props, flag, is_edge = None, None, [], False, False
        for c in ch:
            if isinstance(c, tuple) and c[0] == "target":
                label, is_edge = c[1], c[2]
            elif isinstance(c, tuple) and c[0] in ("props", "constraint"):
                props = c[1]
                if c[0] == "constraint":
                    constraint = c[2]
            elif c in ("if_exists", "if_not_exists"):
                flag = True
            else:
                name = _name(c)
        return A.SchemaCommand(kind, name, label, props, constraint, flag, is_edge, _meta_pos(meta))

    def create_index(self, meta, ch):
        return self._schema(meta, "create_index", ch)

    def drop_index(self, meta, ch):
        return self._schema(meta, "drop_index", ch)

    def create_constraint(self, meta, ch):
        return self._schema(meta, "create_constraint", ch)

    def drop_constraint(self, meta, ch):
        return self._schema(meta, "drop_constraint", ch)

    def if_not_exists(self, meta, ch):
        return "if_not_exists"

    def if_exists(self, meta, ch):
        return "if_exists"

    def node_target(self, meta, ch):
        labels = list(ch[1])
        if len(labels) != 1:
            raise _SyntaxProblem("an index or constraint is for exactly one label: FOR (n:Label)", _meta_pos(meta))
        self._target_var = ch[0].name
        return ("target", labels[0], False)

    def rel_target(self, meta, ch):
        rel = ch[0]
        if len(rel.types) != 1 or rel.var is None:
            raise _SyntaxProblem("a relationship index is FOR ()-[r:TYPE]-()", _meta_pos(meta))
        self._target_var = rel.var
        return ("target", rel.types[0], True)

    def _prop_names(self, targets, meta):
        out = []
        for t in targets:
            if not (isinstance(t, A.Prop) and isinstance(t.subject, A.Var)):
                raise _SyntaxProblem("expected n.property", _meta_pos(meta))
            out.append(t.key)
        return out

    def schema_props(self, meta, ch):
        return ("props", self._prop_names(ch, meta))

    def constraint_props(self, meta, ch):
        return self._prop_names(ch, meta)

    def unique_constraint(self, meta, ch):
        return ("constraint", ch[0], "unique")

    def key_constraint(self, meta, ch):
        return ("constraint", ch[0], "key")

    def not_null_constraint(self, meta, ch):
        return ("constraint", ch[0], "not_null")

    def shortest_path(self, meta, ch):
        kind = "all" if str(ch[0]).lower().startswith("all") else "one"
        nodes, rels = ch[1]
        if len(rels) != 1:
            raise _SyntaxProblem(f"{ch[0]}() takes a pattern with exactly one relationship, like (a)-[*]-(b)",
                                 _meta_pos(meta))
        return ("shortest", kind, nodes, rels)

    def count_subquery(self, meta, ch):
        body = ch[1:]
        if isinstance(body[0], A.Query):
            return _e(A.CountSubquery(body[0], None, None), meta)
        where = body[1][1] if len(body) > 1 else None
        return _e(A.CountSubquery(None, body[0], where), meta)

    def collect_subquery(self, meta, ch):
        return _e(A.CollectSubquery(ch[1]), meta)

    def union_op(self, meta, ch):
        return ("union", bool(ch))

    def single_query(self, meta, ch):
        return list(ch)

    def match_clause(self, meta, ch):
        optional = isinstance(ch[0], Token) and ch[0].type == "OPTIONAL"
        rest = ch[1:] if optional else ch
        return A.Match(optional, rest[0], rest[1][1] if len(rest) > 1 else None)

    def where(self, meta, ch):
        return ("where", ch[0])

    def unwind_clause(self, meta, ch):
        return A.Unwind(ch[0], ch[1].name)

    def with_clause(self, meta, ch):
        where = ch[1][1] if len(ch) > 1 else None
        return A.With(ch[0], where)

    def return_clause(self, meta, ch):
        return A.Return(ch[0])

    def projection_body(self, meta, ch):
        distinct = isinstance(ch[0], Token) and ch[0].type == "DISTINCT"
        rest = ch[1:] if distinct else ch
        star, items = rest[0]
        opts = dict(rest[1:])
        return A.Projection(distinct, star, items, opts.get("order", []), opts.get("skip"), opts.get("limit"))

    def projection_items(self, meta, ch):
        star = isinstance(ch[0], Token) and ch[0].type == "STAR"
        return star, [c for c in ch if isinstance(c, A.ProjItem)]

    def projection_item(self, meta, ch):
        if len(ch) > 1:
            return A.ProjItem(ch[0], ch[1].name, True)
        return A.ProjItem(ch[0], self.text[meta.start_pos:meta.end_pos], False)

    def order(self, meta, ch):
        return ("order", list(ch))

    def sort_item(self, meta, ch):
        desc = any(c.type == "SORT_DIRECTION" and str(c).upper().startswith("DESC") for c in ch[1:])
        nulls = next((str(c).split()[-1].lower() for c in ch[1:] if c.type == "NULLS_ORDER"), None)
        return (ch[0], desc, nulls)

    def skip(self, meta, ch):
        return ("skip", ch[0])

    def limit(self, meta, ch):
        return ("limit", ch[0])

    def create_clause(self, meta, ch):
        return A.Create(ch[0])

    def merge_clause(self, meta, ch):
        on_match, on_create = [], []
        for kind, items in ch[1:]:
            (on_match if kind == "match" else on_create).extend(items)
        return A.Merge(ch[0], on_match, on_create)

    def on_match(self, meta, ch):
        return ("match", ch[0].items)

    def on_create(self, meta, ch):
        return ("create", ch[0].items)

    def set_clause(self, meta, ch):
        return A.SetClause(list(ch))

    def set_property(self, meta, ch):
        return A.SetProperty(ch[0], ch[1])

    def set_all(self, meta, ch):
        return A.SetAll(ch[0].name, ch[1])

    def set_merge(self, meta, ch):
        return A.SetMerge(ch[0].name, ch[1])

    def set_labels(self, meta, ch):
        return A.SetLabels(ch[0].name, list(ch[1]))

    def remove_clause(self, meta, ch):
        return A.Remove(list(ch))

    def remove_labels(self, meta, ch):
        return A.RemoveLabels(ch[0].name, list(ch[1]))

    def remove_property(self, meta, ch):
        return A.RemoveProperty(ch[0])

    def property_target(self, meta, ch):
        node = ch[0]
        for key in ch[1:]:
            node = _e(A.Prop(node, key), meta)
        return node

    def delete_clause(self, meta, ch):
        detach = isinstance(ch[0], Token) and ch[0].type == "DETACH"
        return A.Delete(detach, list(ch[1:] if detach else ch))

    def call_clause(self, meta, ch):
        name, args, yields, where = ch[0], None, None, None
        for c in ch[1:]:
            if isinstance(c, tuple) and c[0] == "args":
                args = c[1]
            elif isinstance(c, tuple) and c[0] == "yield":
                yields, where = c[1], c[2]
        return A.Call(name, args, yields, where)

    def show_indexes(self, meta, ch):
        """``SHOW INDEXES [YIELD ...]``: a call of the built-in procedure db.indexes()."""
        yields, where = (ch[0][1], ch[0][2]) if ch else (None, None)
        return A.Call("db.indexes", [], yields, where)

    def proc_name(self, meta, ch):
        return ".".join(_name(c) for c in ch)

    def call_args(self, meta, ch):
        return ("args", list(ch))

    def yield_items(self, meta, ch):
        where = None
        if ch and isinstance(ch[-1], tuple) and ch[-1][0] == "where":
            where = ch[-1][1]
            ch = ch[:-1]
        if ch and isinstance(ch[0], Token) and ch[0].type == "STAR":
            return ("yield", "*", where)
        return ("yield", list(ch), where)

    def yield_item(self, meta, ch):
        return (_name(ch[0]), ch[1].name if len(ch) > 1 else _name(ch[0]))

    # ------------------------------------------------------------ patterns
    def pattern(self, meta, ch):
        return list(ch)

    def pattern_part(self, meta, ch):
        path_var = ch[0].name if len(ch) > 1 else None
        last = ch[-1]
        if isinstance(last, tuple) and last and last[0] == "shortest":
            return A.PatternPart(path_var, last[2], last[3], last[1])
        nodes, rels = last
        return A.PatternPart(path_var, nodes, rels)

    def pattern_element(self, meta, ch):
        return list(ch[0::2]), list(ch[1::2])

    def node_pattern(self, meta, ch):
        var, labels, props = None, [], None
        for c in ch:
            if isinstance(c, A.Var):
                var = c.name
            elif isinstance(c, _Labels):
                labels = list(c)
            else:
                props = c
        return A.NodePattern(var, labels, props, _meta_pos(meta))

    def node_labels(self, meta, ch):
        return _Labels(ch)

    def label_name(self, meta, ch):
        return _name(ch[0])

    def _rel(self, meta, ch, direction):
        detail = next((c for c in ch if isinstance(c, A.RelPattern)), None)
        if detail is None:
            detail = A.RelPattern(None, [], direction, None, None)
        detail.direction = direction
        detail.pos = _meta_pos(meta)
        return detail

    def rel_both(self, meta, ch):
        return self._rel(meta, ch, "both")

    def rel_left(self, meta, ch):
        return self._rel(meta, ch, "in")

    def rel_right(self, meta, ch):
        return self._rel(meta, ch, "out")

    def rel_both_bare(self, meta, ch):
        return self._rel(meta, ch, "both")

    def rel_left_bare(self, meta, ch):
        return self._rel(meta, ch, "in")

    def rel_right_bare(self, meta, ch):
        return self._rel(meta, ch, "out")

    def rel_detail(self, meta, ch):
        var, types, length, props = None, [], None, None
        for c in ch:
            if isinstance(c, A.Var):
                var = c.name
            elif isinstance(c, _Types):
                types = list(c)
            elif isinstance(c, _Range):
                length = tuple(c)
            else:
                props = c
        return A.RelPattern(var, types, "both", length, props)

    def rel_types(self, meta, ch):
        return _Types(ch)

    def range_literal(self, meta, ch):
        dots = any(isinstance(c, Token) and c.type == "RANGE_DOTS" for c in ch)
        bounds, before = [None, None], True
        for c in ch[1:]:
            if isinstance(c, Token) and c.type == "RANGE_DOTS":
                before = False
            else:
                bounds[0 if before else 1] = c
        if not dots:
            return _Range((bounds[0], bounds[0]) if bounds[0] is not None else (1, None))
        return _Range((1 if bounds[0] is None else bounds[0], bounds[1]))

    def range_bound(self, meta, ch):
        v = _number(str(ch[0]), ch[0].start_pos)
        if not isinstance(v, int):
            raise _SyntaxProblem("a variable-length bound must be an integer", ch[0].start_pos)
        return v

    # ------------------------------------------------------------ expressions
    def _bin(op):
        def f(self, meta, ch):
            return _e(A.BinOp(op, ch[0], ch[-1]), meta)
        return f

    or_op = _bin("OR")
    xor_op = _bin("XOR")
    and_op = _bin("AND")
    starts_with = _bin("STARTS WITH")
    ends_with = _bin("ENDS WITH")
    contains = _bin("CONTAINS")
    in_op = _bin("IN")
    regex_match = _bin("=~")
    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    mod = _bin("%")
    pow = _bin("^")
    del _bin

    def not_op(self, meta, ch):
        return _e(A.Not(ch[0]), meta)

    def comparison(self, meta, ch):
        return _e(A.Compare(list(ch[0::2]), [str(c) for c in ch[1::2]]), meta)

    def comp_op(self, meta, ch):
        return str(ch[0])

    def is_null(self, meta, ch):
        return _e(A.IsNull(ch[0], False), meta)

    def is_not_null(self, meta, ch):
        return _e(A.IsNull(ch[0], True), meta)

    def neg(self, meta, ch):
        x = ch[0]
        if isinstance(x, A.Literal) and type(x.value) in (int, float) and not getattr(x, "negated", False):
            lit = _e(A.Literal(-x.value), meta)
            lit.negated = True
            return lit
        return _e(A.Neg(x), meta)

    def pos(self, meta, ch):
        return ch[0]

    def property(self, meta, ch):
        return _e(A.Prop(ch[0], ch[1]), meta)

    def index(self, meta, ch):
        return _e(A.Index(ch[0], ch[1]), meta)

    def slice(self, meta, ch):
        lo = hi = None
        before = True
        for c in ch[1:]:
            if isinstance(c, Token) and c.type == "RANGE_DOTS":
                before = False
            elif before:
                lo = c
            else:
                hi = c
        return _e(A.Slice(ch[0], lo, hi), meta)

    def has_labels(self, meta, ch):
        return _e(A.HasLabels(ch[0], list(ch[1])), meta)

    def count_star(self, meta, ch):
        if _name(ch[0]).lower() != "count":
            raise _SyntaxProblem(f"'{_name(ch[0])}(*)' is not valid; only count(*) takes '*'", _meta_pos(meta))
        return _e(A.CountStar(), meta)

    def function_call(self, meta, ch):
        name = _name(ch[0]).lower()
        distinct = len(ch) > 1 and isinstance(ch[1], Token) and ch[1].type == "DISTINCT"
        args = list(ch[2:] if distinct else ch[1:])
        return _e(A.FuncCall(name, args, distinct), meta)

    def quantifier(self, meta, ch):
        kind = str(ch[0]).lower()
        if kind not in ("all", "any", "none", "single"):
            raise _SyntaxProblem(f"'{ch[0]}(... WHERE ...)' is not a known quantifier (all, any, none, single)",
                                 _meta_pos(meta))
        var, src = self._in_binding(ch[1], meta)
        return _e(A.Quantifier(kind, var, src, ch[2]), meta)

    def reduce_expr(self, meta, ch):
        acc = ch[1]
        if not (isinstance(acc, A.Compare) and acc.ops == ["="] and isinstance(acc.operands[0], A.Var)):
            raise _SyntaxProblem("expected 'accumulator = initial value' as reduce()'s first argument, as in "
                                 "reduce(total = 0, x IN list | total + x)", _meta_pos(meta))
        var, src = self._in_binding(ch[2], meta)
        return _e(A.Reduce(acc.operands[0].name, acc.operands[1], var, src, ch[3]), meta)

    def exists_subquery(self, meta, ch):
        body = ch[1:]
        if isinstance(body[0], A.Query):
            return _e(A.ExistsSubquery(body[0], None, None), meta)
        where = body[1][1] if len(body) > 1 else None
        return _e(A.ExistsSubquery(None, body[0], where), meta)

    def case_expr(self, meta, ch):
        alts = [c for c in ch if isinstance(c, tuple)]
        first = next(i for i, c in enumerate(ch) if isinstance(c, tuple))
        last = max(i for i, c in enumerate(ch) if isinstance(c, tuple))
        subject = ch[0] if first == 1 else None
        default = ch[last + 1] if last + 1 < len(ch) else None
        return _e(A.Case(subject, [(w, t) for _, w, t in alts], default), meta)

    def case_alternative(self, meta, ch):
        return ("when", ch[0], ch[1])

    def list_literal(self, meta, ch):
        return _e(A.ListLit(list(ch)), meta)

    def _in_binding(self, expr, meta):
        if isinstance(expr, A.BinOp) and expr.op == "IN" and isinstance(expr.left, A.Var):
            return expr.left.name, expr.right
        raise _SyntaxProblem("expected 'variable IN list' here", _meta_pos(meta))

    def _comprehension(self, meta, head, where, proj):
        if isinstance(head, A.PatternExpr):
            if proj is None:
                raise _SyntaxProblem("a pattern comprehension needs '| expression'", _meta_pos(meta))
            return _e(A.PatternComp(head.part, where, proj), meta)
        if (isinstance(head, A.Compare) and head.ops == ["="] and isinstance(head.operands[0], A.Var)
                and isinstance(head.operands[1], A.PatternExpr)):
            part = head.operands[1].part
            part.path_var = head.operands[0].name
            if proj is None:
                raise _SyntaxProblem("a pattern comprehension needs '| expression'", _meta_pos(meta))
            return _e(A.PatternComp(part, where, proj), meta)
        var, src = self._in_binding(head, meta)
        return _e(A.ListComp(var, src, where, proj), meta)

    def list_comprehension_map(self, meta, ch):
        return self._comprehension(meta, ch[0], None, ch[1])

    def list_comprehension_where(self, meta, ch):
        return self._comprehension(meta, ch[0], ch[1], None)

    def list_comprehension_full(self, meta, ch):
        return self._comprehension(meta, ch[0], ch[1], ch[2])

    def map_projection(self, meta, ch):
        return _e(A.MapProjection(ch[0].name, list(ch[1:])), meta)

    def mp_property(self, meta, ch):
        return ("prop", ch[0])

    def mp_literal(self, meta, ch):
        return ("lit", ch[0], ch[1])

    def mp_variable(self, meta, ch):
        return ("var", ch[0].name)

    def mp_all(self, meta, ch):
        return ("all",)

    def pattern_expr(self, meta, ch):
        nodes, rels = [ch[0]] + list(ch[2::2]), list(ch[1::2])
        return _e(A.PatternExpr(A.PatternPart(None, nodes, rels)), meta)

    def head_expr(self, meta, ch):
        x, pos = ch[0], _meta_pos(meta)
        if isinstance(x, A.Var):
            return A.NodePattern(x.name, [], None, pos)
        if isinstance(x, A.HasLabels) and isinstance(x.subject, A.Var):
            return A.NodePattern(x.subject.name, list(x.labels), None, pos)
        if isinstance(x, A.MapLit):
            return A.NodePattern(None, [], x, pos)
        if isinstance(x, A.MapProjection) and all(i[0] == "lit" for i in x.items):
            return A.NodePattern(x.var, [], A.MapLit([(i[1], i[2]) for i in x.items], pos=x.pos), pos)
        raise _SyntaxProblem("expected a node pattern like (n), (n:Label) or (n {key: value})", pos)

    def head_labels_props(self, meta, ch):
        if not isinstance(ch[0], A.Var):
            raise _SyntaxProblem("expected a node pattern", _meta_pos(meta))
        return A.NodePattern(ch[0].name, list(ch[1]), ch[2], _meta_pos(meta))

    def head_empty(self, meta, ch):
        return A.NodePattern(None, [], None, _meta_pos(meta))

    def head_anon(self, meta, ch):
        return A.NodePattern(None, list(ch[0]), ch[1] if len(ch) > 1 else None, _meta_pos(meta))

    # ------------------------------------------------------------ literals and names
    def number(self, meta, ch):
        return _e(A.Literal(_number(str(ch[0]), ch[0].start_pos)), meta)

    def string(self, meta, ch):
        s = str(ch[0])
        return _e(A.Literal(_unescape(s[1:-1], ch[0].start_pos)), meta)

    def true(self, meta, ch):
        return _e(A.Literal(True), meta)

    def false(self, meta, ch):
        return _e(A.Literal(False), meta)

    def null(self, meta, ch):
        return _e(A.Literal(None), meta)

    def map_literal(self, meta, ch):
        return _e(A.MapLit([(ch[i], ch[i + 1]) for i in range(0, len(ch), 2)]), meta)

    def parameter(self, meta, ch):
        return _e(A.Param(_name(str(ch[0])[1:])), meta)

    def variable(self, meta, ch):
        return _e(A.Var(_name(ch[0])), meta)

    def prop_key(self, meta, ch):
        return _name(ch[0])


def _describe(name: str) -> str:
    try:
        term = _PARSER.get_terminal(name)
    except KeyError:
        return name
    pat = term.pattern
    if pat.type == "str":
        return pat.value.upper() if pat.value.isalpha() else f"'{pat.value}'"
    return {"NAME": "a name", "ESCAPED_NAME": "a `quoted name`", "NUMBER": "a number", "STRING": "a string",
            "PARAM": "a $parameter", "LARROW_OPEN": "'<-['", "DASH_OPEN": "'-['", "CLOSE_ARROW": "']->'",
            "CLOSE_DASH": "']-'", "SORT_DIRECTION": "ASC/DESC", "EXISTS_BRACE": "EXISTS {",
            "NS_FUNCTION_NAME": "a function name"}.get(name, name)


def _expected(names) -> list:
    out = set()
    for n in names:
        if n == "$END":
            out.add("end of query")
        elif n.startswith("__"):  # anonymous terminals: only literal ones are worth naming
            try:
                pat = _PARSER.get_terminal(n).pattern
            except KeyError:
                continue
            if pat.type == "str":
                out.add(f"'{pat.value}'")
        else:
            out.add(_describe(n))
    return sorted(out)


def _acceptable(e: UnexpectedToken) -> set:
    """Terminals the parser would accept where it stopped (more precise than ``e.expected``,
    which, after a contextual-lexer fallback, lists what the lexer allowed)."""
    ip = getattr(e, "interactive_parser", None)
    if ip is not None:
        try:
            return set(ip.accepts())
        except Exception:  # accepts() replays the parser; fall back to lark's own list
            pass
    return set(e.expected)


def parse(text: str, *, deadline: Optional[float] = None) -> A.Query:
    """Parse query text into an AST.

    Args:
        text: the query.
        deadline: a ``time.monotonic()`` value; parsing past it raises OperationalError.

    Raises:
        QuerySyntaxError: the text is not a valid query (message, .line, .column, .snippet),
            or it is longer than MAX_QUERY_LENGTH or nests deeper than MAX_NESTING
            (``.code == "QueryTooComplex"``).
        NotSupportedError: valid syntax for a feature lpgdb does not implement.
        OperationalError: the deadline passed while parsing.
    """
    if not isinstance(text, str):
        raise InterfaceError(f"a query must be a str, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise _syntax(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_LENGTH:,}: "
                      f"pass large values as $parameters", text, MAX_QUERY_LENGTH, "QueryTooComplex")
    try:
        tree = _parse_tree(text, deadline)
    except UnexpectedInput as e:
        raise _convert(e, text) from None
    except LarkError as e:  # any other lark failure is still a syntax error, never a lark one
        raise _syntax(f"the query does not parse ({type(e).__name__})", text, 0) from None
    _check_nesting(tree, text)
    try:
        return _ToAst(text).transform(tree)
    except VisitError as e:
        orig = e.orig_exc
        if isinstance(orig, _SyntaxProblem):
            raise _syntax(str(orig), text, orig.pos, orig.code) from None
        if isinstance(orig, Error):
            raise orig from None
        raise


def _parse_tree(text: str, deadline: Optional[float]) -> Tree:
    """lark's LALR loop (``parse_from_state``), also checking the deadline and the stack depth."""
    ip = _PARSER.parse_interactive(text)
    state = ip.parser_state
    clauses = [0, None]  # clauses reduced since the last UNION (subqueries' too), the last kind
    state.parse_conf = _counting_conf(state.parse_conf, clauses)
    token, n = None, 0
    try:
        for token in ip.lexer_thread.lex(state):
            state.feed_token(token)
            if clauses[0] > 2 * MAX_NESTING:   # a chain of clauses far past the limit: stop now
                raise _too_deep(text, token.start_pos)
            n += 1
            if n % _TICK == 0 and deadline is not None and time.monotonic() > deadline:
                raise OperationalError(f"the query timed out while being parsed (at line {token.line}); "
                                       f"raise the timeout or simplify the query")
            if n > MAX_TOKENS:
                raise _syntax(f"the query has more than {MAX_TOKENS:,} tokens; pass large values as "
                              f"$parameters or split the query", text, token.start_pos, "QueryTooComplex")
            if len(state.value_stack) > _MAX_STACK:
                raise _too_deep(text, token.start_pos)
        end = Token.new_borrow_pos("$END", "", token) if token is not None else Token("$END", "", 0, 1, 1)
        return state.feed_token(end, True)
    except UnexpectedInput as e:
        e.interactive_parser = ip   # for _acceptable(): what the parser accepts at the error
        raise


def _counting_conf(conf, counter: list):
    """``conf`` (lark's ParseConf) with callbacks that count clause reductions in ``counter[0]``
    and reset it at each UNION: an early, generous bound on a chain of clauses, which the LALR
    stack does not show (``clause+`` reduces left-recursively)."""
    def clause(kind, f):
        def reduce(s):
            if not (kind == counter[1] == "create_clause"):    # a run of CREATEs counts once
                counter[0] += 1
            counter[1] = kind
            return f(s)
        return reduce

    def union(f):
        def reduce(s):
            counter[0], counter[1] = 0, None
            return f(s)
        return reduce

    cbs = dict(conf.callbacks)
    for rule, f in conf.callbacks.items():
        name = rule.origin.name
        if name == "clause":
            cbs[rule] = clause(rule.expansion[0].name, f)
        elif name == "union_op":
            cbs[rule] = union(f)
    return type(conf)(conf.parse_table, cbs, conf.start)


def _too_deep(text: str, pos: int) -> QuerySyntaxError:
    return _syntax(f"the query is nested too deeply: more than {MAX_NESTING} levels of nested "
                   f"expressions, subqueries and chained clauses; simplify it or split it",
                   text, max(pos, 0), "QueryTooComplex")


def _check_nesting(tree: Tree, text: str) -> None:
    """Refuse a tree nested deeper than MAX_NESTING."""
    depth, deepest = _nesting(tree)
    if depth > MAX_NESTING:
        raise _too_deep(text, _meta_pos(deepest.meta) if isinstance(deepest, Tree) else deepest.start_pos)


# Rules whose children run one inside the other: a query part's clauses, FOREACH's body, and the
# steps of a pattern (each step is one more operator, planned recursively).
_CHAINED = ("single_query", "foreach_clause", "pattern_element")


def _nesting(tree: Tree):
    """(depth, deepest subtree) of a parse tree, walked iteratively (it may be deep).

    Depth counts tree levels; the clauses of a query part (and the steps of a pattern) count as
    nested one in the other, since each runs inside the previous one (a run of CREATE clauses
    counts once: it is one CREATE of all their patterns)."""
    best, deepest = 0, tree
    stack = [(tree, 0)]
    while stack:
        t, d = stack.pop()
        if d > best:
            best, deepest = d, t
        if t.data in _CHAINED:
            level, prev = d, None
            for c in t.children:
                if isinstance(c, Tree):
                    if not (c.data == prev == "create_clause"):   # CREATE a CREATE b = CREATE a, b
                        level += 1
                    prev = c.data
                    stack.append((c, level))
        else:
            stack.extend((c, d + 1) for c in t.children if isinstance(c, Tree))
    return best, deepest


def _convert(e: UnexpectedInput, text: str) -> QuerySyntaxError:
    pos = getattr(e, "pos_in_stream", None)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        e.expected = _acceptable(e)
        if tok.type == "$END":
            err = _syntax("query ended unexpectedly; expected one of: " + ", ".join(_expected(e.expected)),
                          text, len(text))
        else:
            exp = _expected(e.expected)
            in_rel = "CLOSE_DASH" in e.expected or "CLOSE_ARROW" in e.expected
            in_range = tok.type == "RANGE_DOTS" or ("RANGE_DOTS" in e.expected and in_rel)
            code = "InvalidRelationshipPattern" if in_range else "UnexpectedSyntax"
            err = _syntax(f"unexpected '{tok}'; expected one of: {', '.join(exp)}", text, tok.start_pos, code)
        err.expected = _expected(e.expected)
        return err
    if isinstance(e, UnexpectedEOF):
        return _syntax("query ended unexpectedly", text, len(text))
    if isinstance(e, UnexpectedCharacters):
        p = e.pos_in_stream
        if p >= len(text):
            return _syntax("query ended unexpectedly", text, len(text))
        ch = text[p]
        if ch in "'\"":
            return _syntax("unterminated string literal", text, p)
        exp = _expected(e.allowed or ())
        msg = f"unexpected character {ch!r}"
        if exp:
            msg += "; expected one of: " + ", ".join(exp)
        err = _syntax(msg, text, p, "UnexpectedSyntax" if ch.isascii() else "InvalidUnicodeCharacter")
        err.expected = exp
        return err
    return _syntax(str(e).splitlines()[0], text, pos or 0)

"""PG-Schema DDL text → syntax tree (lpgdb.schema.ast). The only module that imports lark for schemas.

Owns: loading ``grammar/pgschema.lark`` (LALR, contextual lexer, built once), turning lark's tree
into AST dataclasses with 1-based positions, and turning every lark failure into a
``SchemaSyntaxError`` whose message is in plain words, with the offending source line and a caret,
and the list of what would have been accepted there. No lark exception ever leaves this module.

Purely syntactic checks that the grammar leaves to code live here too (a qualifier written twice,
IDENTIFIER/KEY mixed with other qualifiers); name resolution is graphtype.py's job.

Limits (B10): DDL is at most ``MAX_DDL_LENGTH`` characters and ``MAX_DDL_TOKENS`` tokens and nests
at most ``MAX_NESTING`` levels (label expressions, WHERE expressions). Beyond them the text is
refused with ``SchemaSyntaxError`` before any tree is built, so resolution and validation never
recurse deeper than that; the parser itself never recurses on the input.
"""
from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import List, Optional

import lark
from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import SchemaSyntaxError, SemanticError
from ..values import plain
from . import ast

__all__ = ["parse_ddl", "MAX_DDL_LENGTH", "MAX_DDL_TOKENS", "MAX_NESTING"]

MAX_DDL_LENGTH = 1_000_000
"""Longest DDL text accepted, in characters."""

MAX_DDL_TOKENS = 200_000
"""Most tokens accepted (names, keywords, punctuation)."""

MAX_NESTING = 200
"""Deepest nesting of the syntax tree accepted (label expressions, WHERE expressions)."""

# The LALR value stack grows by one or two entries per open nesting level ('(' or 'NOT'); past
# this the text certainly nests deeper than MAX_NESTING, and parsing stops at once.
_MAX_STACK = 2 * MAX_NESTING + 64

_parser: Optional[lark.Lark] = None

# What a terminal is called in an error message.
_TERMINAL_WORDS = {
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'",
    "COMMA": "','", "LISTSEP": "','", "SEMICOLON": "';'", "COLON": "':'", "MINUS": "'-'",
    "MORETHAN": "'>'", "LESSTHAN": "'<'", "VBAR": "'|'", "AMPERSAND": "'&'", "QMARK": "'?'",
    "BANG": "'!'", "DOT": "'.'", "__ANON_0": "'..'", "TUPLE_OPEN": "'('",
    "NAME": "a name", "INT": "an integer", "DECIMAL": "a number", "STRING": "a string",
    "COMP_OP": "a comparison operator", "$END": "the end of the text",
}


def _grammar_text() -> str:
    """grammar/pgschema.lark: the installed package's ``lpgdb.grammar``, or the source tree's
    grammar/ next to the lpgdb package (a checkout on PYTHONPATH, as the query parser finds its
    grammar)."""
    try:
        return resources.files("lpgdb.grammar").joinpath("pgschema.lark").read_text(encoding="utf-8")
    except (ImportError, OSError):
        here = Path(__file__).resolve().parent
        for candidate in (here.parent / "grammar" / "pgschema.lark", here.parents[1] / "grammar" / "pgschema.lark"):
            if candidate.exists():
                return candidate.read_text(encoding="utf-8")
        raise


def _get_parser() -> lark.Lark:
    global _parser
    if _parser is None:
        text = _grammar_text()
        opts = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)
        try:    # parse tables cached on disk (keyed by grammar + options): 1.5 s less per process
            _parser = lark.Lark(text, cache=True, **opts)
        except OSError:     # no writable temp dir
            _parser = lark.Lark(text, **opts)
    return _parser


def parse_ddl(text: str) -> ast.Schema:
    """Parse DDL text into an ``ast.Schema``; raise SchemaSyntaxError (or SemanticError) if it is wrong."""
    text = plain(text)
    if type(text) is not str:
        raise SchemaSyntaxError(f"schema DDL must be a str, not {type(text).__name__}")
    if not text.strip():
        raise SchemaSyntaxError("the schema is empty: expected CREATE GRAPH TYPE, CREATE NODE TYPE "
                                "or CREATE EDGE TYPE", line=1, column=1, expected=["CREATE"])
    if len(text) > MAX_DDL_LENGTH:
        raise SchemaSyntaxError(f"the schema is {len(text):,} characters long; the limit is "
                                f"{MAX_DDL_LENGTH:,}")
    try:
        tree = _parse_tree(text)
        _check_nesting(tree, text)
        return _ToAst().transform(tree)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, (SchemaSyntaxError, SemanticError)):
            raise e.orig_exc from None
        raise
    except LarkError as e:  # any other lark failure: still never a raw lark exception
        raise SchemaSyntaxError(f"the schema does not parse ({type(e).__name__})") from None


def _parse_tree(text: str) -> Tree:
    """lark's LALR loop (``parse_from_state``), also bounding the tokens and the stack depth."""
    ip = _get_parser().parse_interactive(text)
    state = ip.parser_state
    token, n = None, 0
    try:
        for token in ip.lexer_thread.lex(state):
            state.feed_token(token)
            n += 1
            if n > MAX_DDL_TOKENS:
                raise SchemaSyntaxError(f"the schema has more than {MAX_DDL_TOKENS:,} tokens; split it",
                                        line=token.line, column=token.column)
            if len(state.value_stack) > _MAX_STACK:
                raise _too_deep(text, token.line, token.column)
        end = Token.new_borrow_pos("$END", "", token) if token is not None else Token("$END", "", 0, 1, 1)
        return state.feed_token(end, True)
    except UnexpectedInput as e:
        e.interactive_parser = ip
        raise


def _check_nesting(tree: Tree, text: str) -> None:
    """Refuse a tree deeper than MAX_NESTING (walked iteratively: it may be deep)."""
    stack = [(tree, 0)]
    while stack:
        t, d = stack.pop()
        if d > MAX_NESTING:
            meta = t.meta
            line, column = (None, None) if getattr(meta, "empty", True) else (meta.line, meta.column)
            raise _too_deep(text, line, column)
        stack.extend((c, d + 1) for c in t.children if isinstance(c, Tree))


def _too_deep(text: str, line: Optional[int], column: Optional[int]) -> SchemaSyntaxError:
    snippet = _snippet(text, line, column) if line is not None else ""
    return SchemaSyntaxError(f"the schema is nested too deeply: more than {MAX_NESTING} levels of "
                             f"parentheses, '&'/'|' or NOT chains; simplify it", line=line, column=column,
                             snippet=snippet)


def _describe(expected) -> List[str]:
    words = set()
    for name in expected:
        if name in _TERMINAL_WORDS:
            words.add(_TERMINAL_WORDS[name])
        elif name.isupper() and not name.startswith("_"):
            words.add(name)
        else:
            words.add(name.lower())
    return sorted(words)


_SNIPPET_WIDTH = 160


def _snippet(text: str, line: int, column: int) -> str:
    lines = text.splitlines() or [""]
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    caret = max(column - 1, 0)
    if len(src) > _SNIPPET_WIDTH:    # a window around the column, not a megabyte line
        lo = max(0, min(caret - _SNIPPET_WIDTH // 2, len(src) - _SNIPPET_WIDTH))
        src, caret = src[lo:lo + _SNIPPET_WIDTH], caret - lo
    return f"  {src}\n  {' ' * caret}^"


def _syntax_error(text: str, e: UnexpectedInput) -> SchemaSyntaxError:
    line, column = getattr(e, "line", None), getattr(e, "column", None)
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the text"
        expected = _describe(e.expected)
    elif isinstance(e, UnexpectedToken):
        found = f"{e.token.value!r}"
        expected = _describe(e.expected)
    elif isinstance(e, UnexpectedCharacters):
        found = f"character {e.char!r}"
        expected = _describe(e.allowed or [])
    else:
        found, expected = "something unexpected", []
    if line is None or line < 1:
        line, column = 1, 1
    message = f"unexpected {found}"
    if expected:
        shown = expected if len(expected) <= 8 else expected[:8] + ["..."]
        message += f"; expected {', '.join(shown)}"
    if {"STRICT", "LOOSE"} <= set(expected):
        message += " (a graph type needs a mode: write STRICT, or LOOSE for partial typing)"
    elif "a name" in expected and found.startswith("':'"):
        message += " (every type needs a name, e.g. -[knowsType: knows]->)"
    elif "a name" in expected and "OPTIONAL" in expected and found == "'}'":
        message += " (a trailing comma is not allowed)"
    elif found.startswith("'") and found[1:-1].upper() in ("UNIQUE",):
        message += " (use EXCLUSIVE, MANDATORY, SINGLETON, IDENTIFIER/KEY or COUNT n..m OF)"
    return SchemaSyntaxError(message, line=line, column=column, snippet=_snippet(text, line, column),
                             expected=expected)


def _name(tok) -> str:
    """A NAME token's text: back-quoted names lose their quotes (a doubled back-quote is one)."""
    s = str(tok)
    if s.startswith("`"):
        return s[1:-1].replace("``", "`")
    return s


def _pos(meta):
    if getattr(meta, "empty", True):
        return {"line": None, "column": None}
    return {"line": meta.line, "column": meta.column}


_QUALIFIER_ORDER = ("EXCLUSIVE", "MANDATORY", "SINGLETON", "IDENTIFIER")


def _qualifiers(tokens, meta) -> tuple:
    words = []
    for t in tokens:
        w = str(t).upper()
        w = "IDENTIFIER" if w == "KEY" else w
        if w in words:
            raise SemanticError(f"qualifier {w} is written twice", kind="duplicate_qualifier",
                                line=t.line, column=t.column)
        words.append(w)
    if "IDENTIFIER" in words and len(words) > 1:
        raise SemanticError("IDENTIFIER (KEY) already means EXCLUSIVE MANDATORY SINGLETON; "
                            "do not combine it with other qualifiers", kind="duplicate_qualifier",
                            **_pos(meta))
    return tuple(w for w in _QUALIFIER_ORDER if w in words)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    # ---- statements ----
    def start(self, meta, items):
        return ast.Schema(tuple(i for i in items if not isinstance(i, Token)))

    def create_node_type(self, meta, items):
        _c, _n, _t, abstract, nt = items
        return _with_abstract(nt, abstract)

    def create_edge_type(self, meta, items):
        _c, _e, _t, abstract, et = items
        return _with_abstract(et, abstract)

    def create_graph_type(self, meta, items):
        name_tok, mode, imports = items[3], items[4], items[5]
        elements = tuple(i for i in items[6:] if i is not None)
        return ast.GraphTypeDef(name_tok[0], mode, tuple(n for n, _ in imports), elements,
                                import_positions=tuple(p for _, p in imports), **_pos(meta))

    def abstract(self, meta, items):
        return bool(items and items[0] is not None)

    def graph_mode(self, meta, items):
        return str(items[0]).upper() == "STRICT"

    def imports(self, meta, items):
        return [n for n in items if not isinstance(n, Token)]

    def name(self, meta, items):
        tok = items[0]
        return (_name(tok), (tok.line, tok.column))

    def type_ref(self, meta, items):
        n, (line, col) = items[0]
        return ast.TypeRef(n, line=line, column=col)

    def body_node_type(self, meta, items):
        return _with_abstract(items[1], items[0])

    body_edge_type = body_node_type

    def node_type(self, meta, items):
        (n, (line, col)), spec = items
        return ast.NodeTypeDef(n, spec, line=line, column=col)

    def edge_type(self, meta, items):
        src, (n, (line, col)), spec, dst = items
        return ast.EdgeTypeDef(n, src, spec, dst, line=line, column=col)

    def endpoint(self, meta, items):
        return items[0]

    def label_property_spec(self, meta, items):
        labels, open_labels, props = items
        return ast.LabelPropertySpec(labels, open_labels, props)

    def open_labels(self, meta, items):
        return bool(items and items[0] is not None)

    # ---- label specs ----
    def label_or(self, meta, items):
        return items[0] if len(items) == 1 else ast.LabelOr(tuple(items))

    def label_and(self, meta, items):
        return items[0] if len(items) == 1 else ast.LabelAnd(tuple(items))

    def label_optional(self, meta, items):
        return ast.LabelOptional(items[0])

    def label_name(self, meta, items):
        n, (line, col) = items[0]
        return ast.LabelName(n, line=line, column=col)

    lx_or = label_or
    lx_and = label_and
    lx_name = label_name

    def lx_not(self, meta, items):
        return ast.LabelNot(items[0])

    # ---- properties ----
    def property_spec(self, meta, items):
        props = tuple(i for i in items if isinstance(i, ast.PropertyDef))
        return ast.PropertySpec(props, "OPEN" in [i for i in items if isinstance(i, str)])

    def open_props(self, meta, items):
        return "OPEN"

    def property(self, meta, items):
        optional, (n, (line, col)), vt = items
        return ast.PropertyDef(n, vt, optional, line=line, column=col)

    def optional(self, meta, items):
        return bool(items and items[0] is not None)

    def value_type(self, meta, items):
        return _name(items[0]).upper()

    # ---- constraints ----
    def constraint(self, meta, items):
        _for, scope, where, (quals, count), desc = items
        d_items, within, within_where = desc
        if not d_items and count is None:
            raise SemanticError("a bare pattern descriptor is only allowed after COUNT ... OF",
                                kind="parse_error", **_pos(meta))
        return ast.Constraint(scope, where, quals, count, d_items, within, within_where, **_pos(meta))

    def node_scope(self, meta, items):
        (n, _), labels = items
        return ast.Scope(n, labels, edge=False)

    def edge_scope(self, meta, items):
        (n, _), labels = items
        return ast.Scope(n, labels, edge=True)

    def plain_qualifier(self, meta, items):
        return (_qualifiers(items, meta), None)

    def count_qualifier(self, meta, items):
        words = [t for t in items if isinstance(t, Token) and t.type in _QUALIFIER_TOKENS]
        rng = next(i for i in items if isinstance(i, tuple))
        lo, hi = rng
        if hi is not None and lo > hi:
            raise SemanticError(f"COUNT {lo}..{hi}: the lower bound is greater than the upper bound",
                                kind="invalid_count_range", **_pos(meta))
        return (_qualifiers(words, meta), rng)

    def range_exact(self, meta, items):
        return (int(items[0]), int(items[0]))

    def range_closed(self, meta, items):
        return (int(items[0]), int(items[1]))

    def range_from(self, meta, items):
        return (int(items[0]), None)

    def range_upto(self, meta, items):
        return (0, int(items[0]))

    def pattern_descriptor(self, meta, items):
        return ((), items[0], None)

    def items_descriptor(self, meta, items):
        d_items, within = items
        return (d_items,) + (within if within is not None else (None, None))

    def within_clause(self, meta, items):
        return (items[1], items[2])

    def where_clause(self, meta, items):
        return items[1]

    def desc_items(self, meta, items):
        return tuple(i for i in items if not isinstance(i, Token))

    def pattern(self, meta, items):
        return ast.Pattern(tuple(items[0::2]), tuple(items[1::2]))

    def node_pattern(self, meta, items):
        var, labels = items
        return ast.NodePattern(var[0] if var else None, labels)

    def _edge(self, items, direction):
        var, labels = items
        return ast.EdgePattern(var[0] if var else None, labels, direction)

    def edge_out(self, meta, items):
        return self._edge(items, "out")

    def edge_in(self, meta, items):
        return self._edge(items, "in")

    def edge_any(self, meta, items):
        return self._edge(items, "any")

    # ---- expressions ----
    def or_expr(self, meta, items):
        parts = [i for i in items if not isinstance(i, Token)]
        return parts[0] if len(parts) == 1 else ast.Or(tuple(parts))

    def and_expr(self, meta, items):
        parts = [i for i in items if not isinstance(i, Token)]
        return parts[0] if len(parts) == 1 else ast.And(tuple(parts))

    def not_expr(self, meta, items):
        return ast.Not(items[-1])

    def comparison(self, meta, items):
        left, op, right = items
        op = "<>" if str(op) == "!=" else str(op)
        return ast.Comparison(op, left, right)

    def is_null(self, meta, items):
        return ast.IsNull(items[0], negated=items[2] is not None)

    def var_ref(self, meta, items):
        n, (line, col) = items[0]
        return ast.Var(n, line=line, column=col)

    def prop_ref(self, meta, items):
        (v, (line, col)), (k, _) = items
        return ast.Prop(v, k, line=line, column=col)

    def int_lit(self, meta, items):
        return ast.Literal(int(items[0]))

    def neg_int_lit(self, meta, items):
        return ast.Literal(-int(items[0]))

    def float_lit(self, meta, items):
        return ast.Literal(_finite(items[0]))

    def neg_float_lit(self, meta, items):
        return ast.Literal(-_finite(items[0]))

    def string_lit(self, meta, items):
        s = str(items[0])[1:-1]
        out, i = [], 0
        while i < len(s):
            if s[i] == "\\" and i + 1 < len(s):
                nxt = s[i + 1]
                out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                i += 2
            else:
                out.append(s[i])
                i += 1
        return ast.Literal("".join(out))

    def true_lit(self, meta, items):
        return ast.Literal(True)

    def false_lit(self, meta, items):
        return ast.Literal(False)

    def null_lit(self, meta, items):
        return ast.Literal(None)


def _finite(tok) -> float:
    v = float(tok)
    if math.isinf(v):
        raise SchemaSyntaxError(f"the number {str(tok)[:40]}... is too large for a DOUBLE",
                                line=tok.line, column=tok.column)
    return v


_QUALIFIER_TOKENS = {"EXCLUSIVE", "MANDATORY", "SINGLETON", "IDENTIFIER", "KEY"}


def _with_abstract(t, abstract: bool):
    if not abstract:
        return t
    from dataclasses import replace
    return replace(t, abstract=True)

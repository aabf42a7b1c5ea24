"""Literal auto-parameterization: texts that differ only in their literals share one plan.

An application that builds its queries as strings (``f"MATCH (p:Person {{id: {i}}}) RETURN
p.name"``) sends a new text every call, and a new text costs a parse, a check and a plan
(milliseconds) where a repeated one costs a dictionary lookup.  ``db.execute`` therefore
runs a new text through ``shape``: its number and string literals become hidden parameters
(``$autolit_i0``, ``$autolit_s1``, ...), so every text of the same *shape* shares one
``PreparedQuery`` and its plans, and the literals' values are bound like parameters.

A hidden parameter's name carries its literal's kind (``i`` int, ``f`` float, ``s`` str):
the semantic check gives it that literal's static type (``static_sample``), so the check
refuses exactly what it refuses for the literal.  What stays a literal:

* anything in a comment, a name (``n1``, ```a b```) or a ``$parameter``;
* a number right after ``SKIP``, ``LIMIT``, ``OF`` (``IN TRANSACTIONS OF 10 ROWS``),
  ``*`` or ``..`` (the bounds of ``-[*1..3]->``), or right before ``..``: these are
  checked by value or are not expressions;
* ``true``, ``false``, ``null``; an integer that does not fit in 64 bits; any literal
  followed directly by a name character or a dot.

The scanner's token forms are grammar/cypher.lark's STRING, NUMBER, PARAM, ESCAPED_NAME and
COMMENT (a form it does not take whole, such as ``0x1G``, leaves the text as written), and a
literal's value is the parser's own (``parser._number``, ``parser._unescape``).

A shape is used only if its text parses and checks, is a plain query (not EXPLAIN/PROFILE,
not a schema command), uses every hidden parameter, and no result column is named after one
(``RETURN 'x'`` names its column ``'x'``: such a text keeps its own statement).  The caller
(``lpgdb.database``) re-runs a failing shaped query from its own text, so error messages
and positions are always those of the text the user wrote.
"""
from __future__ import annotations

import re
from typing import Optional

from .parser import _SyntaxProblem, _number, _unescape

HIDDEN = "autolit_"

_TOKEN = re.compile(r"""
    (?P<skip> //[^\n]* | /\*.*?\*/ | `(?:[^`]|``)*` | \$(?:\w+|`(?:[^`]|``)*`) )
  | (?P<str> '(?:[^'\\]|\\.)*' | "(?:[^"\\]|\\.)*" )
  | (?<![\w.$]) (?P<num> 0[xX][0-9A-Fa-f]+ | 0[oO][0-7]+ | (?:\d+\.\d+|\.\d+|\d+)(?:[eE][-+]?\d+)? )
""", re.VERBOSE | re.DOTALL)      # (a digit inside a name, n1, is preceded by a name character)

_KEEP_AFTER_WORD = frozenset({"skip", "limit", "of"})
_KIND = {int: "i", float: "f", str: "s"}
_SAMPLE = {"i": 0, "f": 0.0, "s": ""}
_MAX_INT = 1 << 63


def shape(text: str, spans: Optional[list] = None) -> Optional[tuple]:
    """``(shaped text, {hidden name: value})`` for ``text``; None when it has no literal to
    hide, or when it holds something this scanner does not decide (the text is then prepared
    as written).  Linear in the text's length.  ``spans`` (a list): gets each literal's
    ``(start, end)`` in ``text`` and in the shaped text, in order (``original_offset``)."""
    if HIDDEN in text:
        return None              # the user's own $autolit_...: never confuse the two
    out, values = [], {}
    last = 0                     # end of the text copied so far
    at = 0                       # length of the shaped text so far
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "skip":
            continue
        start, end = m.span()
        tok = m.group()
        if kind == "num":
            rest = text[end:end + 1]
            before = text[max(0, start - 40):start]
            if _DOTS.match(text, end) or before.rstrip().endswith(("*", "..")) \
                    or _word_before(before) in _KEEP_AFTER_WORD:
                continue         # a bound of *1..3, SKIP 5, LIMIT 5, OF 10 ROWS
            if rest and (rest.isalnum() or rest in "_.'\"`"):
                return None      # 1abc, 1.e5: the parser decides what these are
            try:
                value = int(tok) if tok.isdigit() else _number(tok, start)
            except _SyntaxProblem:
                return None
            if type(value) is int and value >= _MAX_INT:
                return None      # -9223372036854775808 is a literal only when negated
        else:
            try:
                value = _unescape(tok[1:-1], start)
            except _SyntaxProblem:
                return None
        name = f"{HIDDEN}{_KIND[type(value)]}{len(values)}"
        values[name] = value
        out.append(text[last:start])
        out.append("$" + name)
        if spans is not None:
            at += start - last
            spans.append((start, end, at, at + len(name) + 1))
            at += len(name) + 1
        last = end
    if not values:
        return None
    out.append(text[last:])
    return "".join(out), values


def original_offset(offset: int, spans: list) -> int:
    """The offset in the text as written of ``offset`` in its shaped text (``spans`` from
    ``shape``): a point inside a hidden parameter is its literal's start."""
    shift = 0
    for start, end, s_start, s_end in spans:
        if offset < s_start:
            break
        if offset < s_end:
            return start
        shift = end - s_end
    return offset + shift


_DOTS = re.compile(r"\s*\.\.")
_LAST_WORD = re.compile(r"([^\W\d]\w*)\s*$")


def _word_before(before: str) -> str:
    """The name that ends ``before`` (spaces aside; lower case), or ''."""
    m = _LAST_WORD.search(before)
    return m.group(1).lower() if m else ""


def static_sample(name: str):
    """A value of the kind the hidden parameter ``name`` stands for (the semantic check types
    it as that literal); ``NotImplemented`` for any other parameter name."""
    if name.startswith(HIDDEN):
        return _SAMPLE.get(name[len(HIDDEN):len(HIDDEN) + 1], NotImplemented)
    return NotImplemented


def usable(pq, hidden: dict) -> bool:
    """True if the PreparedQuery ``pq`` of a shaped text answers like the text it came from
    (see the module docstring)."""
    if pq.mode is not None or pq.schema_command is not None:
        return False
    if not set(hidden) <= pq.params:
        return False
    return not any(HIDDEN in item.name and not item.aliased for item in _items(pq.ast))


def _items(node):
    """Every ProjItem in an AST (a walk over dataclass fields, lists and tuples)."""
    from . import ast as A
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, A.ProjItem):
            yield x
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif hasattr(x, "__dataclass_fields__"):
            stack.extend(getattr(x, f) for f in x.__dataclass_fields__)

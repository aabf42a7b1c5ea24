"""Built-in functions: scalar functions (``SCALARS``) and aggregate functions (``AGGREGATES``).

Owns: each function's argument checking, null handling and result.  A scalar is
``f(ctx, args) -> value``; ``ctx`` gives read access to the graph (``ctx.node(id)``,
``ctx.edge(id)``).  An aggregate is a class with ``add(value)`` and ``result()``.
Must not: write to the graph or know about clauses.
Temporal functions (date, time, localtime, datetime, localdatetime, duration and their
namespaced helpers) live in temporal.py and are merged into ``SCALARS`` here.
"""
from __future__ import annotations

import decimal
import math
import random
import re
import uuid

from .diagnostics import argument_error, type_error
from .temporal import BETWEEN, CONSTRUCTORS, TRUNCATE, Temporal
from ..values import kind as value_kind
from .runtime import (EdgeRef, NodeRef, PathVal, cy_eq, cy_lt, group_key, is_number, sort_key, stored_map,
                      type_name)

__all__ = ["SCALARS", "AGGREGATES", "ARITY", "call_scalar"]

_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1


def _bad(fname, v, what):
    return type_error(f"{fname}() expects {what}, got {type_name(v)}", "InvalidArgumentValue")


def _num(fname, v):
    if v is None or is_number(v):
        return v
    raise _bad(fname, v, "a number")


def _str(fname, v):
    if v is None or isinstance(v, str):
        return v
    raise _bad(fname, v, "a string")


def _int(fname, v):
    if v is None or type(v) is int:
        return v
    raise _bad(fname, v, "an integer")


def _props(ctx, v, fname):
    if isinstance(v, NodeRef):
        return stored_map(ctx.node(v.id).properties)
    if isinstance(v, EdgeRef):
        return stored_map(ctx.edge(v.id).properties)
    if isinstance(v, dict):
        return v
    raise _bad(fname, v, "a node, relationship or map")


def f_id(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, (NodeRef, EdgeRef)):
        return v.id
    raise _bad("id", v, "a node or relationship")


def f_labels(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, NodeRef):
        return sorted(ctx.node(v.id).labels)
    raise _bad("labels", v, "a node")


def f_type(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, EdgeRef):
        labels = ctx.edge_meta(v.id).labels
        return next(iter(labels)) if len(labels) == 1 else ":".join(sorted(labels))
    raise _bad("type", v, "a relationship")


def f_properties(ctx, a):
    v = a[0]
    if v is None:
        return None
    return dict(_props(ctx, v, "properties"))


def f_keys(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, dict):
        return list(v.keys())
    return list(_props(ctx, v, "keys").keys())


def f_length(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, PathVal):
        return len(v.edges)
    raise _bad("length", v, "a path")


def f_size(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, (str, list)):
        return len(v)
    raise _bad("size", v, "a string or a list")


def f_head(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, list):
        return v[0] if v else None
    raise _bad("head", v, "a list")


def f_last(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, list):
        return v[-1] if v else None
    raise _bad("last", v, "a list")


def f_tail(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, list):
        return v[1:]
    raise _bad("tail", v, "a list")


def f_reverse(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, (str, list)):
        return v[::-1]
    raise _bad("reverse", v, "a string or a list")


def f_coalesce(ctx, a):
    for v in a:
        if v is not None:
            return v
    return None


def f_nodes(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, PathVal):
        return [NodeRef(n) for n in v.nodes]
    raise _bad("nodes", v, "a path")


def f_relationships(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, PathVal):
        return [EdgeRef(e) for e in v.edges]
    raise _bad("relationships", v, "a path")


def f_start_node(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, EdgeRef):
        return NodeRef(ctx.edge_meta(v.id).src)
    raise _bad("startNode", v, "a relationship")


def f_end_node(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, EdgeRef):
        return NodeRef(ctx.edge_meta(v.id).dst)
    raise _bad("endNode", v, "a relationship")


_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def _parse_float(text: str):
    """A float from a string as Cypher reads one (decimal or scientific notation, or NaN,
    Infinity, -Infinity), or None: none of Python's extras (``1_000``, ``inf``, ``nan``,
    non-ASCII digits)."""
    t = text.strip()
    if t in ("NaN", "Infinity", "+Infinity", "-Infinity"):
        return float(t)
    if not t.isascii() or "_" in t or any(c.isalpha() and c not in "eE" for c in t):
        return None
    try:
        return float(t)
    except ValueError:
        return None


def _to_integer(fname, v, or_null=False):
    """toInteger / toIntegerOrNull: an int, None for text that is no number or a float that is
    NaN or infinite; a number outside 64 bits is an error (null for toIntegerOrNull)."""
    if v is None or type(v) is int:
        return v
    if type(v) is bool:
        return int(v)
    if type(v) is str:
        t = v.strip()
        if _INT_TEXT.fullmatch(t):
            out = int(t)
        else:
            f = _parse_float(t)
            if f is None or math.isnan(f) or math.isinf(f):
                return None
            out = int(f)
    elif type(v) is float:
        if math.isnan(v) or math.isinf(v):
            return None
        out = int(v)
    elif or_null:
        return None
    else:
        raise _bad(fname, v, "a string, number or boolean")
    if not _INT_MIN <= out <= _INT_MAX:
        if or_null:
            return None
        raise argument_error(f"{fname}(): {v!r:.40} does not fit in a 64-bit integer; use toIntegerOrNull() "
                             "for null instead", "NumberOutOfRange")
    return out


def f_to_integer(ctx, a):
    return _to_integer("toInteger", a[0])


def f_to_integer_or_null(ctx, a):
    return _to_integer("toIntegerOrNull", a[0], True)


def _conversions(name: str, convert, wants: str):
    """``name()`` and ``nameOrNull()`` from ``convert`` (a value -> its conversion, or _MISSING
    when there is none): the first raises for _MISSING (``wants``: what it takes), the second
    gives null."""
    def strict(ctx, a):
        out = convert(a[0])
        if out is _MISSING:
            raise _bad(name, a[0], wants)
        return out

    def or_null(ctx, a):
        out = convert(a[0])
        return None if out is _MISSING else out
    return strict, or_null


def _to_float(v):
    if v is None or type(v) is float:
        return v
    if type(v) is int:
        return float(v)
    if type(v) is str:
        return _parse_float(v)
    return _MISSING


f_to_float, f_to_float_or_null = _conversions("toFloat", _to_float, "a string or a number")


def _to_boolean(v):
    if v is None or type(v) is bool:
        return v
    if type(v) is str:
        s = v.strip().lower()
        return True if s == "true" else False if s == "false" else None
    if type(v) is int:
        return v != 0
    return _MISSING


f_to_boolean, f_to_boolean_or_null = _conversions("toBoolean", _to_boolean, "a string, integer or boolean")


_MISSING = object()


def format_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    r = repr(v)
    if "e" in r:
        mant, exp = r.split("e")
        if "." not in mant:
            mant += ".0"
        r = f"{mant}E{int(exp)}"
    return r


def _to_string(v):
    if v is None or isinstance(v, str):
        return v
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) is int:
        return str(v)
    if type(v) is float:
        return format_float(v)
    if isinstance(v, Temporal):
        return str(v)
    return _MISSING


f_to_string, f_to_string_or_null = _conversions("toString", _to_string, "a string, number, boolean or temporal value")


def f_element_id(ctx, a):
    """``'n:<id>'`` for a node, ``'r:<id>'`` for a relationship (ids as ``id()`` shows them)."""
    v = a[0]
    if v is None:
        return None
    if isinstance(v, NodeRef):
        return f"n:{v.id}"
    if isinstance(v, EdgeRef):
        return f"r:{v.id}"
    raise _bad("elementId", v, "a node or relationship")


def f_random_uuid(ctx, a):
    return str(uuid.uuid4())


def f_null_if(ctx, a):
    """null when the two values are equal (``=``), else the first."""
    return None if cy_eq(a[0], a[1]) is True else a[0]


# valueType(): the GQL type names, and their order in a list's union of element types
_VALUE_TYPES = {"bool": "BOOLEAN", "str": "STRING", "int": "INTEGER", "float": "FLOAT", "date": "DATE",
                "localtime": "LOCAL TIME", "time": "ZONED TIME", "localdatetime": "LOCAL DATETIME",
                "datetime": "ZONED DATETIME", "duration": "DURATION", "bytes": "BYTES"}
_TYPE_ORDER = ["NOTHING", "NULL", "BOOLEAN", "STRING", "BYTES", "INTEGER", "FLOAT", "DATE", "LOCAL TIME",
               "ZONED TIME", "LOCAL DATETIME", "ZONED DATETIME", "DURATION", "NODE", "RELATIONSHIP", "MAP",
               "LIST", "PATH"]


def _value_type(v) -> str:
    if v is None:
        return "NULL"
    if type(v) is list:
        inner = sorted({_value_type(x) for x in v if x is not None},
                       key=lambda t: (_TYPE_ORDER.index(t.split("<")[0].removesuffix(" NOT NULL")), t))
        if not inner:
            elem = "NULL" if v else "NOTHING"
        elif any(x is None for x in v):      # a null element: the element types are nullable
            elem = " | ".join(t.removesuffix(" NOT NULL") for t in inner)
        else:
            elem = " | ".join(inner)
        return f"LIST<{elem}> NOT NULL"
    if isinstance(v, dict):
        return "MAP NOT NULL"
    if isinstance(v, NodeRef):
        return "NODE NOT NULL"
    if isinstance(v, EdgeRef):
        return "RELATIONSHIP NOT NULL"
    if isinstance(v, PathVal):
        return "PATH NOT NULL"
    return _VALUE_TYPES.get(value_kind(v), "ANY") + " NOT NULL"


def f_value_type(ctx, a):
    return _value_type(a[0])


def _math1(name, fn):
    def f(ctx, a):
        v = _num(name, a[0])
        if v is None:
            return None
        try:
            return fn(v)
        except (ValueError, OverflowError):
            return float("nan")
    return f


def _integral(name, fn):
    """ceil / floor as Java's Math.ceil / Math.floor (Neo4j): a FLOAT; infinities and NaN
    unchanged; a zero result keeps the argument's sign (ceil(-0.5) is -0.0)."""
    def f(ctx, a):
        v = _num(name, a[0])
        if v is None:
            return None
        v = float(v)
        if not math.isfinite(v):
            return v
        r = float(fn(v))
        return math.copysign(r, v) if r == 0 else r
    return f


def f_exp(ctx, a):
    """e^x as Java's Math.exp (Neo4j): Infinity when the result overflows a FLOAT."""
    v = _num("exp", a[0])
    if v is None:
        return None
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def f_abs(ctx, a):
    v = _num("abs", a[0])
    return None if v is None else abs(v)


def f_sign(ctx, a):
    v = _num("sign", a[0])
    if v is None:
        return None
    return 0 if v == 0 else (1 if v > 0 else -1)


_ROUNDING = {"UP": decimal.ROUND_UP, "DOWN": decimal.ROUND_DOWN, "CEILING": decimal.ROUND_CEILING,
             "FLOOR": decimal.ROUND_FLOOR, "HALF_UP": decimal.ROUND_HALF_UP,
             "HALF_DOWN": decimal.ROUND_HALF_DOWN, "HALF_EVEN": decimal.ROUND_HALF_EVEN}


def f_round(ctx, a):
    """round(x[, precision[, mode]]) as Neo4j: round(x) and round(x, 0) round a tie towards
    +infinity (Java's Math.round: round(-2.5) is -2.0); with a precision the value's shortest
    decimal form (BigDecimal.valueOf) is rounded with ``mode`` (default HALF_UP, ties away
    from zero: round(2.675, 2) is 2.68, round(-1.55, 1) is -1.6).  Always a FLOAT; null if any
    argument is null; infinities and NaN unchanged."""
    v = _num("round", a[0])
    p = _int("round", a[1]) if len(a) > 1 else 0
    mode = _str("round", a[2]) if len(a) > 2 else None
    if v is None or p is None or (len(a) > 2 and mode is None):
        return None
    if mode is not None and mode not in _ROUNDING:
        raise argument_error(f"round() mode must be one of {', '.join(_ROUNDING)}, got {mode!r}")
    v = float(v)
    if not math.isfinite(v):
        return v
    if p == 0 and mode is None:
        if abs(v) >= 2.0 ** 52:   # already an integer
            return v
        r = math.floor(v)
        return float(r + 1 if v - r >= 0.5 else r)
    d = decimal.Decimal(repr(v))
    if -d.as_tuple().exponent <= p:   # no digit beyond the precision
        return v
    p = max(p, -800)  # past this every result is 0 or overflows to an infinity
    with decimal.localcontext() as c:
        c.prec, c.Emax, c.Emin = 2000, 5000, -5000
        r = d.quantize(decimal.Decimal(1).scaleb(-p), rounding=_ROUNDING[mode or "HALF_UP"])
    return 0.0 if r == 0 else float(r)


def f_range(ctx, a):
    start, end = a[0], a[1]
    step = a[2] if len(a) > 2 else 1
    for x in (start, end, step):
        if x is None:
            return None
        if type(x) is not int:
            raise argument_error(f"range() expects integer arguments, got {type_name(x)}", "InvalidArgumentType")
    if step == 0:
        raise argument_error("range() step must not be zero", "NumberOutOfRange")
    r = range(start, end + 1, step) if step > 0 else range(start, end - 1, step)
    n = max(0, (r.stop - r.start + step - (1 if step > 0 else -1)) // step)     # len(r) fails past 2**63
    ctx.charge_items(n)                  # refuse at once what cannot fit in the memory limit
    ctx.charge(n * 40)
    if n <= 4096:
        return list(r)
    out = []
    for i in range(0, n, 65536):         # in chunks, so the time limit is checked as it grows
        out.extend(r[i:i + 65536])
        ctx.check_time()
    return out


def f_split(ctx, a):
    s, d = _str("split", a[0]), _str("split", a[1])
    if s is None or d is None:
        return None
    if d == "":
        out = list(s)
    else:
        out = s.split(d)
    ctx.charge(len(out) * 40)
    return out


def f_substring(ctx, a):
    s = _str("substring", a[0])
    start = _int("substring", a[1])
    length = _int("substring", a[2]) if len(a) > 2 else None
    if s is None or start is None:
        return None
    if start < 0 or (length is not None and length < 0):
        raise argument_error("substring() start and length must not be negative", "NumberOutOfRange")
    return s[start:] if length is None else s[start:start + length]


def f_left(ctx, a):
    s, n = _str("left", a[0]), _int("left", a[1])
    if s is None:
        return None
    if n is None:
        raise argument_error("left() length must not be null", "InvalidArgumentValue")
    if n < 0:
        raise argument_error("left() length must not be negative", "NumberOutOfRange")
    return s[:n]


def f_right(ctx, a):
    s, n = _str("right", a[0]), _int("right", a[1])
    if s is None:
        return None
    if n is None:
        raise argument_error("right() length must not be null", "InvalidArgumentValue")
    if n < 0:
        raise argument_error("right() length must not be negative", "NumberOutOfRange")
    return s[max(0, len(s) - n):] if n else ""


def _str1(name, fn):
    def f(ctx, a):
        s = _str(name, a[0])
        return None if s is None else fn(s)
    return f


def f_replace(ctx, a):
    s, x, y = (_str("replace", v) for v in a)
    if s is None or x is None or y is None:
        return None
    return s.replace(x, y)


def f_exists(ctx, a):
    return a[0] is not None


def f_rand(ctx, a):
    return random.random()


def f_timestamp(ctx, a):
    from .temporal import _now
    return _now(ctx).epoch_ns() // 1_000_000


def f_atan2(ctx, a):
    y, x = _num("atan2", a[0]), _num("atan2", a[1])
    if y is None or x is None:
        return None
    return math.atan2(y, x)


def f_is_empty(ctx, a):
    v = a[0]
    if v is None:
        return None
    if isinstance(v, (str, list, dict)):
        return len(v) == 0
    raise _bad("isEmpty", v, "a string, list or map")


def f_log(ctx, a):
    v = _num("log", a[0])
    if v is None:
        return None
    if v == 0:
        return float("-inf")
    return math.log(v) if v > 0 else float("nan")


def f_log10(ctx, a):
    v = _num("log10", a[0])
    if v is None:
        return None
    if v == 0:
        return float("-inf")
    return math.log10(v) if v > 0 else float("nan")


def f_sqrt(ctx, a):
    v = _num("sqrt", a[0])
    if v is None:
        return None
    return math.sqrt(v) if v >= 0 else float("nan")


SCALARS = {
    "id": f_id, "labels": f_labels, "type": f_type, "properties": f_properties, "keys": f_keys,
    "length": f_length, "size": f_size, "head": f_head, "last": f_last, "tail": f_tail,
    "reverse": f_reverse, "coalesce": f_coalesce, "nodes": f_nodes, "relationships": f_relationships,
    "startnode": f_start_node, "endnode": f_end_node, "tointeger": f_to_integer, "tofloat": f_to_float,
    "toboolean": f_to_boolean, "tostring": f_to_string, "abs": f_abs, "sign": f_sign,
    "ceil": _integral("ceil", math.ceil), "floor": _integral("floor", math.floor),
    "round": f_round, "sqrt": f_sqrt, "exp": f_exp, "log": f_log, "log10": f_log10,
    "sin": _math1("sin", math.sin), "cos": _math1("cos", math.cos), "tan": _math1("tan", math.tan),
    "asin": _math1("asin", math.asin), "acos": _math1("acos", math.acos), "atan": _math1("atan", math.atan),
    "cot": _math1("cot", lambda v: 1 / math.tan(v) if math.tan(v) else float("inf")),
    "degrees": _math1("degrees", math.degrees), "radians": _math1("radians", math.radians),
    "haversin": _math1("haversin", lambda v: (1 - math.cos(v)) / 2), "atan2": f_atan2,
    "pi": lambda ctx, a: math.pi, "e": lambda ctx, a: math.e, "rand": f_rand,
    "range": f_range, "split": f_split, "substring": f_substring, "left": f_left, "right": f_right,
    "tolower": _str1("toLower", str.lower), "toupper": _str1("toUpper", str.upper),
    "trim": _str1("trim", lambda s: s.strip(" \t\n\r")), "ltrim": _str1("lTrim", lambda s: s.lstrip(" \t\n\r")),
    "rtrim": _str1("rTrim", lambda s: s.rstrip(" \t\n\r")), "replace": f_replace, "exists": f_exists,
    "isempty": f_is_empty,
    "timestamp": f_timestamp,
    "tointegerornull": f_to_integer_or_null, "tofloatornull": f_to_float_or_null,
    "tobooleanornull": f_to_boolean_or_null, "tostringornull": f_to_string_or_null,
    "elementid": f_element_id, "randomuuid": f_random_uuid, "nullif": f_null_if, "valuetype": f_value_type,
    **CONSTRUCTORS, **TRUNCATE, **BETWEEN,
}

# (min, max) number of arguments
ARITY = {name: (1, 1) for name in SCALARS}
ARITY.update({"coalesce": (1, None), "pi": (0, 0), "e": (0, 0), "rand": (0, 0), "range": (2, 3),
              "split": (2, 2), "substring": (2, 3), "left": (2, 2), "right": (2, 2), "replace": (3, 3),
              "round": (1, 3), "atan2": (2, 2), "date": (0, 1), "datetime": (0, 1), "time": (0, 1),
              "localtime": (0, 1), "localdatetime": (0, 1), "duration": (1, 1), "timestamp": (0, 0),
              "randomuuid": (0, 0), "nullif": (2, 2),
              **{name: (2, 3) for name in TRUNCATE}, **{name: (2, 2) for name in BETWEEN},
              **{name: (0, 1) for name in CONSTRUCTORS if "." in name},
              "datetime.fromepoch": (2, 2), "datetime.fromepochmillis": (1, 1)})


def call_scalar(ctx, name, args):
    return SCALARS[name](ctx, args)


# ---------------------------------------------------------------- aggregates
class _Agg:
    def __init__(self, distinct: bool, fname: str):
        self.distinct = distinct
        self.seen = set() if distinct else None
        self.fname = fname

    def add(self, v, extra=None):
        if v is None:
            return
        if self.distinct:
            k = group_key(v)
            if k in self.seen:
                return
            self.seen.add(k)
        self.take(v, extra)


class Count(_Agg):
    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.n = 0

    def take(self, v, extra):
        self.n += 1

    def result(self):
        return self.n


class CountStar:
    def __init__(self):
        self.n = 0

    def add(self, v, extra=None):
        self.n += 1

    def result(self):
        return self.n


class Sum(_Agg):
    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.total = 0

    def take(self, v, extra):
        if not is_number(v):
            raise type_error(f"sum() expects numbers, got {type_name(v)}")
        self.total += v

    def result(self):
        return self.total


class Avg(_Agg):
    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.total, self.n = 0, 0

    def take(self, v, extra):
        if not is_number(v):
            raise type_error(f"avg() expects numbers, got {type_name(v)}")
        self.total += v
        self.n += 1

    def result(self):
        return None if self.n == 0 else self.total / self.n


class Min(_Agg):
    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.best = None

    def take(self, v, extra):
        if self.best is None or self._better(v, self.best):
            self.best = v

    def _better(self, v, best):
        return _minmax_key(v) < _minmax_key(best)

    def result(self):
        return self.best


class Max(Min):
    def _better(self, v, best):
        return _minmax_key(v) > _minmax_key(best)


def _minmax_key(v):
    # min/max order: numbers compare among themselves, strings too; across types use sort order
    # reversed so that e.g. max over mixed values follows Cypher's orderability.
    return _MinMaxKey(v)


class _MinMaxKey:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        r = cy_lt(self.v, other.v)
        if r is None:
            return _mm_rank(self.v) < _mm_rank(other.v)
        return r

    def __gt__(self, other):
        r = cy_lt(other.v, self.v)
        if r is None:
            return _mm_rank(self.v) > _mm_rank(other.v)
        return r


def _mm_rank(v):
    # min/max rank: list < string < boolean < number
    k = sort_key(v)
    return k[0]


class Collect(_Agg):
    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.items = []

    def take(self, v, extra):
        self.items.append(v)

    def result(self):
        return self.items


class StDev(_Agg):
    population = False

    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.values = []

    def take(self, v, extra):
        if not is_number(v):
            raise type_error(f"{self.fname}() expects numbers, got {type_name(v)}")
        self.values.append(v)

    def result(self):
        n = len(self.values)
        if n < (1 if self.population else 2):
            return 0.0
        mean = sum(self.values) / n
        ss = sum((x - mean) ** 2 for x in self.values)
        return math.sqrt(ss / (n if self.population else n - 1))


class StDevP(StDev):
    population = True


class Percentile(_Agg):
    discrete = False

    def __init__(self, distinct, fname):
        super().__init__(distinct, fname)
        self.values = []
        self.p = None

    def take(self, v, extra):
        if not is_number(v):
            raise type_error(f"{self.fname}() expects numbers, got {type_name(v)}")
        p = extra
        if p is None or not is_number(p) or not 0.0 <= p <= 1.0:
            raise argument_error(f"{self.fname}() percentile must be a number between 0.0 and 1.0",
                                 "NumberOutOfRange")
        self.p = p
        self.values.append(v)

    def result(self):
        if not self.values:
            return None
        xs = sorted(self.values)
        p = self.p
        if self.discrete:
            idx = max(0, math.ceil(p * len(xs)) - 1) if p > 0 else 0
            return xs[idx]
        pos = p * (len(xs) - 1)
        lo = math.floor(pos)
        hi = math.ceil(pos)
        if lo == hi:
            return float(xs[lo])
        return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


class PercentileDisc(Percentile):
    discrete = True


AGGREGATES = {"count": Count, "sum": Sum, "avg": Avg, "min": Min, "max": Max, "collect": Collect,
              "stdev": StDev, "stdevp": StDevP, "percentilecont": Percentile, "percentiledisc": PercentileDisc}
AGG_ARITY = {name: (1, 1) for name in AGGREGATES}
AGG_ARITY.update({"percentilecont": (2, 2), "percentiledisc": (2, 2)})

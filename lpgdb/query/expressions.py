"""Expression compiler: AST expression -> Python closure ``f(row, ctx) -> value``.

Owns: the meaning of every expression form (null propagation, three-valued logic, arithmetic
and its type rules, property/index/slice access, CASE, comprehensions, quantifiers, map
projection, pattern predicates and comprehensions).  A row is a dict from variable name to
runtime value; ``ctx`` is the execution context (graph access, parameters, timeout).
Must not: write to the graph.  Query text is never evaluated as Python: closures are built
from AST nodes only.
"""
from __future__ import annotations

import math
import re

from . import ast as A
from .diagnostics import argument_error, parameter_missing, type_error
from .functions import AGGREGATES, SCALARS
from .runtime import _STORED_CONVERT, EdgeRef, NodeRef, cy_compare, cy_eq, from_user as from_stored, is_number, stored
from .runtime import stored_map, type_name
from .temporal import Duration, Temporal, add as t_add, component as t_component, scale as t_scale

__all__ = ["compile_expr", "free_vars", "contains_aggregate", "is_aggregate"]

_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1


def is_aggregate(e) -> bool:
    return isinstance(e, A.CountStar) or (isinstance(e, A.FuncCall) and e.name in AGGREGATES)


def children(e):
    """Direct sub-expressions of an expression (not descending into patterns)."""
    if isinstance(e, (A.Literal, A.Param, A.Var, A.CountStar)):
        return []
    if isinstance(e, A.Prop):
        return [e.subject]
    if isinstance(e, A.Index):
        return [e.subject, e.index]
    if isinstance(e, A.Slice):
        return [x for x in (e.subject, e.lo, e.hi) if x is not None]
    if isinstance(e, A.HasLabels):
        return [e.subject]
    if isinstance(e, A.BinOp):
        return [e.left, e.right]
    if isinstance(e, (A.Not, A.Neg)):
        return [e.operand]
    if isinstance(e, A.IsNull):
        return [e.operand]
    if isinstance(e, A.Compare):
        return list(e.operands)
    if isinstance(e, A.ListLit):
        return list(e.items)
    if isinstance(e, A.MapLit):
        return [v for _, v in e.items]
    if isinstance(e, A.FuncCall):
        return list(e.args)
    if isinstance(e, A.Case):
        out = [e.subject] if e.subject is not None else []
        for w, t in e.alternatives:
            out += [w, t]
        if e.default is not None:
            out.append(e.default)
        return out
    if isinstance(e, A.ListComp):
        return [x for x in (e.source, e.where, e.projection) if x is not None]
    if isinstance(e, A.Quantifier):
        return [e.source, e.where]
    if isinstance(e, A.Reduce):
        return [e.init, e.source, e.expr]
    if isinstance(e, A.MapProjection):
        return [i[2] for i in e.items if i[0] == "lit"]
    if isinstance(e, A.PatternComp):
        return [x for x in (e.where, e.projection) if x is not None] + _pattern_exprs(e.part)
    if isinstance(e, A.PatternExpr):
        return _pattern_exprs(e.part)
    if isinstance(e, (A.ExistsSubquery, A.CountSubquery)) and e.query is None:
        out = [x for p in e.parts for x in _pattern_exprs(p)]
        return out + ([e.where] if e.where is not None else [])
    return []


def _pattern_exprs(part):
    out = [n.props for n in part.nodes if n.props is not None]
    out += [r.props for r in part.rels if r.props is not None]
    return out


def walk(e):
    yield e
    for c in children(e):
        yield from walk(c)


def contains_aggregate(e) -> bool:
    return any(is_aggregate(x) for x in walk(e))


def free_vars(e, bound=frozenset()) -> set:
    """Variables an expression reads from its row (local comprehension variables excluded)."""
    out = set()
    _free(e, set(bound), out)
    return out


def _free(e, local, out):
    if isinstance(e, A.Var):
        if e.name not in local:
            out.add(e.name)
        return
    if isinstance(e, A.MapProjection):
        if e.var not in local:
            out.add(e.var)
        for it in e.items:
            if it[0] == "var" and it[1] not in local:
                out.add(it[1])
    if isinstance(e, (A.ListComp, A.Quantifier)):
        _free(e.source, local, out)
        inner = local | {e.var}
        for x in (e.where, getattr(e, "projection", None)):
            if x is not None:
                _free(x, inner, out)
        return
    if isinstance(e, A.Reduce):
        _free(e.init, local, out)
        _free(e.source, local, out)
        _free(e.expr, local | {e.acc, e.var}, out)
        return
    if isinstance(e, (A.ExistsSubquery, A.CountSubquery, A.CollectSubquery)):
        # over-approximation (callers intersect with the names in scope): every name inside
        out.update(_names_inside(e) - local)
        return
    if isinstance(e, (A.PatternExpr, A.PatternComp)):
        part = e.part
        names = [n.var for n in part.nodes if n.var] + [r.var for r in part.rels if r.var]
        # callers intersect with the names in scope: unbound pattern names are local
        out.update(n for n in names if n not in local)
        inner = local | set(names) | ({part.path_var} if part.path_var else set())
        for c in children(e):
            _free(c, inner, out)
        return
    for c in children(e):
        _free(c, local, out)


def _names_inside(obj) -> set:
    """Every variable name mentioned anywhere inside an AST object (subqueries included)."""
    out = set()
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, A.Var):
            out.add(x.name)
        elif isinstance(x, (A.NodePattern, A.RelPattern)):
            if x.var:
                out.add(x.var)
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif hasattr(x, "__dataclass_fields__"):
            stack.extend(getattr(x, f) for f in x.__dataclass_fields__)
    return out


# ---------------------------------------------------------------- value operations
def _check_int(v):
    if type(v) is int and not _INT_MIN <= v <= _INT_MAX:
        raise argument_error("integer overflow: the result does not fit in 64 bits", "NumberOutOfRange")
    return v


def op_add(a, b):
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _check_int(a + b)
    if ta is str and tb is str:
        return a + b
    if ta is list and tb is list:
        return a + b
    if ta is list:
        return a + [b]
    if tb is list:
        return [a] + b
    if tb is Duration and isinstance(a, Temporal):
        return t_add(a, b)
    if ta is Duration and isinstance(b, Temporal) and tb is not Duration:
        return t_add(b, a)
    if ta is str and (tb is int or tb is float):
        from .functions import f_to_string
        return a + f_to_string(None, [b])
    if tb is str and (ta is int or ta is float):
        from .functions import f_to_string
        return f_to_string(None, [a]) + b
    raise type_error(f"cannot add {type_name(a)} and {type_name(b)}")


def _arith(name, fn):
    def op(a, b):
        if a is None or b is None:
            return None
        if not (is_number(a) and is_number(b)):
            raise type_error(f"cannot apply '{name}' to {type_name(a)} and {type_name(b)}")
        return fn(a, b)
    return op


def _div(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            raise argument_error("division by zero", "DivisionByZero")
        q = abs(a) // abs(b)
        return _check_int(q if (a >= 0) == (b >= 0) else -q)
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or (isinstance(a, float) and math.isnan(a)):
            return float("nan")
        return math.copysign(float("inf"), a) * (math.copysign(1.0, float(b)))


def _mod(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            raise argument_error("division by zero", "DivisionByZero")
        return int(math.fmod(a, b)) if abs(a) < 2 ** 52 else a - b * int(a / b)
    try:
        return math.fmod(a, b)
    except (ZeroDivisionError, ValueError):
        return float("nan")


def _pow(a, b):
    try:
        return float(a) ** float(b)
    except ZeroDivisionError:
        return float("inf")
    except OverflowError:
        return float("inf")


_op_sub = _arith("-", lambda a, b: _check_int(a - b))
_op_mul = _arith("*", lambda a, b: _check_int(a * b))
_op_div = _arith("/", _div)


def op_sub(a, b):
    if type(b) is Duration and isinstance(a, Temporal):
        return t_add(a, b, -1)
    return _op_sub(a, b)


def op_mul(a, b):
    if type(a) is Duration and is_number(b):
        return t_scale(a, b)
    if type(b) is Duration and is_number(a):
        return t_scale(b, a)
    return _op_mul(a, b)


def op_div(a, b):
    if type(a) is Duration and is_number(b):
        if b == 0:
            raise argument_error("division by zero", "DivisionByZero")
        return t_scale(a, 1 / b)
    return _op_div(a, b)
op_mod = _arith("%", _mod)
op_pow = _arith("^", _pow)


def _bool_operand(v, op):
    if v is None or type(v) is bool:
        return v
    raise type_error(f"{op} expects boolean operands, got {type_name(v)}")


def op_in(a, b):
    if b is None:
        return None
    if not isinstance(b, list):
        raise type_error(f"IN expects a list on its right, got {type_name(b)}")
    unknown = False
    for x in b:
        r = cy_eq(a, x)
        if r is True:
            return True
        if r is None:
            unknown = True
    return None if unknown else False


def _strpred(fn):
    def op(a, b):
        if not isinstance(a, str) or not isinstance(b, str):
            return None
        return fn(a, b)
    return op


def op_regex(a, b):
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    try:
        return re.fullmatch(b, a) is not None
    except re.error as e:
        raise argument_error(f"invalid regular expression {b!r}: {e}", "InvalidArgumentValue") from None


_BINOPS = {
    "+": op_add, "-": op_sub, "*": op_mul, "/": op_div, "%": op_mod, "^": op_pow, "IN": op_in,
    "STARTS WITH": _strpred(str.startswith), "ENDS WITH": _strpred(str.endswith),
    "CONTAINS": _strpred(lambda a, b: b in a), "=~": op_regex,
}


def get_property(ctx, v, key):
    if v is None:
        return None
    t = type(v)
    if t is NodeRef:
        return stored(ctx.node(v.id).properties.get(key))
    if t is EdgeRef:
        return stored(ctx.edge(v.id).properties.get(key))
    if t is dict:
        return v.get(key)
    if isinstance(v, Temporal):
        return t_component(v, key)
    raise type_error(f"cannot read property '{key}' of a {type_name(v)}", "InvalidArgumentType")


def get_index(ctx, v, i):
    if v is None or i is None:
        return None
    if isinstance(v, list):
        if type(i) is not int:
            raise type_error(f"list index must be an integer, got {type_name(i)}", "InvalidArgumentType")
        if -len(v) <= i < len(v):
            return v[i]
        return None
    if isinstance(v, dict):
        if not isinstance(i, str):
            raise type_error(f"map key must be a string, got {type_name(i)}", "MapElementAccessByNonString")
        return v.get(i)
    if isinstance(v, (NodeRef, EdgeRef)):
        if not isinstance(i, str):
            raise type_error(f"property key must be a string, got {type_name(i)}", "InvalidArgumentType")
        return get_property(ctx, v, i)
    raise type_error(f"cannot index a {type_name(v)}", "InvalidArgumentType")


def _labels_of(ctx, v, labels):
    if v is None:
        return None
    if isinstance(v, NodeRef):
        have = ctx.node(v.id).labels
        return all(lab in have for lab in labels)
    if isinstance(v, EdgeRef):
        have = ctx.edge(v.id).labels
        return all(lab in have for lab in labels)
    raise type_error(f"label test on a {type_name(v)}", "InvalidArgumentType")


# ---------------------------------------------------------------- compiler
class CompileEnv:
    """Compile-time information: aggregate placeholders, names bound in the row, and the hooks
    that compile pattern predicates and subqueries (``hooks.match(parts, bound, where)`` and
    ``hooks.subquery(query, bound)``, each returning ``run(row, ctx) -> iterator of rows``; handed
    in by the caller, so this module imports no planner)."""

    def __init__(self, bound=(), aggs=None, hooks=None):
        self.bound = set(bound)
        self.aggs = aggs or {}
        self.hooks = hooks

    def child(self, extra):
        return CompileEnv(self.bound | set(extra), self.aggs, self.hooks)


def compile_expr(e, env: CompileEnv):
    """Return ``f(row, ctx)`` computing expression ``e``."""
    c = _COMPILERS.get(type(e))
    if c is None:
        raise TypeError(f"cannot compile {type(e).__name__}")
    return c(e, env)


def _c_literal(e, env):
    v = e.value
    return lambda row, ctx: v


def _c_param(e, env):
    name = e.name

    def f(row, ctx):
        try:
            return ctx.params[name]
        except KeyError:
            raise parameter_missing(name) from None
    return f


def _c_var(e, env):
    name = e.name

    def f(row, ctx):
        return row.get(name)
    return f


def _c_prop(e, env):
    key = e.key
    if isinstance(e.subject, A.Var):
        name = e.subject.name

        def var_prop(row, ctx):            # n.key: the hot case, one lookup of the node
            v = row.get(name)
            if type(v) is NodeRef:
                n = ctx._nodes.get(v.id) or ctx.node(v.id)
                v = n.properties.get(key)
                return from_stored(v) if type(v) in _STORED_CONVERT else v
            return get_property(ctx, v, key)
        return var_prop
    sub = compile_expr(e.subject, env)

    def f(row, ctx):
        return get_property(ctx, sub(row, ctx), key)
    return f


def _c_index(e, env):
    sub, idx = compile_expr(e.subject, env), compile_expr(e.index, env)
    return lambda row, ctx: get_index(ctx, sub(row, ctx), idx(row, ctx))


def _c_slice(e, env):
    sub = compile_expr(e.subject, env)
    lo = compile_expr(e.lo, env) if e.lo is not None else None
    hi = compile_expr(e.hi, env) if e.hi is not None else None

    def f(row, ctx):
        v = sub(row, ctx)
        a = lo(row, ctx) if lo else 0
        b = hi(row, ctx) if hi else None
        if v is None or (lo and a is None) or (hi and b is None):
            return None
        if not isinstance(v, list):
            raise type_error(f"cannot slice a {type_name(v)}")
        for x in (a, b):
            if x is not None and type(x) is not int:
                raise type_error(f"slice bounds must be integers, got {type_name(x)}")
        return v[a:b]
    return f


def _c_haslabels(e, env):
    sub, labels = compile_expr(e.subject, env), list(e.labels)
    return lambda row, ctx: _labels_of(ctx, sub(row, ctx), labels)


def _c_binop(e, env):
    op = e.op
    if op in ("AND", "OR", "XOR"):
        l, r = compile_predicate(e.left, env), compile_predicate(e.right, env)
    else:
        l, r = compile_expr(e.left, env), compile_expr(e.right, env)
    if op == "AND":
        def f(row, ctx):
            a = _bool_operand(l(row, ctx), "AND")
            if a is False:
                b = _bool_operand(r(row, ctx), "AND")
                return False
            b = _bool_operand(r(row, ctx), "AND")
            if b is False:
                return False
            if a is None or b is None:
                return None
            return True
        return f
    if op == "OR":
        def f(row, ctx):
            a = _bool_operand(l(row, ctx), "OR")
            b = _bool_operand(r(row, ctx), "OR")
            if a is True or b is True:
                return True
            if a is None or b is None:
                return None
            return False
        return f
    if op == "XOR":
        def f(row, ctx):
            a = _bool_operand(l(row, ctx), "XOR")
            b = _bool_operand(r(row, ctx), "XOR")
            if a is None or b is None:
                return None
            return a != b
        return f
    fn = _BINOPS[op]
    return lambda row, ctx: fn(l(row, ctx), r(row, ctx))


def _c_not(e, env):
    x = compile_predicate(e.operand, env)

    def f(row, ctx):
        v = _bool_operand(x(row, ctx), "NOT")
        return None if v is None else not v
    return f


def _c_neg(e, env):
    x = compile_expr(e.operand, env)

    def f(row, ctx):
        v = x(row, ctx)
        if v is None:
            return None
        if not is_number(v):
            raise type_error(f"cannot negate a {type_name(v)}")
        return _check_int(-v)
    return f


def _c_compare(e, env):
    parts = [compile_expr(x, env) for x in e.operands]
    ops = list(e.ops)
    if len(ops) == 1:
        a, b, op = parts[0], parts[1], ops[0]
        return lambda row, ctx: cy_compare(op, a(row, ctx), b(row, ctx))

    def f(row, ctx):
        vals = [p(row, ctx) for p in parts]
        result = True
        for i, op in enumerate(ops):
            r = cy_compare(op, vals[i], vals[i + 1])
            if r is False:
                return False
            if r is None:
                result = None
        return result
    return f


def _c_isnull(e, env):
    x = compile_expr(e.operand, env)
    if e.negated:
        return lambda row, ctx: x(row, ctx) is not None
    return lambda row, ctx: x(row, ctx) is None


def _c_list(e, env):
    items = [compile_expr(x, env) for x in e.items]
    return lambda row, ctx: [i(row, ctx) for i in items]


def _c_map(e, env):
    items = [(k, compile_expr(v, env)) for k, v in e.items]
    return lambda row, ctx: {k: v(row, ctx) for k, v in items}


def _c_func(e, env):
    if id(e) in env.aggs:
        key = env.aggs[id(e)]
        return lambda row, ctx: row[key]
    if e.name in AGGREGATES:
        from .diagnostics import semantic
        raise semantic(f"aggregate function {e.name}() is not allowed here", "InvalidAggregation")
    fn = SCALARS[e.name]
    args = [compile_expr(a, env) for a in e.args]
    return lambda row, ctx: fn(ctx, [a(row, ctx) for a in args])


def _c_countstar(e, env):
    if id(e) in env.aggs:
        key = env.aggs[id(e)]
        return lambda row, ctx: row[key]
    from .diagnostics import semantic
    raise semantic("count(*) is not allowed here", "InvalidAggregation")


def _c_case(e, env):
    subject = compile_expr(e.subject, env) if e.subject is not None else None
    alts = [(compile_expr(w, env), compile_expr(t, env)) for w, t in e.alternatives]
    default = compile_expr(e.default, env) if e.default is not None else None

    def f(row, ctx):
        if subject is not None:
            s = subject(row, ctx)
            for w, t in alts:
                if cy_eq(s, w(row, ctx)) is True:
                    return t(row, ctx)
        else:
            for w, t in alts:
                if w(row, ctx) is True:
                    return t(row, ctx)
        return default(row, ctx) if default is not None else None
    return f


def _iter_source(v, what):
    if v is None:
        return None
    if not isinstance(v, list):
        raise type_error(f"{what} expects a list, got {type_name(v)}")
    return v


def _c_listcomp(e, env):
    src = compile_expr(e.source, env)
    inner = env.child([e.var])
    where = compile_expr(e.where, inner) if e.where is not None else None
    proj = compile_expr(e.projection, inner) if e.projection is not None else None
    var = e.var

    def f(row, ctx):
        items = _iter_source(src(row, ctx), "a list comprehension")
        if items is None:
            return None
        out = []
        local = dict(row)
        ctx.charge_items(len(items))
        for x in items:
            ctx.tick()
            local[var] = x
            if where is not None and where(local, ctx) is not True:
                continue
            out.append(proj(local, ctx) if proj is not None else x)
        return out
    return f


def _c_reduce(e, env):
    init = compile_expr(e.init, env)
    src = compile_expr(e.source, env)
    step = compile_expr(e.expr, env.child([e.acc, e.var]))
    acc, var = e.acc, e.var

    def f(row, ctx):
        value = init(row, ctx)
        items = _iter_source(src(row, ctx), "reduce()")
        if items is None:
            return None
        local = dict(row)
        for x in items:
            ctx.tick()
            local[acc] = value
            local[var] = x
            value = step(local, ctx)
        return value
    return f


def _c_quantifier(e, env):
    src = compile_expr(e.source, env)
    pred = compile_expr(e.where, env.child([e.var]))
    var, kind = e.var, e.kind

    def f(row, ctx):
        items = _iter_source(src(row, ctx), f"{kind}()")
        if items is None:
            return None
        local = dict(row)
        trues = unknown = 0
        for x in items:
            ctx.tick()
            local[var] = x
            r = pred(local, ctx)
            if r is True:
                trues += 1
                if kind == "any":
                    return True
                if kind == "none":
                    return False
                if kind == "single" and trues > 1:
                    return False
            elif r is None:
                unknown += 1
            elif kind == "all":
                return False
        if kind == "all":
            return None if unknown else True
        if kind == "any":
            return None if unknown else False
        if kind == "none":
            return None if unknown else True
        # single
        if unknown:
            return None
        return trues == 1
    return f


def _c_mapproj(e, env):
    var = e.var
    items = []
    for it in e.items:
        if it[0] == "lit":
            items.append(("lit", it[1], compile_expr(it[2], env)))
        else:
            items.append(it)

    def f(row, ctx):
        v = row.get(var)
        if v is None:
            return None
        if isinstance(v, NodeRef):
            props = stored_map(ctx.node(v.id).properties)
        elif isinstance(v, EdgeRef):
            props = stored_map(ctx.edge(v.id).properties)
        elif isinstance(v, dict):
            props = v
        else:
            raise type_error(f"map projection on a {type_name(v)}")
        out = {}
        for it in items:
            kind = it[0]
            if kind == "all":
                out.update(props)
            elif kind == "prop":
                out[it[1]] = props.get(it[1])
            elif kind == "var":
                out[it[1]] = row.get(it[1])
            else:
                out[it[1]] = it[2](row, ctx)
        return out
    return f


def _c_pattern(e, env):
    part = e.part
    if not part.path_var:
        part = A.PatternPart(" path", part.nodes, part.rels, part.shortest)
    run = env.hooks.match([part], env.bound, None)
    pv = part.path_var

    def f(row, ctx):
        return [r[pv] for r in run(row, ctx)]

    def exists(row, ctx):
        for _ in run(row, ctx):
            return True
        return False
    return _PatternFn(f, _memoized(e, env, exists))


class _PatternFn:
    """A pattern expression: a list of paths; as a predicate, true iff one match exists."""

    def __init__(self, f, exists):
        self.f, self.exists = f, exists

    def __call__(self, row, ctx):
        return self.f(row, ctx)


def _c_patterncomp(e, env):
    names = [n.var for n in e.part.nodes if n.var] + [r.var for r in e.part.rels if r.var]
    if e.part.path_var:
        names.append(e.part.path_var)
    inner = env.child(names)
    run = env.hooks.match([e.part], env.bound, e.where)
    proj = compile_expr(e.projection, inner)

    def f(row, ctx):
        out = []
        for r in run(row, ctx):
            out.append(proj(r, ctx))
            ctx.charge(40)
        return out
    return f


_VOLATILE = frozenset({"rand"})


def _deterministic(obj) -> bool:
    """True when nothing inside an AST object can answer differently for the same inputs
    within one query run (no rand(), no procedure CALL)."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, A.FuncCall) and x.name in _VOLATILE or isinstance(x, (A.Call, A.CallSubquery)):
            return False
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif hasattr(x, "__dataclass_fields__"):
            stack.extend(getattr(x, f) for f in x.__dataclass_fields__)
    return True


def _memo_key(v):
    """A hashable key equal for two values the subquery cannot tell apart; None when there is
    none (a list, map or path: then the subquery simply runs)."""
    t = type(v)
    if t is NodeRef or t is EdgeRef:
        return (t, v.id)
    if v is None or t is bool or t is int or t is float or t is str:
        return (t, v)
    return None


def _memoized(e, env, fn):
    """``fn(row, ctx)`` (an EXISTS or COUNT subquery, a pattern predicate) answered once per
    distinct value of the outer variables it reads, within one run of a read-only query:
    the answer depends on nothing else then (the graph does not change during the run).
    ``MATCH (a)-->(b), (c) RETURN count(CASE WHEN EXISTS { (a)-->() } THEN 1 END)`` asks the
    same question once per c otherwise.  Volatile subqueries (rand(), CALL) are not cached."""
    names = sorted(_names_inside(e) & env.bound)
    if not _deterministic(e):
        return fn
    token = object()

    def f(row, ctx):
        if not ctx.readonly:
            return fn(row, ctx)
        key = []
        for n in names:
            k = _memo_key(row.get(n))
            if k is None:
                return fn(row, ctx)
            key.append(k)
        key = tuple(key)
        memo = ctx.memo
        if memo is None:
            memo = ctx.memo = {}
        table = memo.get(token)
        if table is None:
            table = memo[token] = {}
        hit = table.get(key, _MISS)
        if hit is _MISS:
            hit = table[key] = fn(row, ctx)
            ctx.charge(64)
        return hit
    return f


_MISS = object()


def _subquery_rows(e, env):
    if e.query is None:
        return env.hooks.match(e.parts, env.bound, e.where)
    return env.hooks.subquery(e.query, env.bound)


def _c_exists(e, env):
    run = _subquery_rows(e, env)

    def f(row, ctx):
        for _ in run(row, ctx):
            return True
        return False
    return _memoized(e, env, f)


def _c_count(e, env):
    run = _subquery_rows(e, env)

    def f(row, ctx):
        n = 0
        for _ in run(row, ctx):
            n += 1
            ctx.tick()
        return n
    return _memoized(e, env, f)


def _c_collect(e, env):
    run = env.hooks.subquery(e.query, env.bound)
    col = env.hooks.columns(e.query)

    def f(row, ctx):
        out = []
        for r in run(row, ctx):
            out.append(r[col])
            ctx.charge(40)
        return out
    return f


_COMPILERS = {
    A.Literal: _c_literal, A.Param: _c_param, A.Var: _c_var, A.Prop: _c_prop, A.Index: _c_index,
    A.Slice: _c_slice, A.HasLabels: _c_haslabels, A.BinOp: _c_binop, A.Not: _c_not, A.Neg: _c_neg,
    A.Compare: _c_compare, A.IsNull: _c_isnull, A.ListLit: _c_list, A.MapLit: _c_map,
    A.FuncCall: _c_func, A.CountStar: _c_countstar, A.Case: _c_case, A.ListComp: _c_listcomp,
    A.Quantifier: _c_quantifier, A.Reduce: _c_reduce, A.MapProjection: _c_mapproj, A.PatternExpr: _c_pattern,
    A.PatternComp: _c_patterncomp, A.ExistsSubquery: _c_exists, A.CountSubquery: _c_count,
    A.CollectSubquery: _c_collect,
}


def compile_predicate(e, env):
    """Like compile_expr, but a bare pattern means 'a match exists'."""
    f = compile_expr(e, env)
    if isinstance(f, _PatternFn):
        return f.exists
    return f

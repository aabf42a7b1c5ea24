"""Semantic pass: scoping, variable kinds, static types and clause rules, before anything runs.

Owns: every compile-time check the TCK files as SyntaxError (plus its compile-time TypeErrors):
undefined variables, a variable used as two kinds (node / relationship / path / value),
re-binding in CREATE / MERGE / path names, rules for CREATE relationships, aggregation
rules (placement, nesting, ambiguous grouping), projection aliases and column names,
SKIP / LIMIT constants, UNION composition, and type errors visible from literals.
Must not: touch the graph or evaluate expressions (only literals are inspected).

Static types are strings: 'bool' 'int' 'float' 'str' 'list' 'map' 'null' 'node' 'rel'
'path' or 'any' (unknown until run time).  A scope maps variable names to static types.
Invariant: ``check`` either raises or returns the set of parameter names the query uses.
"""
from __future__ import annotations

from ..errors import SemanticError
from ..values import kind as value_kind
from . import ast as A
from .diagnostics import not_supported, procedure_error, semantic, type_error
from .literals import static_sample
from .procedures import accepts, get_procedure
from .expressions import children, is_aggregate, walk
from .functions import AGG_ARITY, AGGREGATES, ARITY, SCALARS

__all__ = ["check"]

_GRAPH = ("node", "rel", "path")
_NUMERIC = ("int", "float")


def check(q: A.Query, text: str = "") -> set:
    """Check ``q``; return the parameter names it uses.  Errors about one expression (an
    undefined variable, an unknown function) carry its line, column and a caret snippet."""
    try:
        return _check(q)
    except SemanticError as err:
        pos = getattr(err, "pos", -1)
        if text and pos is not None and pos >= 0 and err.line is None:
            _locate(err, text, pos)
        raise


def _locate(err, text, pos):
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    src = text.split("\n")[line - 1]
    err.line, err.column = line, col
    err.snippet = f"{src}\n{' ' * (col - 1)}^"
    err.args = (f"line {line}, column {col}: {err.message}\n{err.snippet}",)


def _at(err, pos):
    err.pos = pos
    return err


def _check(q: A.Query) -> set:
    params: set = set()
    columns = None
    if q.union_all and len(set(q.union_all)) > 1:
        raise semantic("UNION and UNION ALL cannot be mixed in one query", "InvalidClauseComposition")
    for clauses in q.parts:
        cols = _Checker(params).single(clauses, union=len(q.parts) > 1)
        if columns is None:
            columns = cols
        elif cols != columns:
            raise semantic(f"all parts of a UNION must return the same columns: {columns} vs {cols}",
                           "DifferentColumnsInUnion")
    return params


_STATIC = {"bool": "bool", "int": "int", "float": "float", "str": "str"}


def _static_of_value(v) -> str:
    """The static type of a literal (its kind is lpgdb.values.kind's answer)."""
    if v is None:
        return "null"
    return _STATIC.get(value_kind(v), "any")


class _Checker:
    def __init__(self, params: set):
        self.params = params

    # ------------------------------------------------------------ clauses
    def single(self, clauses, union=False, scope=None, subquery=False, allow_writes=False):
        scope = dict(scope or {})
        cols = None
        n = len(clauses)
        for i, cl in enumerate(clauses):
            if cols is not None:
                raise semantic("RETURN must be the last clause of a query", "InvalidClauseComposition")
            if subquery and not allow_writes and isinstance(cl, A.WRITE_CLAUSES + (A.Call, A.CallSubquery)):
                raise semantic("an EXISTS subquery cannot update the graph or call procedures",
                               "InvalidClauseComposition")
            if isinstance(cl, A.Match):
                self.pattern(cl.parts, scope, "match")
                if cl.where is not None:
                    self.expr(cl.where, scope, agg=False, where="WHERE", pred=True)
            elif isinstance(cl, A.Unwind):
                t = self.expr(cl.expr, scope, agg=False)
                if cl.var in scope:
                    raise semantic(f"variable '{cl.var}' is already defined", "VariableAlreadyBound")
                scope[cl.var] = self._elem_type(cl.expr, t, scope)
            elif isinstance(cl, A.With):
                scope = self.projection(cl.projection, scope, is_with=True, where=cl.where)
            elif isinstance(cl, A.Return):
                new = self.projection(cl.projection, scope, is_with=False)
                cols = list(new)
            elif isinstance(cl, A.Create):
                self.pattern(cl.parts, scope, "create")
            elif isinstance(cl, A.Merge):
                self.pattern([cl.part], scope, "merge")
                for it in cl.on_match + cl.on_create:
                    self.set_item(it, scope)
            elif isinstance(cl, A.SetClause):
                for it in cl.items:
                    self.set_item(it, scope)
            elif isinstance(cl, A.Remove):
                for it in cl.items:
                    self.set_item(it, scope)
            elif isinstance(cl, A.Delete):
                for e in cl.exprs:
                    if isinstance(e, A.HasLabels):
                        raise semantic("DELETE takes nodes, relationships or paths; use REMOVE for labels",
                                       "InvalidDelete")
                    t = self.expr(e, scope, agg=False)
                    if t not in _GRAPH + ("any", "null"):
                        raise semantic(f"DELETE expects a node, relationship or path, not {t}",
                                       "InvalidArgumentType")
            elif isinstance(cl, A.Call):
                self.call(cl, scope, standalone=(n == 1))
            elif isinstance(cl, A.Foreach):
                t = self.expr(cl.expr, scope, agg=False)
                if t in ("bool", "int", "float", "str", "map") + _GRAPH:
                    raise semantic(f"FOREACH expects a list, got {t}", "InvalidArgumentType")
                inner = dict(scope)
                inner[cl.var] = self._elem_type(cl.expr, t, scope)
                for sub in cl.clauses:
                    if not isinstance(sub, A.WRITE_CLAUSES):
                        raise semantic("FOREACH may only contain update clauses (CREATE, MERGE, SET, REMOVE, "
                                       "DELETE, FOREACH)", "InvalidClauseComposition")
                self.single(cl.clauses, scope=inner, subquery=True, allow_writes=True)
            elif isinstance(cl, A.CallSubquery):
                if cl.batch is not None:
                    self.expr(cl.batch, {}, agg=False)
                sub_cols = None
                sub_scope = scope
                if cl.imports is not None:         # CALL (a, b) { }: only these are visible inside
                    for v in cl.imports:
                        if v not in scope:
                            raise semantic(f"variable '{v}' is not defined; CALL ( ) imports variables "
                                           f"bound before it", "UndefinedVariable")
                    sub_scope = {v: scope[v] for v in cl.imports}
                for part in cl.query.parts:
                    c = _Checker(self.params).single(part, scope=dict(sub_scope), subquery=True, allow_writes=True)
                    sub_cols = sub_cols if sub_cols is not None else c
                for c in sub_cols or []:
                    if c in scope:
                        raise semantic(f"variable '{c}' is already defined; alias the subquery's column",
                                       "VariableAlreadyBound")
                    scope[c] = "any"
            elif isinstance(cl, A.LoadCsv):
                self.expr(cl.url, scope, agg=False)
                if cl.var in scope:
                    raise semantic(f"variable '{cl.var}' is already defined", "VariableAlreadyBound")
                scope[cl.var] = "map" if cl.headers else "list"
            elif isinstance(cl, A.SchemaCommand):
                if n != 1:
                    raise semantic("an index or constraint command must be a query of its own",
                                   "InvalidClauseComposition")
        last = clauses[-1]
        if not subquery and not isinstance(last, (A.Return,) + A.WRITE_CLAUSES + (A.Call, A.CallSubquery)):
            raise semantic("a query must end with RETURN, an update clause or CALL",
                           "InvalidClauseComposition")
        if union and cols is None:
            raise semantic("each part of a UNION must end with RETURN", "InvalidClauseComposition")
        return cols

    def call(self, cl: A.Call, scope, standalone):
        proc = get_procedure(cl.name)
        if proc is None:
            raise procedure_error(f"there is no procedure named '{cl.name}'; register it with "
                                  "lpgdb.query.register_procedure()")
        if cl.args is None:
            if proc.inputs and not standalone:
                raise semantic(f"{cl.name}: arguments can be passed implicitly (from parameters) only in a "
                               "standalone CALL; write them in parentheses", "InvalidArgumentPassingMode")
            self.params.update(name for name, _ in proc.inputs)
        else:
            if len(cl.args) != len(proc.inputs):
                raise semantic(f"{cl.name} takes {len(proc.inputs)} argument(s), got {len(cl.args)}",
                               "InvalidNumberOfArguments")
            for a, (name, typ) in zip(cl.args, proc.inputs):
                t = self.expr(a, scope, agg=False, where="procedure arguments")
                if not accepts(typ, t):
                    raise semantic(f"{cl.name}: argument '{name}' expects {typ}, got {t}", "InvalidArgumentType")
        outputs = dict(proc.outputs)
        if cl.yields == "*":
            if not standalone:
                raise semantic("YIELD * is only allowed in a standalone CALL", "UnexpectedSyntax")
            items = [(n, n) for n in outputs]
        else:
            items = list(cl.yields or [])
        seen = set()
        for field, alias in items:
            if field not in outputs:
                raise semantic(f"{cl.name} has no output '{field}'", "UndefinedVariable")
            if alias in scope or alias in seen:
                raise semantic(f"variable '{alias}' is already bound", "VariableAlreadyBound")
            seen.add(alias)
        for alias in seen:
            scope[alias] = "any"
        if cl.where is not None:
            self.expr(cl.where, scope, agg=False, where="WHERE", pred=True)

    def set_item(self, it, scope):
        if isinstance(it, (A.SetProperty, A.RemoveProperty)):
            t = self.expr(it.target.subject, scope, agg=False)
            if t not in ("node", "rel", "map", "any", "null"):
                raise semantic(f"cannot set a property on a {t}", "InvalidArgumentType")
            if isinstance(it, A.SetProperty):
                self.expr(it.value, scope, agg=False)
            return
        var = it.var
        if var not in scope:
            raise semantic(f"variable '{var}' is not defined", "UndefinedVariable")
        if isinstance(it, (A.SetAll, A.SetMerge)):
            self.expr(it.value, scope, agg=False)
        elif scope[var] not in ("node", "any"):
            raise semantic(f"labels can only be set on nodes, '{var}' is a {scope[var]}", "InvalidArgumentType")

    def projection(self, p: A.Projection, scope, is_with, where=None):
        new = {}
        items = list(p.items)
        if p.star:
            if not scope and not is_with:
                raise semantic("RETURN * / WITH * needs at least one variable in scope", "NoVariablesInScope")
            for name in sorted(scope):
                new[name] = scope[name]
        names = []
        agg_items = []
        unaliased = None      # reported after the aggregation checks, which take precedence
        for it in items:
            t = self.expr(it.expr, scope, agg=True)
            if is_with and not it.aliased and not isinstance(it.expr, A.Var) and unaliased is None:
                unaliased = it
            if it.name in names:
                raise semantic(f"column name '{it.name}' is used twice", "ColumnNameConflict")
            names.append(it.name)
            new[it.name] = t
            if any(is_aggregate(x) for x in walk(it.expr)):
                agg_items.append(it)
        aggregating = bool(agg_items)
        if aggregating:
            keys = [it.expr for it in items if it not in agg_items]
            key_vars = {e.name for e in keys if isinstance(e, A.Var)}
            if p.star:
                key_vars |= set(scope)
            for it in agg_items:
                self._check_grouping(it.expr, keys, key_vars)
        # ORDER BY sees the projected names, plus the incoming ones unless DISTINCT/aggregating
        order_scope = dict(new)
        if not aggregating and not p.distinct:
            order_scope = {**scope, **new}
        for e, *_ in p.order:
            has_agg = any(is_aggregate(x) for x in walk(e))
            if has_agg and not aggregating:
                raise semantic("ORDER BY may use aggregates only when the projection aggregates",
                               "InvalidAggregation")
            if (aggregating or p.distinct):
                self._check_order_projected(e, items, new, scope, aggregating)
            if aggregating and has_agg:
                keys = [it.expr for it in items if it not in agg_items]
                self._check_grouping(e, keys, {x.name for x in keys if isinstance(x, A.Var)} | set(new))
            self.expr(e, order_scope if not (aggregating or p.distinct) else {**scope, **new}, agg=aggregating)
        if unaliased is not None:
            raise semantic(f"expression '{unaliased.name}' in WITH must be aliased (use AS)", "NoExpressionAlias")
        if where is not None:
            if aggregating or p.distinct:
                self._check_order_projected(where, items, new, scope, aggregating)
            self.expr(where, order_scope if not (aggregating or p.distinct) else {**scope, **new}, agg=False,
                      where="WHERE", pred=True)
        for what, e in (("SKIP", p.skip), ("LIMIT", p.limit)):
            if e is None:
                continue
            if any(isinstance(x, (A.Var, A.PatternExpr)) for x in walk(e)):
                raise semantic(f"{what} must be a constant expression", "NonConstantExpression")
            t = self.expr(e, {}, agg=False)
            if isinstance(e, A.Literal):
                if t == "int" and e.value < 0:
                    raise semantic(f"{what} must not be negative", "NegativeIntegerArgument")
                if t != "int":
                    raise semantic(f"{what} expects an integer", "InvalidArgumentType")
        return new

    def _check_order_projected(self, e, items, new, scope, aggregating):
        """After DISTINCT or aggregation, ORDER BY may only use projected columns/expressions."""
        projected = [it.expr for it in items]

        def ok(x, local=frozenset()):
            """``local``: the names a comprehension, quantifier or reduce() around ``x`` binds."""
            if any(x == pe for pe in projected):
                return True
            if is_aggregate(x):
                return aggregating and all(ok(c, local) for c in children(x))
            if isinstance(x, A.Var):
                return x.name in new or x.name in local
            if isinstance(x, (A.ListComp, A.Quantifier)):
                inner = local | {x.var}
                return ok(x.source, local) and all(ok(b, inner) for b in (x.where, getattr(x, "projection", None))
                                                   if b is not None)
            if isinstance(x, A.Reduce):
                return ok(x.init, local) and ok(x.source, local) and ok(x.expr, local | {x.acc, x.var})
            return all(ok(c, local) for c in children(x))
        if not ok(e):
            code = "UndefinedVariable"
            raise semantic("ORDER BY after DISTINCT or aggregation may only use projected expressions", code)

    def _check_grouping(self, e, keys, key_vars):
        """AmbiguousAggregationExpression: outside aggregates, only grouping keys may be used."""
        if is_aggregate(e):
            return
        if isinstance(e, (A.Var, A.Prop)) and any(e == k for k in keys):
            return
        if isinstance(e, A.Var):
            if e.name not in key_vars:
                raise semantic(f"'{e.name}' is used next to an aggregate but is not a grouping key",
                               "AmbiguousAggregationExpression")
            return
        if isinstance(e, (A.ListComp, A.Quantifier)):      # its variable is local
            self._check_grouping(e.source, keys, key_vars)
            for x in (e.where, getattr(e, "projection", None)):
                if x is not None:
                    self._check_grouping(x, keys, key_vars | {e.var})
            return
        if isinstance(e, A.Reduce):
            self._check_grouping(e.init, keys, key_vars)
            self._check_grouping(e.source, keys, key_vars)
            self._check_grouping(e.expr, keys, key_vars | {e.acc, e.var})
            return
        for c in children(e):
            self._check_grouping(c, keys, key_vars)

    # ------------------------------------------------------------ patterns
    def pattern(self, parts, scope, mode):
        introduced: dict = {}
        rel_names_here = set()

        def lookup(v):
            if v in introduced:
                return introduced[v]
            return scope.get(v)

        for part in parts:
            for np in part.nodes:
                if np.props is not None:
                    if isinstance(np.props, A.Param) and mode != "create":
                        raise semantic("a parameter cannot be used as the property map of a pattern in "
                                       f"{mode.upper()}; write {{key: $param.key}}", "InvalidParameterUse")
                    self.expr(np.props, {**scope, **introduced}, agg=False)
                v = np.var
                if not v:
                    continue
                t = lookup(v)
                if t is None:
                    introduced[v] = "node"
                    continue
                if t not in ("node", "any", "null"):
                    raise semantic(f"variable '{v}' is a {t}, it cannot be used as a node", "VariableTypeConflict")
                if mode in ("create", "merge") and (np.labels or np.props is not None):
                    raise semantic(f"variable '{v}' is already bound; a bound node cannot get new labels or "
                                   f"properties in {mode.upper()}", "VariableAlreadyBound")
                if mode in ("merge", "create") and len(part.nodes) == 1 and v in scope:
                    raise semantic(f"variable '{v}' is already bound; MERGE needs a new pattern",
                                   "VariableAlreadyBound")
            for rp in part.rels:
                if mode in ("create", "merge") and rp.var and lookup(rp.var) is not None:
                    raise semantic(f"variable '{rp.var}' is already bound; {mode.upper()} needs a new "
                                   "relationship", "VariableAlreadyBound")
                if rp.props is not None:
                    if isinstance(rp.props, A.Param) and mode != "create":
                        raise semantic("a parameter cannot be used as the property map of a pattern in "
                                       f"{mode.upper()}", "InvalidParameterUse")
                    self.expr(rp.props, {**scope, **introduced}, agg=False)
                if mode in ("create", "merge"):
                    if len(rp.types) != 1:
                        raise semantic(f"a relationship in {mode.upper()} needs exactly one type",
                                       "NoSingleRelationshipType")
                    if rp.direction == "both" and mode == "create":
                        raise semantic("a relationship in CREATE needs a direction", "RequiresDirectedRelationship")
                    if rp.length is not None:
                        raise semantic(f"variable-length relationships cannot be used in {mode.upper()}",
                                       "CreatingVarLength")
                v = rp.var
                if not v:
                    continue
                t = lookup(v)
                if t is None:
                    introduced[v] = "list" if rp.length is not None else "rel"
                    rel_names_here.add(v)
                    continue
                if mode in ("create", "merge"):
                    raise semantic(f"variable '{v}' is already bound; {mode.upper()} needs a new relationship",
                                   "VariableAlreadyBound")
                if v in rel_names_here:
                    raise semantic(f"relationship variable '{v}' is used twice in one pattern",
                                   "RelationshipUniquenessViolation")
                if t not in ("rel", "any", "null") and not (t == "list" and rp.length is not None):
                    raise semantic(f"variable '{v}' is a {t}, it cannot be used as a relationship",
                                   "VariableTypeConflict")
            if part.path_var:
                if lookup(part.path_var) is not None:
                    raise semantic(f"variable '{part.path_var}' is already bound", "VariableAlreadyBound")
                introduced[part.path_var] = "path"
        scope.update(introduced)

    # ------------------------------------------------------------ expressions
    def _elem_type(self, e, t, scope):
        if isinstance(e, A.ListLit):
            ts = {self.expr(x, scope, agg=False) for x in e.items}
            if len(ts) == 1:
                return ts.pop()
        return "any"

    def expr(self, e, scope, agg, where=None, in_agg=False, pred=False) -> str:
        """Check ``e`` in ``scope``; return its static type.  ``pred``: a boolean position,
        where a pattern is a predicate (WHERE, AND/OR/XOR/NOT operands, exists())."""
        ex = lambda x, s=scope, a=agg: self.expr(x, s, a, where, in_agg)  # noqa: E731
        px = lambda x, s=scope, a=agg: self.expr(x, s, a, where, in_agg, True)  # noqa: E731
        if pred and not isinstance(e, (A.BinOp, A.Not, A.PatternExpr, A.ExistsSubquery)):
            t = ex(e)
            if t in ("int", "float", "str", "map", "list") + _GRAPH:
                raise semantic(f"expected a boolean predicate, got {t}", "InvalidArgumentType")
            return t
        if isinstance(e, A.Literal):
            return _static_of_value(e.value) if not isinstance(e.value, int) or isinstance(e.value, bool) \
                or -(2 ** 63) <= e.value < 2 ** 63 else self._overflow(e)
        if isinstance(e, A.Param):
            self.params.add(e.name)
            sample = static_sample(e.name)       # a literal lpgdb.query.literals hid: its type
            return "any" if sample is NotImplemented else _static_of_value(sample)
        if isinstance(e, A.Var):
            if e.name not in scope:
                raise _at(semantic(f"variable '{e.name}' is not defined", "UndefinedVariable"), e.pos)
            return scope[e.name]
        if isinstance(e, A.Prop):
            t = ex(e.subject)
            if t == "path":
                raise semantic("a path has no properties", "InvalidArgumentType")
            if t in ("bool", "int", "float", "str", "list"):
                raise type_error(f"cannot read property '{e.key}' of a {t}", "InvalidArgumentType", phase="compile")
            return "any"
        if isinstance(e, A.BinOp):
            if e.op in ("AND", "OR", "XOR"):
                lt, rt = px(e.left), px(e.right)
            else:
                lt, rt = ex(e.left), ex(e.right)
            if e.op in ("AND", "OR", "XOR"):
                for t in (lt, rt):
                    if t not in ("bool", "null", "any"):
                        raise semantic(f"{e.op} expects boolean operands, got {t}", "InvalidArgumentType")
                return "bool"
            if e.op == "IN":
                if rt not in ("list", "null", "any"):
                    raise semantic(f"IN expects a list on its right, got {rt}", "InvalidArgumentType")
                return "bool"
            if e.op in ("-", "*", "/", "%", "^"):
                for t in (lt, rt):
                    if t in ("bool", "str", "list", "map") + _GRAPH:
                        raise semantic(f"'{e.op}' expects numbers, got {t}", "InvalidArgumentType")
                if lt == rt == "int" and e.op != "^":
                    return "int"
                if lt in _NUMERIC and rt in _NUMERIC:
                    return "float"
                return "any"
            if e.op == "+":
                if lt == rt == "int":
                    return "int"
                if lt in _NUMERIC and rt in _NUMERIC:
                    return "float"
                if "list" in (lt, rt):
                    return "list"
                if lt == rt == "str":
                    return "str"
                return "any"
            return "bool"
        if isinstance(e, A.Not):
            t = px(e.operand)
            if t not in ("bool", "null", "any"):
                raise semantic(f"NOT expects a boolean, got {t}", "InvalidArgumentType")
            return "bool"
        if isinstance(e, A.Neg):
            t = ex(e.operand)
            if t in ("bool", "str", "list", "map") + _GRAPH:
                raise semantic(f"cannot negate a {t}", "InvalidArgumentType")
            return t if t in _NUMERIC else "any"
        if isinstance(e, (A.Compare, A.IsNull)):
            for c in children(e):
                ex(c)
            return "bool"
        if isinstance(e, A.ListLit):
            for c in e.items:
                ex(c)
            return "list"
        if isinstance(e, A.MapLit):
            for _, v in e.items:
                ex(v)
            return "map"
        if isinstance(e, A.CountStar):
            self._agg_allowed(agg, in_agg, where, "count(*)")
            return "int"
        if isinstance(e, A.FuncCall):
            return self.func(e, scope, agg, where, in_agg)
        if isinstance(e, A.Case):
            for c in children(e):
                ex(c)
            return "any"
        if isinstance(e, (A.ListComp, A.Quantifier)):
            st = ex(e.source)
            if st in ("bool", "int", "float", "str", "map") + _GRAPH:
                raise semantic(f"expected a list to iterate over, got {st}", "InvalidArgumentType")
            inner = dict(scope)
            inner[e.var] = self._elem_type(e.source, st, scope)
            if e.where is not None:
                self.expr(e.where, inner, False, where, in_agg)
            if isinstance(e, A.ListComp):
                if e.projection is not None:
                    self.expr(e.projection, inner, False, "a list comprehension", in_agg)
                return "list"
            return "bool"
        if isinstance(e, A.Reduce):
            ex(e.init)
            st = ex(e.source)
            if st in ("bool", "int", "float", "str", "map") + _GRAPH:
                raise semantic(f"reduce() expects a list to iterate over, got {st}", "InvalidArgumentType")
            if e.acc == e.var:
                raise semantic(f"reduce() needs two different names for the accumulator and the element, "
                               f"'{e.acc}' is both", "VariableAlreadyBound")
            inner = dict(scope)
            inner[e.acc] = "any"
            inner[e.var] = self._elem_type(e.source, st, scope)
            self.expr(e.expr, inner, False, "reduce()", in_agg)
            return "any"
        if isinstance(e, A.MapProjection):
            if e.var not in scope:
                raise semantic(f"variable '{e.var}' is not defined", "UndefinedVariable")
            for it in e.items:
                if it[0] == "lit":
                    ex(it[2])
                elif it[0] == "var" and it[1] not in scope:
                    raise semantic(f"variable '{it[1]}' is not defined", "UndefinedVariable")
            return "map"
        if isinstance(e, A.PatternExpr):
            if not pred:
                raise semantic("a pattern can only be used as a predicate here (in WHERE, or inside "
                               "exists()); use a pattern comprehension [(a)-->(b) | b] for a list",
                               "UnexpectedSyntax")
            inner = dict(scope)
            for v in [n.var for n in e.part.nodes] + [r.var for r in e.part.rels]:
                if v and v not in scope:
                    raise semantic(f"variable '{v}' is not defined (a pattern expression cannot introduce "
                                   "new variables)", "UndefinedVariable")
            self.pattern([e.part], inner, "expr")
            return "any"  # a list of paths, or a predicate in boolean context
        if isinstance(e, A.CollectSubquery):
            for clauses in e.query.parts:
                cols = _Checker(self.params).single(clauses, scope=scope, subquery=True)
                if cols is None or len(cols) != 1:
                    raise semantic("COLLECT { } must end with a RETURN of exactly one column",
                                   "InvalidClauseComposition")
            return "list"
        if isinstance(e, (A.ExistsSubquery, A.CountSubquery)):
            if e.query is None:
                inner = dict(scope)
                self.pattern(e.parts, inner, "match")
                if e.where is not None:
                    self.expr(e.where, inner, False, "WHERE", False, True)
            else:
                for clauses in e.query.parts:
                    self.single(clauses, scope=scope, subquery=True)
            return "int" if isinstance(e, A.CountSubquery) else "bool"
        if isinstance(e, A.PatternComp):
            inner = dict(scope)
            self.pattern([e.part], inner, "expr")
            if e.where is not None:
                self.expr(e.where, inner, False, where, in_agg)
            self.expr(e.projection, inner, agg, where, in_agg)
            return "list"
        for c in children(e):
            ex(c)
        if isinstance(e, A.HasLabels):
            return "bool"
        return "any"

    def _overflow(self, e):
        raise semantic(f"integer literal {e.value} does not fit in 64 bits", "IntegerOverflow")

    def _agg_allowed(self, agg, in_agg, where, name):
        if in_agg:
            raise semantic(f"aggregate {name} cannot be nested in another aggregate", "NestedAggregation")
        if not agg:
            place = f" in {where}" if where else " here"
            raise semantic(f"aggregate {name} is not allowed{place}", "InvalidAggregation")

    def func(self, e: A.FuncCall, scope, agg, where, in_agg) -> str:
        name = e.name
        if name in AGGREGATES:
            self._agg_allowed(agg, in_agg, where, f"{name}()")
            lo, hi = AGG_ARITY[name]
            if not lo <= len(e.args) <= hi:
                raise semantic(f"{name}() takes {lo} argument(s), got {len(e.args)}", "InvalidNumberOfArguments")
            for a in e.args:
                self.expr(a, scope, False, where, True)
                if any(isinstance(x, A.FuncCall) and x.name in ("rand", "randomuuid") for x in walk(a)):
                    raise semantic(f"{name}() of a non-deterministic expression", "NonConstantExpression")
            return {"count": "int", "collect": "list", "avg": "float"}.get(name, "any")
        if name not in SCALARS:
            if name.split(".")[0] in ("date", "time", "localtime", "datetime", "localdatetime", "duration"):
                raise not_supported(f"temporal function {name}()")
            raise _at(semantic(f"unknown function '{name}'", "UnknownFunction"), e.pos)
        lo, hi = ARITY[name]
        if len(e.args) < lo or (hi is not None and len(e.args) > hi):
            raise semantic(f"{name}() takes {lo}{'' if hi == lo else '..' + ('n' if hi is None else str(hi))} "
                           f"argument(s), got {len(e.args)}", "InvalidNumberOfArguments")
        if e.distinct:
            raise semantic(f"DISTINCT is only allowed in aggregate functions, not {name}()", "InvalidAggregation")
        if name == "size" and e.args and isinstance(e.args[0], A.PatternExpr):
            raise semantic("size() of a pattern is not allowed; use a pattern comprehension or COUNT",
                           "UnexpectedSyntax")
        ts = [self.expr(a, scope, agg, where, in_agg, name == "exists") for a in e.args]
        allowed = _ARG_TYPES.get(name)
        if allowed and ts and ts[0] not in allowed + ("any", "null"):
            raise semantic(f"{name}() cannot take a {ts[0]}", "InvalidArgumentType")
        return _RESULT_TYPES.get(name, "any")


_ARG_TYPES = {
    "labels": ("node",), "type": ("rel",), "length": ("path",), "properties": ("node", "rel", "map"),
    "size": ("str", "list"), "nodes": ("path",), "relationships": ("path",), "startnode": ("rel",),
    "endnode": ("rel",), "keys": ("node", "rel", "map"), "elementid": ("node", "rel"),
}
_RESULT_TYPES = {
    "labels": "list", "type": "str", "length": "int", "size": "int", "keys": "list", "nodes": "list",
    "relationships": "list", "tostring": "str", "tointeger": "int", "tofloat": "float", "toboolean": "bool",
    "range": "list", "split": "list", "properties": "map", "startnode": "node", "endnode": "node",
    "id": "int", "exists": "bool", "tail": "list", "reverse": "any",
    "tointegerornull": "int", "tofloatornull": "float", "tobooleanornull": "bool", "tostringornull": "str",
    "elementid": "str", "randomuuid": "str", "valuetype": "str",
}

"""str(graph_type) is canonical DDL that parses back to an equal GraphType (hypothesis)."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpgdb import parse_schema
from lpgdb.schema import ast

LABELS = ["A", "B", "Person", "Customer", "count", "two words", "x`y"]
VALUE_TYPES = ["STRING", "INT", "INT32", "UINT8", "DOUBLE", "BOOL", "DATE", "DATETIME", "ANY", "BYTES"]


@st.composite
def label_spec(draw, names, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return ast.LabelName(draw(st.sampled_from(names)))
    kind = draw(st.sampled_from(["and", "or", "opt"]))
    if kind == "opt":
        return ast.LabelOptional(draw(label_spec(names, depth + 1)))
    items = tuple(draw(st.lists(label_spec(names, depth + 1), min_size=2, max_size=3)))
    return ast.LabelAnd(items) if kind == "and" else ast.LabelOr(items)


@st.composite
def lp_spec(draw, names, prefix, with_labels=True):
    labels = draw(st.one_of(st.none(), label_spec(names))) if with_labels else None
    props = None
    if draw(st.booleans()):
        n = draw(st.integers(0, 3))
        props = ast.PropertySpec(
            tuple(ast.PropertyDef(f"{prefix}{i}", draw(st.sampled_from(VALUE_TYPES)), draw(st.booleans()))
                  for i in range(n)),
            draw(st.booleans()))
    return ast.LabelPropertySpec(labels, draw(st.booleans()), props)


@st.composite
def label_expr(draw, names, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return ast.LabelName(draw(st.sampled_from(names)))
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        return ast.LabelNot(draw(label_expr(names, depth + 1)))
    items = tuple(draw(st.lists(label_expr(names, depth + 1), min_size=2, max_size=3)))
    return ast.LabelAnd(items) if kind == "and" else ast.LabelOr(items)


@st.composite
def constraint(draw, node_names, edge_names):
    scope = ast.Scope("x", draw(st.one_of(st.none(), label_expr(node_names))))
    where = None
    if draw(st.booleans()):
        where = ast.Comparison(draw(st.sampled_from(["=", "<>", "<", ">="])), ast.Prop("x", "age"),
                               ast.Literal(draw(st.one_of(st.integers(-5, 5), st.floats(-2, 2).map(
                                   lambda f: round(f, 2)), st.text("ab'", max_size=3), st.booleans()))))
    form = draw(st.sampled_from(["key", "count", "within", "check"]))
    if form == "key":
        quals = draw(st.sampled_from([("IDENTIFIER",), ("EXCLUSIVE",), ("MANDATORY",),
                                      ("EXCLUSIVE", "MANDATORY", "SINGLETON")]))
        keys = draw(st.lists(st.sampled_from(["id", "name", "count"]), min_size=1, max_size=2, unique=True))
        return ast.Constraint(scope, where, quals, None, tuple(ast.Prop("x", k) for k in keys))
    if form == "check":
        expr = ast.And((ast.Comparison(">=", ast.Prop("x", "b"), ast.Literal(0)),
                        ast.Not(ast.IsNull(ast.Prop("x", "c"), draw(st.booleans())))))
        return ast.Constraint(scope, where, ("MANDATORY",), None, (expr,))
    lo = draw(st.integers(0, 3))
    hi = draw(st.one_of(st.none(), st.integers(lo, 5)))
    edge = ast.EdgePattern(draw(st.sampled_from([None, "e"])),
                           draw(st.one_of(st.none(), label_expr(edge_names))),
                           draw(st.sampled_from(["out", "in", "any"])))
    pattern = ast.Pattern((ast.NodePattern("x"), ast.NodePattern("y", draw(st.one_of(
        st.none(), label_expr(node_names))))), (edge,))
    if form == "count":
        return ast.Constraint(scope, where, (), (lo, hi), (), pattern)
    ww = ast.Comparison("=", ast.Prop("y", "k"), ast.Prop("x", "k")) if draw(st.booleans()) else None
    quals = draw(st.sampled_from([("MANDATORY",), ("SINGLETON",), ("MANDATORY", "SINGLETON")]))
    return ast.Constraint(scope, where, quals, None, (ast.Var("y"),), pattern, ww)


@st.composite
def schemas(draw):
    statements, node_names, edge_names = [], [], []
    n_top = draw(st.integers(0, 2))
    body = []
    for i in range(draw(st.integers(0, 4))):
        name = f"n{i}Type"
        t = ast.NodeTypeDef(name, draw(lp_spec(LABELS + node_names, f"p{i}_")), draw(st.booleans()))
        node_names.append(name)
        if i < n_top:
            statements.append(t)
            if draw(st.booleans()):
                body.append(ast.TypeRef(name))
        else:
            body.append(t)
    for i in range(draw(st.integers(0, 2)) if node_names else 0):
        name = f"e{i}Type"
        body.append(ast.EdgeTypeDef(name, draw(lp_spec(node_names, "s", True)),
                                    draw(lp_spec(["R", "S"] + edge_names, f"q{i}_")),
                                    draw(lp_spec(node_names, "t", True)), draw(st.booleans())))
        edge_names.append(name)
    for _ in range(draw(st.integers(0, 3))):
        body.append(draw(constraint(node_names + LABELS, edge_names + ["R"])))
    statements.append(ast.GraphTypeDef("g", draw(st.booleans()), (), tuple(body)))
    return str(ast.Schema(tuple(statements)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas())
def test_canonical_ddl_round_trips(ddl):
    gt = parse_schema(ddl)
    text = str(gt)
    again = parse_schema(text)
    assert again == gt
    assert str(again) == text
    assert hash(again) == hash(gt)
    assert len(again.constraints) == len(gt.constraints)
    assert [s.name for s in again.index_specs()] == [s.name for s in gt.index_specs()]


def test_equality_ignores_positions_and_member_order():
    a = parse_schema("CREATE GRAPH TYPE g STRICT {\n (a: A {x INT}),\n (b: B)\n}")
    b = parse_schema("create graph type g strict { (b: B), (a: A {x int}) }")
    assert a == b
    assert a != parse_schema("CREATE GRAPH TYPE g LOOSE { (a: A {x INT}), (b: B) }")
    assert a != parse_schema("CREATE GRAPH TYPE g STRICT { (a: A {OPTIONAL x INT}), (b: B) }")

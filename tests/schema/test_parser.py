"""The PG-Schema parser and semantic pass against the conformance cases, plus error reporting."""
import pytest

import lpgdb
from lpgdb import SchemaSyntaxError, SemanticError, parse_schema
from tests.schema.cases import case_ids, load_cases
from tests.shared import shared_path

CASES = load_cases()


def test_conformance_cases_are_present():
    folder = shared_path("pgschema", "cases")
    assert len(list(folder.glob("*.json"))) == len(CASES) >= 100


def _static_cases():
    return [c for c in CASES if c.get("parse_error") or c.get("schema_error")]


def _good_cases():
    return [c for c in CASES if not (c.get("parse_error") or c.get("schema_error"))]


@pytest.mark.parametrize("case", _static_cases(), ids=case_ids(_static_cases()))
def test_static_case_gets_its_verdict(case):
    if case.get("parse_error"):
        with pytest.raises(SchemaSyntaxError) as ei:
            parse_schema(case["schema"], case.get("graph_type"))
        assert ei.value.kind == "parse_error"
        assert ei.value.line >= 1 and ei.value.column >= 1
        assert "^" in ei.value.snippet
    else:
        with pytest.raises(SemanticError) as ei:
            parse_schema(case["schema"], case.get("graph_type"))
        assert not isinstance(ei.value, SchemaSyntaxError)
        assert ei.value.kind == case["violations"][0]
        assert ei.value.line is not None


@pytest.mark.parametrize("case", _good_cases(), ids=case_ids(_good_cases()))
def test_case_schema_parses_resolves_and_round_trips(case):
    gt = parse_schema(case["schema"], case.get("graph_type"))
    assert isinstance(gt, lpgdb.schema.GraphType)
    again = parse_schema(str(gt))
    assert again == gt
    assert str(again) == str(gt)


def test_parse_schema_is_exported():
    assert "parse_schema" in lpgdb.__all__
    assert lpgdb.parse_schema is parse_schema


def test_syntax_error_has_position_caret_and_plain_expectations():
    ddl = "CREATE GRAPH TYPE g STRICT {\n  (personType: Person {name STRING OPTIONAL})\n}"
    with pytest.raises(SchemaSyntaxError) as ei:
        parse_schema(ddl)
    e = ei.value
    assert (e.line, e.column) == (2, 36)
    assert e.snippet.splitlines()[0].strip() == "(personType: Person {name STRING OPTIONAL})"
    assert e.snippet.splitlines()[1].index("^") == e.snippet.splitlines()[0].index("OPTIONAL")
    assert "','" in e.expected and "'}'" in e.expected
    assert "Token(" not in str(e) and "lark" not in str(e).lower()
    assert e.__suppress_context__  # the lark exception is not chained into tracebacks


def test_missing_mode_suggests_strict():
    with pytest.raises(SchemaSyntaxError) as ei:
        parse_schema("CREATE GRAPH TYPE g { }")
    assert "STRICT" in str(ei.value)
    assert set(ei.value.expected) >= {"STRICT", "LOOSE"}


def test_unexpected_character_and_end_of_text():
    with pytest.raises(SchemaSyntaxError) as ei:
        parse_schema("CREATE GRAPH TYPE g STRICT { (a: A {x INT}) # }")
    assert ei.value.column == 45 and "'#'" in str(ei.value)
    with pytest.raises(SchemaSyntaxError) as ei:
        parse_schema("CREATE GRAPH TYPE g STRICT {\n  (a: A")
    assert ei.value.line == 2 and "end of the text" in str(ei.value)
    with pytest.raises(SchemaSyntaxError):
        parse_schema("   ")
    with pytest.raises(SchemaSyntaxError):
        parse_schema(42)


def test_keywords_case_insensitive_names_case_sensitive():
    gt = parse_schema("create graph type g strict { (pT: Person {name string}), "
                      "for (x:pT) key x.name }")
    assert set(gt.node_types) == {"pT"}
    assert gt.constraints[0].name == "FOR (x:pT) IDENTIFIER (x.name)"
    t = gt.node_types["pT"]
    assert t.conforms(frozenset({"Person"}), {"name": "a"})
    assert not t.conforms(frozenset({"person"}), {"name": "a"})


def test_keyword_words_usable_as_names_where_no_keyword_fits():
    gt = parse_schema("CREATE GRAPH TYPE g LOOSE { (t: Item {count INT, `open` STRING, `two words` BOOL}),"
                      " FOR (x:Item) EXCLUSIVE x.count }")
    t = gt.node_types["t"]
    assert t.conforms(frozenset({"Item"}), {"count": 1, "open": "y", "two words": True})
    assert parse_schema(str(gt)) == gt


def test_comments_semicolons_and_brackets():
    gt = parse_schema("/* block\n comment */ CREATE NODE TYPE (a: A); // line\n"
                      "CREATE GRAPH TYPE g STRICT { a, (b: [X | Y] & Z) };")
    assert set(gt.node_types) == {"a", "b"}
    b = gt.node_types["b"]
    assert b.conforms(frozenset({"X", "Z"}), {}) and not b.conforms(frozenset({"X", "Y", "Z"}), {})


def test_graph_type_selection_and_errors():
    ddl = "CREATE GRAPH TYPE a STRICT {}\nCREATE GRAPH TYPE b LOOSE {}"
    assert parse_schema(ddl).name == "b"
    assert parse_schema(ddl, "a").name == "a" and parse_schema(ddl, "a").strict
    with pytest.raises(SemanticError) as ei:
        parse_schema(ddl, "c")
    assert ei.value.kind == "unknown_type_reference"
    with pytest.raises(SemanticError):
        parse_schema("CREATE NODE TYPE (a: A)")


@pytest.mark.parametrize("ddl,kind", [
    ("CREATE GRAPH TYPE g STRICT { (a: A {x FLOATY}) }", "unknown_value_type"),
    ("CREATE GRAPH TYPE g STRICT { (a: A {x INT}), (b: a & B {x STRING}) }",
     "incompatible_property_redeclaration"),
    ("CREATE GRAPH TYPE g STRICT { nope }", "unknown_type_reference"),
    ("CREATE GRAPH TYPE g STRICT IMPORTS h {} CREATE GRAPH TYPE h STRICT IMPORTS g {}",
     "cyclic_type_reference"),
    ("CREATE GRAPH TYPE g STRICT { (a: a & A) }", "cyclic_type_reference"),
    ("CREATE GRAPH TYPE g STRICT { (a: A {x INT}), FOR (x:a) COUNT 2..1 OF y WITHIN (x)-[y]->() }",
     "invalid_count_range"),
    ("CREATE GRAPH TYPE g STRICT { (a: A), FOR (x:a) MANDATORY MANDATORY x.k }", "duplicate_qualifier"),
    ("CREATE GRAPH TYPE g STRICT { (a: A), FOR (x:a) MANDATORY z.k }", "unbound_variable"),
    ("CREATE GRAPH TYPE g STRICT { (a: A), (:a)-[e: E]->(:a), FOR (x:e) MANDATORY x.k }",
     "wrong_type_kind"),
    ("CREATE GRAPH TYPE g STRICT { (a: A), (b: B), (a2: A) , (a: C) }", "duplicate_type_name"),
])
def test_semantic_error_kinds(ddl, kind):
    with pytest.raises(SemanticError) as ei:
        parse_schema(ddl)
    assert ei.value.kind == kind, str(ei.value)


def test_narrowing_redeclaration_is_allowed():
    gt = parse_schema("CREATE GRAPH TYPE g STRICT { (a: A {x INT}), (b: a & B {x INT32}) }")
    b = gt.node_types["b"]
    assert b.conforms(frozenset({"A", "B"}), {"x": 5})
    assert not b.conforms(frozenset({"A", "B"}), {"x": 2 ** 40})


def test_bare_pattern_descriptor_needs_count():
    with pytest.raises(SemanticError):
        parse_schema("CREATE GRAPH TYPE g LOOSE { FOR (x:A) MANDATORY (x)-[:R]->(y) }")


def test_absurd_nesting_is_a_schema_error_not_a_recursion_error():
    deep = "CREATE GRAPH TYPE g STRICT { (a: " + "(" * 3000 + "A" + ")" * 3000 + ") }"
    with pytest.raises(SchemaSyntaxError, match="nested too deeply"):
        parse_schema(deep)
    nots = "CREATE GRAPH TYPE g STRICT { (a: A), FOR (x:a) MANDATORY " + "NOT " * 3000 + "x.k }"
    with pytest.raises((SchemaSyntaxError, SemanticError)):
        parse_schema(nots)
    fine = "CREATE GRAPH TYPE g STRICT { (a: " + "(" * 50 + "A" + ")" * 50 + ") }"
    assert parse_schema(fine).node_types["a"].conforms(frozenset({"A"}), {})


def test_lint_warnings_for_closed_bases_and_non_member_scopes():
    gt = parse_schema("""CREATE NODE TYPE (other: O);
        CREATE GRAPH TYPE g STRICT {
          (personType: Person {name STRING}), (customerType: personType & Customer),
          (:personType)-[k: knows]->(:personType | customerType),
          FOR (x:personType) EXCLUSIVE x.name, FOR (x:other) MANDATORY x.k }""")
    text = "\n".join(gt.warnings)
    assert len(gt.warnings) == 3, text
    assert "endpoint 'personType' is a closed type" in text and "customerType" in text
    assert "not in scope; use a label" in text
    assert "'other' is not a member" in text
    assert parse_schema(str(gt)).warnings == gt.warnings   # warnings survive the round trip
    ok = parse_schema("CREATE GRAPH TYPE g STRICT { (p: P OPEN {OPEN}), (c: p & C), (:p)-[k: K]->(:p) }")
    assert ok.warnings == ()

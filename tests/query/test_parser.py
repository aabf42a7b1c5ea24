"""Parser and semantic pass: AST shape, column names, positioned syntax errors, TCK error codes."""
import pytest

import lpgdb
from lpgdb.query import ast as A
from lpgdb.query import prepare
from lpgdb.query.parser import parse


def test_unaliased_column_names_are_the_source_text():
    q = parse("MATCH (n) RETURN n.name, cOuNt( * ), aVg(    n.aGe     ) AS a, {a: 1, b: 'foo'}")
    items = q.parts[0][1].projection.items
    assert [it.name for it in items] == ["n.name", "cOuNt( * )", "a", "{a: 1, b: 'foo'}"]


def test_pattern_ast_has_directions_types_and_ranges():
    q = parse("MATCH p = (a:A {x: 1})<-[r:T|:U*2..]-(b)-->(c) RETURN p")
    part = q.parts[0][0].parts[0]
    assert part.path_var == "p"
    assert [n.var for n in part.nodes] == ["a", "b", "c"]
    r0, r1 = part.rels
    assert (r0.var, r0.types, r0.direction, r0.length) == ("r", ["T", "U"], "in", (2, None))
    assert (r1.direction, r1.length) == ("out", None)


def test_pattern_predicate_after_parenthesised_expression():
    q = parse("MATCH (n) WHERE (n)-[:T]->(:B) AND (n.x) - 1 > 0 RETURN n")
    where = q.parts[0][0].where
    assert isinstance(where.left, A.PatternExpr)
    assert isinstance(where.right, A.Compare)


def test_keywords_can_be_property_names():
    q = parse("MATCH (n) RETURN n.end, n.count, n.match")
    assert [it.expr.key for it in q.parts[0][1].projection.items] == ["end", "count", "match"]


def test_misspelled_keyword_reports_position_and_expected_tokens():
    with pytest.raises(lpgdb.QuerySyntaxError) as ei:
        parse("MATCH (n)\nRETRUN n")
    err = ei.value
    assert (err.line, err.column) == (2, 1)
    assert "unexpected 'RETRUN'" in str(err)
    assert "RETURN" in err.expected and "WHERE" in err.expected
    assert err.snippet.endswith("^")


def test_truncated_query_says_it_ended_unexpectedly():
    with pytest.raises(lpgdb.QuerySyntaxError, match="query ended unexpectedly"):
        parse("MATCH (n")


def test_bad_number_literal_is_a_syntax_error_with_a_code():
    with pytest.raises(lpgdb.QuerySyntaxError) as ei:
        parse("RETURN 0x1G")
    assert ei.value.code == "InvalidNumberLiteral"


@pytest.mark.parametrize("query, code", [
    ("MATCH (a) RETURN b", "UndefinedVariable"),
    ("MATCH ()-[r]-() MATCH (r) RETURN r", "VariableTypeConflict"),
    ("MATCH (a) CREATE (a:L)", "VariableAlreadyBound"),
    ("CREATE ()-[:A|:B]->()", "NoSingleRelationshipType"),
    ("CREATE ()-[:T]-()", "RequiresDirectedRelationship"),
    ("MATCH (a) WHERE count(a) > 1 RETURN a", "InvalidAggregation"),
    ("RETURN count(count(*))", "NestedAggregation"),
    ("RETURN 1 AND true", "InvalidArgumentType"),
    ("MATCH (n) WITH n.x RETURN 1", "NoExpressionAlias"),
    ("RETURN 1 AS a UNION RETURN 2 AS b", "DifferentColumnsInUnion"),
    ("MATCH (n) RETURN n LIMIT -1", "NegativeIntegerArgument"),
    ("RETURN nosuchfunction(1)", "UnknownFunction"),
    ("RETURN 9223372036854775808", "IntegerOverflow"),
])
def test_semantic_errors_carry_the_tck_code(query, code):
    with pytest.raises(lpgdb.ProgrammingError) as ei:
        prepare(query)
    assert ei.value.code == code
    assert ei.value.phase == "compile"


def test_exists_subquery_parses_in_both_forms():
    q = parse("MATCH (n) WHERE EXISTS { (n)-->(m) WHERE m.x = 1 } AND exists { MATCH (n)--() RETURN true } RETURN n")
    where = q.parts[0][0].where
    assert where.left.query is None and len(where.left.parts) == 1 and where.left.where is not None
    assert where.right.query is not None


def test_updates_inside_exists_are_rejected():
    with pytest.raises(lpgdb.SemanticError) as ei:
        prepare("MATCH (n) WHERE exists { MATCH (n)-->(m) SET m.x = 1 } RETURN n")
    assert ei.value.code == "InvalidClauseComposition"


def test_query_text_must_be_a_string():
    with pytest.raises(lpgdb.InterfaceError):
        prepare(b"RETURN 1")

"""Whatever text it is given, parse_schema raises only SchemaSyntaxError or SemanticError."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpgdb import SchemaSyntaxError, SemanticError, parse_schema
from tests.schema.cases import load_cases

TOKENS = ["(", ")", "{", "}", "[", "]", ",", ":", "&", "|", "?", "!", "-", ">", "<", ".", "..", ";",
          "`", "'", '"', "CREATE", "GRAPH", "NODE", "EDGE", "TYPE", "STRICT", "LOOSE", "OPEN",
          "OPTIONAL", "ABSTRACT", "IMPORTS", "FOR", "WHERE", "WITHIN", "COUNT", "OF", "KEY",
          "EXCLUSIVE", "MANDATORY", "SINGLETON", "IDENTIFIER", "x.id", "x", "y", "0", "1..2", "-1",
          "1.5", "INT", "STRING", "NULL", "TRUE", "IS", "NOT", "AND", "=", ">=", "//", "/*", "\n",
          "\u00e9", "\u2192", "\x00"]


def _only_schema_errors(text):
    try:
        parse_schema(text)
    except (SchemaSyntaxError, SemanticError) as e:
        assert e.kind
        assert "lark" not in str(e).lower() or "lark" in text.lower()   # no lark internals


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text):
    _only_schema_errors(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup(tokens):
    _only_schema_errors("CREATE GRAPH TYPE g STRICT { " + " ".join(tokens))


_VALID = [c["schema"] for c in load_cases() if not c.get("parse_error")] or [
    "CREATE NODE TYPE (p: Person {name STRING});\n"
    "CREATE GRAPH TYPE g STRICT IMPORTS h { p, (a: p & A OPEN {OPTIONAL x INT32, OPEN}),\n"
    "  (:p | a)-[k: K & L {since DATE}]->(OPEN {OPEN}),\n"
    "  FOR (x:a) WHERE x.x >= 1 COUNT 1..2 OF y WITHIN (x)-[:K]->(y), FOR (x:p) KEY x.name }\n"
    "CREATE GRAPH TYPE h LOOSE {}"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(_VALID))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(1, 12)))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif j - i >= 2:
            text = text[:i] + text[j - 1] + text[i + 1:j - 1] + text[i] + text[j:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_schemas(text):
    _only_schema_errors(text)

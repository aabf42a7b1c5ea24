"""lpgdb schema draw: DOT like the PG-Schema paper's figures, Mermaid, SVG/PNG through Graphviz."""
import os
import shutil
import subprocess

import pytest

import lpgdb
from lpgdb.cli import main
from lpgdb.cli.draw import draw_dot, draw_mermaid

SCHEMA = """CREATE GRAPH TYPE fraud STRICT {
  (personType: Person {name STRING}),
  (customerType: personType & Customer {id INT32, OPTIONAL email STRING}),
  ABSTRACT (thingType: Thing OPEN {OPEN}),
  (`odd "type"`: `Odd Label` {`a b` STRING}),
  (accountType: Account {iban STRING, balance DOUBLE}),
  (:customerType)-[ownsType: Owns {since DATE}]->(:accountType),
  (:Person)-[knowsType: Knows]->(:personType),
  FOR (c:customerType) EXCLUSIVE MANDATORY SINGLETON c.id,
  FOR (a:accountType) COUNT 1.. OF c WITHIN (c:customerType)-[:ownsType]->(a)
}"""


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as d:
        d.set_schema(SCHEMA)
    return path


def test_dot_has_a_box_per_type_inheritance_edge_types_and_constraints(db, capsys):
    assert main(["schema", "draw", db]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "fraud"') and "graph type fraud (STRICT)" in dot
    for name in ("personType", "customerType", "accountType", "thingType"):
        assert f"<B>{name}</B>" in dot
    assert "OPTIONAL email: STRING" in dot and "id: INT32" in dot and ":Customer<" in dot
    assert "<I>abstract</I>" in dot and 'STYLE="dashed"' in dot and "OPEN: other properties allowed" in dot
    assert dot.count("arrowhead=onormal") == 1                     # customerType inherits personType
    assert 'label="ownsType\\n:Owns\\nsince: DATE"' in dot
    assert '[shape=ellipse, style=dashed, label=":Person"]' in dot  # an endpoint that is a label
    assert "FOR (c:customerType) EXCLUSIVE MANDATORY SINGLETON (c.id)\\l" in dot
    assert "&quot;type&quot;" in dot                               # names are escaped
    if shutil.which("dot"):                                        # and Graphviz reads it
        r = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "<svg" in r.stdout, r.stderr


def test_mermaid_class_diagram(db, capsys):
    assert main(["schema", "draw", db, "--format", "mermaid"]) == 0
    text = capsys.readouterr().out
    assert "classDiagram" in text and "title: graph type fraud (STRICT)" in text
    lines = text.splitlines()
    ids = {line.split('"')[1]: line.split()[1].split("[")[0] for line in lines if line.startswith("  class ")}
    assert f"  {ids['personType']} <|-- {ids['customerType']} : inherits" in lines
    assert f"  {ids['customerType']} --> {ids['accountType']} : ownsType :Owns, since: DATE" in lines
    assert "    OPTIONAL email: STRING" in lines and "    <<abstract>>" in lines
    assert any(line.startswith('  note "FOR (a:accountType) COUNT 1..') for line in lines)
    assert 'odd #quot;type#quot;' in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_and_png_through_graphviz(db, tmp_path):
    assert main(["schema", "draw", db, "--format", "svg", "-o", str(tmp_path / "s.svg")]) == 0
    assert "<svg" in (tmp_path / "s.svg").read_text()
    assert main(["schema", "draw", db, "--format", "png", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")


def test_without_graphviz_the_message_says_what_to_do(db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert main(["schema", "draw", db, "--format", "svg", "-o", str(tmp_path / "x.svg")]) == 1
    err = capsys.readouterr().err
    assert "needs Graphviz's dot program, which is not installed" in err and "--format mermaid" in err
    assert not os.path.exists(tmp_path / "x.svg")


def test_a_database_without_schema_draws_the_inferred_one(tmp_path, capsys):
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as d:
        d.execute("CREATE (:Person {name: 'Ada'})-[:KNOWS]->(:Person {name: 'Bob'})")
    assert main(["schema", "draw", path]) == 0
    out, err = capsys.readouterr()
    assert "<B>" in out and "Person" in out and "inferred" in err
    gt = lpgdb.parse_schema(SCHEMA)
    assert draw_dot(gt) == draw_dot(lpgdb.parse_schema(str(gt)))    # deterministic, from the types
    assert draw_mermaid(gt) == draw_mermaid(lpgdb.parse_schema(str(gt)))

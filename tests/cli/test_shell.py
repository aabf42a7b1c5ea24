"""The query shell's statements, commands and output (lpgdb/cli/shell.py, output.py)."""
import io
import json

import pytest

import lpgdb
from lpgdb.cli.shell import format_table, format_value, run_query, run_shell, split_statements


def _db():
    db = lpgdb.connect(":memory:")
    db.execute("CREATE (:Person {name: 'Ada'})-[:KNOWS {since: 2020}]->(:Person {name: 'Bob'})")
    return db


def test_run_query_prints_an_aligned_table_and_row_count():
    out = io.StringIO()
    with _db() as db:
        assert run_query(db, "MATCH (p:Person) RETURN p.name AS name ORDER BY name", out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[:4] == ["| name |", "|------|", "| Ada  |", "| Bob  |"]
    assert lines[4].startswith("(2 rows")


def test_run_query_json_lines_and_parameters():
    out = io.StringIO()
    with _db() as db:
        run_query(db, "MATCH (p:Person {name: $n}) RETURN p", {"n": "Ada"}, as_json=True, out=out)
    row = json.loads(out.getvalue())
    assert row["p"]["labels"] == ["Person"] and row["p"]["properties"] == {"name": "Ada"}


def test_run_query_reports_errors_with_status_1():
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        assert run_query(db, "MATCH (n) RETRUN n", out=out, err=err) == 1
    assert "QuerySyntaxError" in err.getvalue() and "RETRUN" in err.getvalue()


def test_shell_reads_multiline_statements_commands_and_parameters():
    script = io.StringIO(":param who \"Bob\"\nMATCH (p:Person)\nWHERE p.name = $who\nRETURN p.name;\n"
                         ":params\nRETURN 'a;b' AS s; RETURN 2 AS x;\n:quit\nRETURN 3;\n")
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        assert run_shell(db, stdin=script, out=out, err=err) == 0
    text = out.getvalue()
    assert "| Bob    |" in text and '$who = \'Bob\'' in text and "| a;b |" in text and "| 2 |" in text
    assert "| 3 |" not in text  # after :quit
    assert err.getvalue() == ""


def test_piped_input_that_ends_inside_a_statement_does_not_run_it():
    # Issue 13 item 1, piped: the half-typed DETACH DELETE has no ';' and must not run.
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        status = run_shell(db, stdin=io.StringIO("RETURN 1 AS x;\nMATCH (t:Person)\nDETACH DELETE t\n"),
                           out=out, err=err)
        assert db.execute("MATCH (p:Person) RETURN count(p)").value() == [2]
    assert status == 1 and "| 1 |" in out.getvalue()
    assert "stdin:2: the input ended inside a statement" in err.getvalue() and "not run" in err.getvalue()


def test_piped_exit_status_is_nonzero_when_any_statement_failed_and_bail_stops():
    script = "RETURN 1 AS a;\nRETURN nope;\nCREATE (:Late);\n"
    for bail, late in ((False, 1), (True, 0)):
        out, err = io.StringIO(), io.StringIO()
        with _db() as db:
            assert run_shell(db, stdin=io.StringIO(script), out=out, err=err, bail=bail) == 1
            assert db.execute("MATCH (n:Late) RETURN count(n)").value() == [late]
        assert "stdin:2: SemanticError" in err.getvalue()


def test_dash_c_runs_its_statements_and_the_end_of_the_text_ends_the_last_one():
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        assert run_shell(db, command="CREATE (:C); MATCH (c:C) RETURN count(c) AS n", out=out, err=err) == 0
        assert run_shell(db, command="RETURN 1; RETURN x; RETURN 3", out=out, err=err) == 1
    assert "| 1 |" in out.getvalue() and "| 3 |" in out.getvalue() and "-c:1: SemanticError" in err.getvalue()


def test_split_statements_skips_strings_comments_and_backquotes():
    stmts, rest = split_statements("RETURN ';' AS `a;b`; // x;\n/* ; */ RETURN \"\\\";\" AS q;\nMATCH")
    assert [s for _, s in stmts] == ["RETURN ';' AS `a;b`", '// x;\n/* ; */ RETURN "\\";" AS q'] or \
        [s for _, s in stmts][0] == "RETURN ';' AS `a;b`"
    assert rest.strip() == "MATCH"


def test_tables_align_wide_characters_and_emoji():
    import unicodedata

    def width(s):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in s)
    with lpgdb.connect(":memory:") as db:
        res = db.execute("UNWIND ['Ada', '李小龍', 'smile 😀', 'naïve'] AS name RETURN name, size(name) AS n")
        lines = format_table(res.columns, res.fetchall()).splitlines()
    assert len(lines) == 6 and len({width(line) for line in lines}) == 1, lines
    assert lines[3].startswith("| 李小龍 ")


def test_graph_values_are_printed_in_pattern_notation():
    with _db() as db:
        row = db.execute("MATCH p = (a)-[r]->(b) RETURN a, r, p").fetchone()
    assert format_value(row[0]) == "(:Person {name: 'Ada'})"
    assert format_value(row[1]) == "[:KNOWS {since: 2020}]"
    assert format_value(row[2]) == "(:Person {name: 'Ada'})-[:KNOWS {since: 2020}]->(:Person {name: 'Bob'})"
    assert format_table(["x"], [([1, "a", None],)]).splitlines()[2] == "| [1, 'a', null] |"


def test_json_output_writes_temporal_values_as_text():
    out = io.StringIO()
    with lpgdb.connect(":memory:") as db:
        run_query(db, "RETURN date('2020-02-29') AS d, duration('PT1.5S') AS x", as_json=True, out=out)
    assert json.loads(out.getvalue()) == {"d": "2020-02-29", "x": "PT1.5S"}


def test_temporal_values_print_as_the_query_language_writes_them():
    import datetime as dt
    from zoneinfo import ZoneInfo
    from lpgdb.values import temporal_text
    values = [dt.date(2020, 2, 29), dt.time(12, 0), dt.time(12, 31, 14, 500000),
              dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
              dt.datetime(2020, 1, 1, 10, 0), dt.datetime(2020, 1, 1, 10, 0, 1, 25, tzinfo=dt.timezone.utc),
              dt.datetime(2020, 6, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris")),
              dt.timedelta(0), dt.timedelta(days=1, seconds=2, microseconds=500000),
              dt.timedelta(hours=25, minutes=3), dt.timedelta(microseconds=7)]
    with lpgdb.connect(":memory:") as db:
        for v in values:
            assert temporal_text(v) == db.execute("RETURN toString($v) AS s", {"v": v}).fetchone()[0], v


def test_a_result_taller_than_the_terminal_goes_through_the_pager(monkeypatch):
    import pydoc
    from lpgdb.cli.output import print_table
    paged = []
    monkeypatch.setattr(pydoc, "pager", lambda text: paged.append(text))
    monkeypatch.setenv("LINES", "20")
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    rows = [(i, "李" * (i % 3)) for i in range(50)]
    print_table(["n", "s"], rows, out, terminal=True, pager=True)
    assert len(paged) == 1 and "│ 49 │" in paged[0] and out.getvalue() == ""
    print_table(["n", "s"], rows[:5], out, terminal=True, pager=True)      # short: printed directly
    assert len(paged) == 1 and "│ 4 │" in out.getvalue()
    print_table(["n", "s"], rows, out, terminal=True, pager=False)         # :pager off
    assert len(paged) == 1 and "│ 49 │" in out.getvalue()


def test_a_parameter_nested_too_deeply_is_refused_not_a_traceback(tmp_path, capsys):
    from lpgdb.cli import main
    deep = "[" * 50000 + "]" * 50000        # json.loads raises RecursionError
    with pytest.raises(SystemExit) as e:
        main(["query", str(tmp_path / "db"), "RETURN $x AS x", "-p", "x=" + deep])
    assert e.value.code == 2 and "nests too deeply" in capsys.readouterr().err
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        status = run_shell(db, stdin=io.StringIO(f":param x {deep}\nRETURN 1 AS one;\n"), out=out, err=err)
    assert status == 1 and "nests too deeply" in err.getvalue() and "| 1   |" in out.getvalue()

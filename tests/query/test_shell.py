"""The query shell and one-shot query command (lpgdb/cli/shell.py)."""
import io
import json

import lpgdb
from lpgdb.cli.shell import format_table, format_value, run_query, run_shell


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
                         ":params\nRETURN 'a;b' AS s; RETURN 2 AS x\n:quit\nRETURN 3;\n")
    out, err = io.StringIO(), io.StringIO()
    with _db() as db:
        assert run_shell(db, stdin=script, out=out, err=err) == 0
    text = out.getvalue()
    assert "| Bob    |" in text and '$who = \'Bob\'' in text and "| a;b |" in text
    assert "| 2 |" in text      # the unterminated statement still runs on :quit
    assert "| 3 |" not in text  # after :quit
    assert err.getvalue() == ""


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

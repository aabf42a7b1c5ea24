"""The interactive shell on prompt_toolkit, driven through a pipe input (issue 13, item 1)."""
import io

import pytest

import lpgdb
from lpgdb.cli.shell import Shell, _Completer, _prompt_completer, interactive

pt = pytest.importorskip("prompt_toolkit")
from prompt_toolkit.application import create_app_session  # noqa: E402
from prompt_toolkit.document import Document  # noqa: E402
from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402


def session(db, *keys, history_file=""):
    """Type ``keys`` into an interactive shell over ``db``; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as inp:
        for k in keys:
            inp.send_text(k)
        with create_app_session(input=inp, output=DummyOutput()):
            status = interactive(Shell(db, out=out, err=err), history_file=history_file)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def accounts():
    db = lpgdb.connect(":memory:")
    db.execute("UNWIND range(1, 3) AS i CREATE (:Account {i: i})")
    yield db
    db.close()


def count(db):
    return db.execute("MATCH (t:Account) RETURN count(t)").value()[0]


def test_ctrl_c_cancels_the_half_typed_statement_and_ctrl_d_leaves(accounts):
    # The reproduction of item 1: two lines without ';', then Ctrl-C.
    status, out, err = session(accounts, "MATCH (t:Account)\r", "DETACH DELETE t\r", "\x03",
                               "MATCH (t:Account) RETURN count(t) AS n;\r", "\x04")
    assert count(accounts) == 3 and status == 0 and err == ""
    assert "| 3 |" in out                     # the shell went on after Ctrl-C


def test_a_statement_runs_only_after_its_semicolon(accounts):
    status, out, err = session(accounts, "MATCH (t:Account)\r", "WHERE t.i = 1\r", "DETACH DELETE t\r",
                               ";\r", "\x04")
    assert count(accounts) == 2 and status == 0
    # Ctrl-D with text typed does not leave (nor run it); on the empty line after Ctrl-C it does
    status, out, err = session(accounts, "MATCH (t:Account) DETACH DELETE t", "\x04", "\x03", "\x04")
    assert count(accounts) == 2 and status == 0


def test_commands_multiple_statements_and_errors(accounts):
    status, out, err = session(accounts, ":param n 2\r", "RETURN $n AS a; RETURN 'x;y' AS b;\r",
                               "RETURN nope;\r", ":quit\r", "RETURN 'after';\r")
    assert status == 0 and "| 2 |" in out and "| x;y |" in out and "after" not in out
    assert "SemanticError" in err


def test_history_is_kept_in_a_file(accounts, tmp_path):
    hist = tmp_path / "hist"
    session(accounts, "RETURN 1 AS one;\r", "\x04", history_file=str(hist))
    assert "RETURN 1 AS one;" in hist.read_text()
    status, out, _ = session(accounts, "\x1b[A\r", "\x04", history_file=str(hist))   # Up, Enter: run it again
    assert "| one |" in out


def test_completion_of_keywords_labels_relationship_types_properties_and_parameters():
    with lpgdb.connect(":memory:") as db:
        db.set_schema("CREATE GRAPH TYPE g LOOSE { (personType: Person {name STRING, personId INT}) }")
        db.execute("CREATE (:Person {name: 'Ada', personId: 1})-[:KNOWS {since: 1}]->(:City {zip: '1'})")
        sh = Shell(db, out=io.StringIO(), err=io.StringIO())
        sh.params["who"] = 1
        comp = _prompt_completer(_Completer(sh))

        def complete(text):
            return [c.text for c in comp.get_completions(Document(text), None)]
        assert complete("MAT") == ["MATCH"] and "OPTIONAL MATCH" in complete("opt")
        assert complete("MATCH (p:Pe") == ["Person"] and complete("MATCH (c:C") == ["City"]
        assert complete("MATCH ()-[:K") == ["KNOWS"]
        assert complete("RETURN p.per") == ["personId"] and complete("RETURN c.z") == ["zip"]
        assert complete("WHERE r.si") == ["since"] and complete("RETURN $w") == ["who"]
        assert complete(":par") == [":param", ":params"]
        db.execute("CREATE (:Zebra {stripes: 3})")              # a write refreshes the names
        sh.run("RETURN 1")
        assert complete("MATCH (z:Ze") == ["Zebra"]

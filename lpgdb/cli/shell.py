"""The query shell: ``lpgdb shell DB`` and ``lpgdb query DB "..."``.

Owns: reading statements, shell commands (``:help``, ``:param``, ``:params``, ``:unparam``,
``:schema``, ``:pager``, ``:quit``), the interactive session, and running statements through
``db.execute`` (so the shell sees exactly what the API does).  Printing is output.py.

Statements end with ``;``.  A statement runs only once its ``;`` has been read:

- Interactive (a terminal; prompt_toolkit): Enter runs the input when it ends with a complete
  statement, else starts a new line (multi-line editing).  **Ctrl-C cancels the current input
  only** (nothing runs) and **Ctrl-D on an empty line leaves**.  History in
  ``~/.lpgdb_history`` (``$LPGDB_HISTORY`` overrides; empty disables).  Tab completes
  keywords, labels, relationship types, property names, parameters and commands.
- Piped (stdin not a terminal) and ``-c TEXT``: statements run in order; input that ends in the
  middle of a statement is not run and is an error (with ``-c`` the end of the text ends the
  last statement).  The exit status is 1 if any statement failed; ``--bail`` stops at the first
  failure.

    $ lpgdb shell data/social
    lpgdb> MATCH (p:Person) RETURN p.name, p.age LIMIT 2;
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple

from .. import Error, OperationalError, SemanticError
from .common import CliError, add_timeout, open_db, param
from .output import format_table, format_value, print_json_lines, print_table, rows_text

__all__ = ["run_shell", "run_query", "split_statements", "format_table", "format_value", "Shell"]

_HELP = """\
Statements end with ';' and may span several lines; Enter runs them once the ';' is typed.
Ctrl-C cancels the input being typed; Ctrl-D on an empty line leaves. Tab completes.
  :param NAME VALUE   set a query parameter ($NAME); VALUE is JSON (or a bare string)
  :params             show the parameters
  :unparam NAME       forget a parameter
  :schema             show the enforced PG-Schema graph type
  :pager on|off       page results taller than the screen (interactive; default on)
  :help               this text
  :quit               leave (also Ctrl-D)"""

KEYWORDS = (
    "MATCH", "OPTIONAL MATCH", "WHERE", "RETURN", "WITH", "UNWIND", "CREATE", "MERGE", "DELETE",
    "DETACH DELETE", "SET", "REMOVE", "ORDER BY", "SKIP", "LIMIT", "AS", "DISTINCT", "AND", "OR", "XOR",
    "NOT", "IN", "IS NULL", "IS NOT NULL", "STARTS WITH", "ENDS WITH", "CONTAINS", "CASE", "WHEN", "THEN",
    "ELSE", "END", "UNION", "UNION ALL", "CALL", "YIELD", "ON CREATE SET", "ON MATCH SET", "ASC", "DESC",
    "TRUE", "FALSE", "NULL", "EXISTS", "COUNT", "EXPLAIN", "PROFILE",
    "count", "collect", "sum", "avg", "min", "max", "size", "labels", "type", "id", "keys", "properties",
    "toString", "toInteger", "toFloat", "toBoolean", "coalesce", "head", "last", "tail", "range",
    "nodes", "relationships", "length", "startNode", "endNode", "date", "datetime", "localdatetime",
    "time", "localtime", "duration", "abs", "round", "floor", "ceil", "sqrt", "rand", "split",
    "substring", "replace", "toUpper", "toLower", "trim", "reverse", "exists",
)
_LIMIT_HINTS = {
    "query_timeout": "Give it more time with --query-timeout SECONDS.",
    "query_memory": "Narrow the query (LIMIT, aggregation), or allow more with --query-memory MIB.",
    "max_rows": "Add a LIMIT to the query.",
}
_COMMANDS = (":help", ":param", ":params", ":unparam", ":schema", ":pager", ":quit", ":exit")


# ---- statements ------------------------------------------------------------------------------------

def split_statements(buffer: str) -> Tuple[List[Tuple[int, str]], str]:
    """Split on ``;`` outside string literals, back-quoted names and comments.

    Returns ``(complete, rest)``: ``complete`` is ``[(line, statement)]`` (line: 1-based line of
    ``buffer`` where the statement starts), ``rest`` the text after the last ``;`` (an unfinished
    statement, or only blanks and comments).

    >>> split_statements("RETURN 'a;b';\\nRETURN 2; RETURN")
    ([(1, "RETURN 'a;b'"), (2, 'RETURN 2')], ' RETURN')
    """
    stmts: List[Tuple[int, str]] = []
    start, i, n = 0, 0, len(buffer)
    quote = None
    while i < n:
        c = buffer[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif buffer.startswith("//", i):
            j = buffer.find("\n", i)
            i = n if j < 0 else j
            continue
        elif buffer.startswith("/*", i):
            j = buffer.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif c == ";":
            text = buffer[start:i]
            if _has_code(text):
                lead = len(text) - len(text.lstrip())
                stmts.append((buffer.count("\n", 0, start + lead) + 1, text.strip()))
            start = i + 1
        i += 1
    return stmts, buffer[start:]


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?(\*/|$)", re.S)


def _has_code(text: str) -> bool:
    """True if ``text`` holds more than blanks and comments (quotes are not looked into)."""
    return bool(_COMMENTS.sub("", text).strip())


def _is_complete(text: str) -> bool:
    """Interactive Enter: run now?  Yes for a ``:command``, an empty input, or input whose last
    statement has its ``;`` (only blanks and comments after it)."""
    s = text.strip()
    if not s or s.startswith(":"):
        return True
    stmts, rest = split_statements(text)
    return bool(stmts) and not _has_code(rest) and not _open_comment_or_quote(rest)


def _open_comment_or_quote(rest: str) -> bool:
    return rest.count("/*") > rest.count("*/")


# ---- running statements ----------------------------------------------------------------------------

class Shell:
    """Runs statements and ``:commands`` on one database, printing to ``out`` / ``err``.

    ``terminal``: the output is a terminal (boxed tables, pager); ``status`` is 1 once any
    statement failed.
    """

    def __init__(self, db, *, out: Optional[TextIO] = None, err: Optional[TextIO] = None, terminal: bool = False,
                 as_json: bool = False, where: str = "", reopen_for_writes: bool = False,
                 readonly_hint: str = "start the shell without --readonly to write"):
        self.db = db
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.terminal = terminal
        self.as_json = as_json
        self.pager = terminal
        self.params: Dict[str, Any] = {}
        self.status = 0
        self.where = where           # "stdin" / "-c": prefixes error reports with the statement's line
        self.wrote = False           # a statement that may have written ran (completions go stale)
        self.reopen_for_writes = reopen_for_writes
        self.needs_writer = False    # a write was refused by a read-only open that may be reopened
        self.readonly_hint = readonly_hint
        self.options: Dict[str, Any] = {}    # execute() limits: timeout, memory

    @staticmethod
    def _refused_write(e: BaseException) -> bool:
        return ((isinstance(e, SemanticError) and e.kind == "ReadOnly")
                or (isinstance(e, OperationalError) and getattr(e, "reason", None) == "read_only"))

    def error(self, e: BaseException, line: Optional[int] = None) -> None:
        at = f"{self.where}:{line}: " if self.where and line else ""
        if self.db.readonly and self._refused_write(e):
            self.err.write(f"{at}this statement writes, but the database is open read-only; {self.readonly_hint}\n")
            return
        reason = getattr(e, "reason", None)
        hint = _LIMIT_HINTS.get(reason)
        if hint:
            what = str(e).split(";")[0]
            if reason == "query_timeout":
                limit = self.options.get("timeout")
                what = f"the query ran past its time limit{f' of {limit:g} s' if limit is not None else ''}"
            self.err.write(f"{at}{what}; nothing it wrote was kept. {hint}\n")
            return
        self.err.write(f"{at}{type(e).__name__}: {e}\n")

    def run(self, text: str, line: Optional[int] = None) -> bool:
        """Run one statement and print its result; False (and status 1) when it failed."""
        t0 = time.perf_counter()
        try:
            res = self.db.execute(text, self.params, **self.options)
        except Error as e:
            if self.reopen_for_writes and self.db.readonly and self._refused_write(e):
                self.needs_writer = True
                return False
            self.error(e, line)
            self.status = 1
            return False
        self.wrote = True
        secs = time.perf_counter() - t0
        rows = res.fetchall()
        if self.as_json:
            print_json_lines(res.columns, rows, self.out)
            return True
        if res.columns:
            print_table(res.columns, rows, self.out, terminal=self.terminal, pager=self.pager)
        self.out.write(rows_text(len(rows), secs) + "\n")
        return True

    def command(self, line: str) -> bool:
        """Handle a ``:command``.  Returns False when the shell should stop."""
        word, _, rest = line.strip()[1:].partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in ("quit", "exit", "q"):
            return False
        if word == "help":
            self.out.write(_HELP + "\n")
        elif word == "param":
            name, _, value = rest.partition(" ")
            if not name or not value.strip():
                self.err.write("usage: :param NAME VALUE\n")
                self.status = 1
            else:
                try:
                    self.params[name] = param(f"{name}={value.strip()}")[1]
                except argparse.ArgumentTypeError as e:
                    self.err.write(f"{e}\n")
                    self.status = 1
        elif word == "params":
            for k, v in self.params.items():
                self.out.write(f"${k} = {format_value([v])[1:-1]}\n")
        elif word == "unparam":
            self.params.pop(rest, None)
        elif word == "schema":
            schema = self.db.schema
            self.out.write((str(schema) if schema is not None else "(no schema: the graph is schemaless)") + "\n")
        elif word == "pager":
            if rest not in ("on", "off"):
                self.err.write("usage: :pager on|off\n")
            else:
                self.pager = rest == "on"
        else:
            self.err.write(f"unknown command ':{word}'; type :help\n")
            self.status = 1
        return True


def run_query(db, text: str, params: Optional[dict] = None, *, as_json: bool = False,
              out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """Run one query and print its result. Returns the exit status (0 ok, 1 error).

    >>> import lpgdb, io
    >>> buf = io.StringIO()
    >>> with lpgdb.connect(":memory:") as db:
    ...     run_query(db, "RETURN 1 AS one", out=buf)
    0
    >>> print(buf.getvalue().splitlines()[2])
    | 1   |
    """
    sh = Shell(db, out=out, err=err, as_json=as_json)
    sh.params = dict(params or {})
    sh.run(text)
    return sh.status


def run_script(sh: Shell, lines: Iterable[str], *, bail: bool = False, end_terminates: bool = False) -> int:
    """Run statements and commands from ``lines`` (piped input, ``-c``).  Returns the exit status."""
    buffer, first_line, lineno = "", 1, 0
    for raw in lines:
        lineno += 1
        line = raw.rstrip("\n")
        if not _has_code(buffer) and line.strip().startswith(":"):
            buffer, first_line = "", lineno + 1
            if not sh.command(line):
                return sh.status
            continue
        buffer += line + "\n"
        stmts, rest = split_statements(buffer)
        for n, text in stmts:
            if not sh.run(text, first_line + n - 1) and bail:
                return sh.status
        if stmts:
            first_line += buffer[:len(buffer) - len(rest)].count("\n")
            buffer = rest
    if _has_code(buffer):
        first_line += buffer[:len(buffer) - len(buffer.lstrip())].count("\n")
        if end_terminates:
            sh.run(buffer.strip(), first_line)
        else:
            head = buffer.strip().splitlines()[0][:60]
            sh.err.write(f"{sh.where + ':' if sh.where else ''}{first_line}: the input ended inside a statement "
                         f"(no terminating ';'), so it was not run: {head}\n")
            sh.status = 1
    return sh.status


# ---- the interactive session -----------------------------------------------------------------------

class _Completer:
    """prompt_toolkit completion: keywords, labels after ':', properties after '.', '$' params."""

    def __init__(self, sh: Shell):
        self.sh = sh
        self._names: Optional[Tuple[List[str], List[str]]] = None

    def names(self) -> Tuple[List[str], List[str]]:
        """(labels and relationship types, property keys): from the schema and a sample of the data."""
        if self._names is None or self.sh.wrote:
            self.sh.wrote = False
            labels, keys = set(), set()
            gt = self.sh.db.schema
            if gt is not None:
                for t in list(gt.node_types.values()) + list(gt.edge_types.values()):
                    for s in t.shapes:
                        labels.update(s.labels)
                        keys.update(r.key for r in s.props)
            try:
                for q in ("MATCH (n) WITH n LIMIT 2000 UNWIND labels(n) AS x RETURN DISTINCT x",
                          "MATCH ()-[r]->() WITH r LIMIT 2000 RETURN DISTINCT type(r) AS x"):
                    labels.update(v for v in self.sh.db.execute(q).value() if v)
                for q in ("MATCH (n) WITH n LIMIT 2000 UNWIND keys(n) AS x RETURN DISTINCT x",
                          "MATCH ()-[r]->() WITH r LIMIT 2000 UNWIND keys(r) AS x RETURN DISTINCT x"):
                    keys.update(self.sh.db.execute(q).value())
            except Error:
                pass
            self._names = (sorted(labels), sorted(keys))
        return self._names

    def candidates(self, before: str) -> Tuple[str, List[str]]:
        """(the word being completed, its candidates) for the text before the cursor."""
        m = re.search(r"([:.$]?)([A-Za-z_][A-Za-z0-9_]*|)$", before)
        sigil, word = m.group(1), m.group(2)
        if before.lstrip().startswith(":") and " " not in before.strip():
            return before.strip(), [c for c in _COMMANDS if c.startswith(before.strip())]
        if sigil == ":":
            pool = self.names()[0]
        elif sigil == ".":
            pool = self.names()[1]
        elif sigil == "$":
            pool = list(self.sh.params)
        else:
            if not word:
                return word, []
            up = word.upper()
            return word, [k for k in KEYWORDS if k.upper().startswith(up)]
        return word, [x for x in pool if x.startswith(word)]


def _prompt_completer(completer: _Completer):
    from prompt_toolkit.completion import Completer, Completion

    class PTCompleter(Completer):
        def get_completions(self, document, complete_event):
            word, cands = completer.candidates(document.text_before_cursor)
            for c in cands:
                yield Completion(c, start_position=-len(word))
    return PTCompleter()


def _history(path: Optional[str]):
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    if path is None:
        path = os.environ.get("LPGDB_HISTORY", os.path.join(os.path.expanduser("~"), ".lpgdb_history"))
    if not path:
        return InMemoryHistory()
    try:
        with open(path, "a", encoding="utf-8"):
            pass
        return FileHistory(path)
    except OSError:
        return InMemoryHistory()


def interactive(sh: Shell, *, history_file: Optional[str] = None, session_kwargs: Optional[dict] = None) -> int:
    """The prompt_toolkit loop.  Returns the exit status (0: leaving is not a failure)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyBindings

    keys = KeyBindings()

    @keys.add("enter")
    def _(event):
        buf = event.current_buffer
        if _is_complete(buf.text) and buf.document.is_cursor_at_the_end:
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    @keys.add("escape", "enter")
    def _(event):                   # Alt-Enter: run what is there, even without its ';'
        event.current_buffer.validate_and_handle()

    session = PromptSession(
        message="lpgdb> ", multiline=True, key_bindings=keys,
        prompt_continuation=lambda width, line_number, wrap_count: "  ...> ".rjust(width),
        history=_history(history_file), completer=_prompt_completer(_Completer(sh)),
        complete_while_typing=False, enable_history_search=True, **(session_kwargs or {}))
    sh.out.write("lpgdb shell: statements end with ';'. :help for help, Ctrl-D to leave.\n")
    while True:
        try:
            text = session.prompt()
        except KeyboardInterrupt:     # Ctrl-C: drop the input being typed, nothing runs
            continue
        except EOFError:              # Ctrl-D on an empty line
            sh.out.write("\n")
            return 0
        if text.strip().startswith(":"):
            if not sh.command(text.strip().splitlines()[0]):
                return 0
            continue
        stmts, rest = split_statements(text)
        for _line, stmt in stmts:
            sh.run(stmt)
        if _has_code(rest):          # Alt-Enter on an unfinished statement: run it as typed
            sh.run(rest.strip())


def run_shell(db, *, stdin: Optional[TextIO] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None,
              command: Optional[str] = None, bail: bool = False, interactive_mode: Optional[bool] = None,
              history_file: Optional[str] = None, options: Optional[Dict[str, Any]] = None) -> int:
    """The shell over ``db``: interactive on a terminal, else a script from ``stdin`` (or the
    statements of ``command``).  Returns the exit status: 0, or 1 if a statement failed (not
    interactive)."""
    out = out or sys.stdout
    if command is not None:
        sh = Shell(db, out=out, err=err, where="-c")
        sh.options = dict(options or {})
        return run_script(sh, command.splitlines(), bail=bail, end_terminates=True)
    src = stdin or sys.stdin
    if interactive_mode is None:
        interactive_mode = stdin is None and sys.stdin.isatty()
    if interactive_mode:
        sh = Shell(db, out=out, err=err, terminal=out.isatty() if hasattr(out, "isatty") else False)
        sh.options = dict(options or {})
        return interactive(sh, history_file=history_file)
    sh = Shell(db, out=out, err=err, where="stdin")
    sh.options = dict(options or {})
    return run_script(sh, src, bail=bail)


# ---- commands ------------------------------------------------------------------------------------

def _limits(a: argparse.Namespace) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if a.query_timeout is not None:
        out["timeout"] = a.query_timeout
    if a.query_memory is not None:
        out["memory"] = int(a.query_memory * 2 ** 20)
    return out


def cmd_shell(a: argparse.Namespace) -> int:
    with open_db(a.db, readonly=a.readonly, create=a.create, timeout=a.timeout) as db:
        return run_shell(db, command=a.command, bail=a.bail, options=_limits(a))


def cmd_query(a: argparse.Namespace) -> int:
    params = dict(a.param or ())
    # A read-only open takes no lock, so it runs beside a writer; a query that turns out to
    # write runs again through a writer open (unless --readonly).
    with open_db(a.db, readonly=True) as db:
        sh = Shell(db, as_json=a.json, reopen_for_writes=not a.readonly,
                   readonly_hint="run it without --readonly to write")
        sh.params, sh.options = params, _limits(a)
        sh.run(a.query)
        if not sh.needs_writer:
            return sh.status
    with open_db(a.db, timeout=a.timeout, readonly_flag=None) as db:
        sh = Shell(db, as_json=a.json)
        sh.params, sh.options = params, _limits(a)
        sh.run(a.query)
        return sh.status


def _add_limits(s) -> None:
    s.add_argument("--query-timeout", type=float, metavar="SECONDS",
                   help="stop a query after this long (default: the database's, 60 s)")
    s.add_argument("--query-memory", type=float, metavar="MIB",
                   help="stop a query that needs more memory than this (default: the database's, 1 GiB)")


def register(sub) -> None:
    s = sub.add_parser("shell", help="interactive query shell (or run statements from stdin / -c)")
    s.add_argument("db")
    s.add_argument("--readonly", action="store_true", help="open read-only (beside a running writer; no lock)")
    s.add_argument("-c", "--command", metavar="TEXT", help="run these statements and exit")
    s.add_argument("--bail", action="store_true", help="stop at the first failing statement (piped / -c)")
    s.add_argument("--create", action="store_true", help="create the database if there is none at DB")
    _add_limits(s)
    add_timeout(s)
    s.set_defaults(func=cmd_shell)
    s = sub.add_parser("query", help="run one query (read-only queries open the database read-only)")
    s.add_argument("db")
    s.add_argument("query")
    s.add_argument("-p", "--param", action="append", type=param, help="parameter key=value (JSON value)")
    s.add_argument("--json", action="store_true", help="print rows as JSON lines")
    s.add_argument("--readonly", action="store_true", help="never write: a query that writes fails")
    _add_limits(s)
    add_timeout(s)
    s.set_defaults(func=cmd_query)

"""Every code block of README.md and docs/*.md runs as written; the public modules' doctests pass.

A fenced block's language says how it is checked:

    python      executed, twice in a row in the same working directory (so examples must use a
                fresh temporary directory); a ``print(...)  # X`` line must print the line X
    output      the expected output of the python block before it (``...`` matches anything)
    console     ``$ cmd`` lines run in order in one fresh directory per document; the lines
                after a command are its expected output (``...`` matches anything); a command
                ending in ``# exit N`` must exit with status N (else 0).  ``lpgdb``
                runs in-process; ``pip install`` lines are checked against pyproject.toml's
                extras, ``python -m pytest`` lines against the test paths they name (those are
                the commands CI itself runs).  A ``$`` line may chain commands with ``&&``.
    csv NAME    (or any language followed by a file name) written to NAME in that directory,
                for the console blocks after it
    pgschema    parsed with lpgdb.parse_schema
    cypher      every ``;``-separated statement runs on a fresh in-memory database
    text        not code (diagrams, grammar sketches, file layouts): not run

An untagged fence, or an indented (4-space) code block, fails: tag it.
"""
import contextlib
import doctest
import io
import os
import re
import shlex
from pathlib import Path

import pytest

import lpgdb
import lpgdb.cursor
import lpgdb.database
import lpgdb.values

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
LANGS = {"python", "output", "console", "pgschema", "cypher", "text", "mermaid", "dot"}


def blocks(path: Path):
    """``[(line, lang, arg, code)]`` of the fenced blocks of a markdown file."""
    out, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+|~~~+)(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.groups()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        words = info.split()
        out.append((start, words[0] if words else "", " ".join(words[1:]), "\n".join(body) + "\n"))
    return out


def indented_code(path: Path):
    """Line numbers of indented (4-space) code blocks: after a blank line, not continuing a list."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, in_fence, context = [], False, ""
    for n, line in enumerate(lines, 1):
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("    ") and line.strip() and n > 1 and not lines[n - 2].strip():
            if not re.match(r"^\s*([-*+]|\d+[.)])\s", context) and not context.startswith(("    ", "\t")):
                found.append(n)
        if line.strip():
            context = line if not line.startswith("    ") or not context else context
    return found


CASES = [(p, b) for p in DOCS for b in blocks(p)]


def _id(case):
    path, (line, lang, arg, _) = case
    return f"{path.name}:{line}:{lang or 'untagged'}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_code_block_is_tagged(path):
    bad = [f"{path.name}:{line}" for line, lang, arg, _ in blocks(path) if lang not in LANGS and not arg]
    assert not bad, f"fenced blocks without a known language ({', '.join(sorted(LANGS))}): {bad}"
    assert not indented_code(path), (f"{path.name}: indented code blocks at lines {indented_code(path)}; "
                                     f"write them as fenced blocks with a language")


def _match(expected: str, got: str) -> bool:
    want = "\n".join(x.rstrip() for x in expected.strip("\n").splitlines())
    have = "\n".join(x.rstrip() for x in got.strip("\n").splitlines())
    return doctest.OutputChecker().check_output(want + "\n", have + "\n", doctest.ELLIPSIS)


def _run_python(code: str, where: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, where, "exec"), {"__name__": "__docs__"})
    return buf.getvalue()


PY_CASES = [(p, b, nxt) for p in DOCS for b, nxt in zip(blocks(p), blocks(p)[1:] + [None]) if b[1] == "python"]


@pytest.mark.parametrize("path, block, following", PY_CASES, ids=[_id((p, b)) for p, b, _ in PY_CASES])
def test_python_blocks_run_twice(path, block, following, tmp_path, monkeypatch):
    line, _, _, code = block
    monkeypatch.chdir(tmp_path)
    for run in (1, 2):
        out = _run_python(code, f"{path.name}:{line}")
        printed = out.splitlines()
        for m in re.finditer(r"^\s*print\(.*\)\s+# (.+)$", code, re.M):
            assert m.group(1).strip() in [x.strip() for x in printed], \
                f"run {run}: {path.name}:{line}: expected a line {m.group(1)!r}; printed {printed}"
        if following is not None and following[1] == "output":
            assert _match(following[3], out), f"run {run}: {path.name}:{line} printed:\n{out}"


def _check_setup_command(argv, where):
    """``pip install ...`` and ``python -m pytest ...``: what CI runs; checked, not executed."""
    if argv[:2] == ["pip", "install"]:
        import tomllib
        meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        for target in argv[2:]:
            if target in ("-e", "."):
                continue
            m = re.fullmatch(r"['\"]?(?:\.|lpgdb)\[([a-z0-9_,-]+)\]['\"]?", target)
            assert m, f"{where}: cannot check pip target {target!r}"
            for extra in m.group(1).split(","):
                assert extra in meta["optional-dependencies"], f"{where}: no extra {extra!r} in pyproject.toml"
        return True
    if argv[:3] == ["python", "-m", "pytest"]:
        for arg in argv[3:]:
            if not arg.startswith("-"):
                assert (ROOT / arg.split("::")[0]).exists(), f"{where}: {arg} does not exist"
        return True
    return False


def _run_console(code: str, where: str, capsys) -> None:
    from lpgdb.cli import main
    commands, current = [], None
    for raw in code.splitlines():
        if raw.startswith("$ "):
            current = [raw[2:], []]
            commands.append(current)
        elif current is not None:
            current[1].append(raw)
    assert commands, f"{where}: a console block holds '$ command' lines"
    for text, expected in commands:
        text, _, status_note = text.partition("# exit ")
        want_status = int(status_note) if status_note.strip() else 0
        for part in text.split("&&"):
            argv = shlex.split(part)
            while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
                argv = argv[1:]                     # VAR=value prefixes
            if _check_setup_command(argv, where):
                continue
            assert argv[0] == "lpgdb", f"{where}: only lpgdb, pip install and python -m pytest run here: {text}"
            capsys.readouterr()
            status = main(argv[1:])
            out, err = capsys.readouterr()
            assert status == want_status, f"{where}: `{text}` exited {status}, not {want_status}: {err}"
        if expected and any(x.strip() for x in expected):
            assert _match("\n".join(expected), out + err), f"{where}: `{text}` printed:\n{out}{err}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_console_pgschema_and_cypher_blocks_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for line, lang, arg, code in blocks(path):
        where = f"{path.name}:{line}"
        if arg and lang not in ("python", "output", "console", "text"):
            (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / arg).write_text(code, encoding="utf-8")
        if lang == "console":
            _run_console(code, where, capsys)
        elif lang == "pgschema":
            lpgdb.parse_schema(code)
        elif lang == "cypher":
            with lpgdb.connect(":memory:") as db:
                for stmt in (s.strip() for s in code.split(";")):
                    if stmt and not all(x.strip().startswith("//") for x in stmt.splitlines()):
                        db.execute(stmt)


@pytest.mark.parametrize("module", [lpgdb.database, lpgdb.values, lpgdb.cursor])
def test_doctests(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0

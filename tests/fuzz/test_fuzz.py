"""Fuzzing of both parsers and of the native boundary (issue 9, harness 5).

Allowed outcomes for every input: success or a typed lpgdb error, no hang past the time limit,
no crash. Each run happens in a child process (harness.py), so a segfault fails the test.

CI size by default (a few seconds per target). ``-m soak`` runs the soak: ten minutes of parser
fuzzing (half queries, half schemas; coverage-guided with atheris when it is installed, else the
random generators), plus the native boundary. ``LPGDB_SOAK_SECONDS`` changes the total.
"""
import os

import pytest

from tests.fuzz.harness import fuzz

CI_SECONDS = float(os.environ.get("LPGDB_FUZZ_SECONDS", "3"))


def _check(rep):
    print(rep.summary())
    assert not rep.problems, "\n".join(rep.problems) + "\n--- output ---\n" + rep.output[-4000:]
    assert rep.inputs > 0, rep.output[-4000:]


@pytest.mark.parametrize("target", ["query", "schema", "native", "csv"])
def test_fuzz_ci_size(target, tmp_path):
    _check(fuzz(target, CI_SECONDS, seed=int(os.environ.get("LPGDB_FUZZ_SEED", "0")),
                max_inputs=3000, hang_after=60, workdir=tmp_path))


@pytest.mark.parametrize("target, problem", [("selftest-crash", "CRASH"), ("selftest-hang", "HANG"),
                                             ("selftest-untyped", "UNTYPED")])
def test_the_harness_reports_crashes_hangs_and_untyped_errors(target, problem, tmp_path):
    rep = fuzz(target, 2, max_inputs=1, hang_after=3, workdir=tmp_path)
    assert [p.split()[0].rstrip(":") for p in rep.problems] == [problem], rep.problems


def _engine():
    try:
        import atheris  # noqa: F401
        return "atheris"
    except ImportError:
        return "random"


@pytest.mark.soak
@pytest.mark.parametrize("target, share", [("query", 0.5), ("schema", 0.5)])
def test_soak_parser_fuzzing(target, share, tmp_path):
    total = float(os.environ.get("LPGDB_SOAK_SECONDS", "600"))
    _check(fuzz(target, total * share, engine=_engine(), seed=int.from_bytes(os.urandom(4), "big"),
                hang_after=30, workdir=tmp_path))


@pytest.mark.soak
def test_soak_csv_parser(tmp_path):
    seconds = float(os.environ.get("LPGDB_SOAK_SECONDS", "600")) / 5
    _check(fuzz("csv", seconds, seed=int.from_bytes(os.urandom(4), "big"), hang_after=30, workdir=tmp_path))


@pytest.mark.soak
def test_soak_native_boundary(tmp_path):
    seconds = float(os.environ.get("LPGDB_SOAK_SECONDS", "600")) / 5
    _check(fuzz("native", seconds, seed=int.from_bytes(os.urandom(4), "big"), hang_after=30,
                workdir=tmp_path))

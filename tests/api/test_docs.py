"""The README example and the public modules' doctests run as written."""
import doctest
import os
import re
from pathlib import Path

import pytest

import lpgdb.cursor
import lpgdb.database
import lpgdb.values

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs(tmp_path, capsys, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["[('Bob',)]", "['missing_property']"]
    assert os.path.isdir(tmp_path / "data" / "social")


@pytest.mark.parametrize("module", [lpgdb.database, lpgdb.values, lpgdb.cursor])
def test_doctests(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0

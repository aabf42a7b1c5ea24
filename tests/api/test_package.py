"""Package metadata users and tools rely on: version, typing marker, classifiers, licence."""
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

import lpgdb

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_written_once_and_reported_by_the_command(capsys):
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", lpgdb.__version__)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lpgdb.__version__"}
    from lpgdb.cli import main
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"lpgdb {lpgdb.__version__}"
    try:
        installed = importlib.metadata.version("lpgdb")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("lpgdb is not installed (pip install -e .), so there is no metadata to compare")
    assert installed == lpgdb.__version__


def test_typed_package_licence_and_classifiers():
    assert (ROOT / "lpgdb" / "py.typed").is_file() and (ROOT / "LICENSE").is_file()
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    setup = (ROOT / "setup.py").read_text()
    assert '"lpgdb": ["py.typed"]' in setup and '"lpgdb.cli"' in setup
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for c in ("Typing :: Typed", "Operating System :: POSIX", "License :: OSI Approved :: Apache Software License"):
        assert c in meta["classifiers"]
    assert meta["scripts"]["lpgdb"] == "lpgdb.cli:main"
    heavy = {"pandas", "pyarrow", "polars", "networkx"}
    assert not any(d.split(">")[0].split("=")[0].strip().lower() in heavy for d in meta["dependencies"])


def test_every_public_name_has_a_docstring_and_type_hints():
    import inspect
    missing = []
    for name in lpgdb.__all__:
        obj = getattr(lpgdb, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if not inspect.isclass(obj):
            funcs = [(name, obj)]
        elif issubclass(obj, BaseException):
            continue
        else:
            funcs = []
            for mname, raw in vars(obj).items():
                if mname.startswith("_") and mname != "__init__":
                    continue
                f = raw.fget if isinstance(raw, property) else raw
                if inspect.isfunction(f):
                    funcs.append((f"{name}.{mname}", f))
                    if mname != "__init__" and not (inspect.getdoc(f) or "").strip():
                        missing.append(f"{name}.{mname} (docstring)")
        for qual, f in funcs:
            sig = inspect.signature(f)
            for p in sig.parameters.values():
                if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty:
                    missing.append(f"{qual}({p.name}: ?)")
            if sig.return_annotation is inspect.Signature.empty and not qual.endswith("__init__"):
                missing.append(f"{qual} -> ?")
    assert not missing, missing


def test_the_heavy_optional_libraries_are_not_imported_by_lpgdb():
    import subprocess
    import sys
    code = ("import sys, lpgdb, lpgdb.cli; db = lpgdb.connect(':memory:'); db.execute('RETURN 1').data(); "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'polars', 'networkx') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr

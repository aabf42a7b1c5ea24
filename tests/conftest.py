"""Shared fixtures: a fresh on-disk database per test, closed afterwards."""
import pytest

import lpgdb


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "graph.lpg")


@pytest.fixture
def db(db_path):
    d = lpgdb.connect(db_path)
    yield d
    d.close()

"""Locate ../shared (TCK, PG-Schema cases, peer workloads): it exists beside the project in
development and CI, never on a user's machine.  Override with LPGDB_SHARED=/path/to/shared.
Tests that need it call ``shared_path(...)``, which skips with a clear message when it is absent."""
import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("LPGDB_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not found: these tests need the project's shared/ folder "
                    f"(set LPGDB_SHARED to its path)", allow_module_level=True)
    return p

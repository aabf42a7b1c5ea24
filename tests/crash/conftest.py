"""Fixtures of the crash harnesses."""
import os
import shutil
import tempfile
import uuid

import pytest


@pytest.fixture
def fast_tmp(tmp_path):
    """A scratch directory on tmpfs (/dev/shm) when there is one, else ``tmp_path``.

    The harnesses simulate durability in storage/io.py and make thousands of small databases:
    on a disk file system the journal work of creating and removing them costs more than the
    checks themselves.  Nothing here relies on the disk's own behaviour."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        d = tempfile.mkdtemp(prefix=f"lpgdb-crash-{uuid.uuid4().hex[:6]}-", dir=shm)
        from pathlib import Path
        try:
            yield Path(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path

"""Object stores that hold archives: the ``Store`` protocol, a local directory, and S3.

An archive only ever creates immutable objects (``put_if_absent``), reads them, lists them and
deletes them; nothing is overwritten. Put-if-absent is what fences a second writer: two
writers shipping the same log position race for one object name and exactly one wins
(S3 conditional writes, ``If-None-Match: *``; ``link(2)`` for a directory).

Names are relative, ``/``-separated, made only of ``[A-Za-z0-9._-]`` parts (never ``..``):
``open_store`` validates every name it is handed or lists, so a crafted archive cannot make
a restore touch files outside its destination.

Errors: a missing object is ``NotFoundError``; anything else that goes wrong talking to the
store (network, permissions, a full disk) is ``OperationalError`` naming the store, which
the archiver retries with backoff.
"""
from __future__ import annotations

import errno
import os
import re
import threading
import uuid as _uuid
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from ..errors import InterfaceError, NotFoundError, OperationalError
from . import io

_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name.split("/"):
        raise OperationalError(f"invalid archive object name {name!r}")
    return name


class Store(Protocol):
    """What an archive needs from a place to keep objects."""

    url: str

    def put_if_absent(self, name: str, data: bytes) -> bool:
        """Create object ``name``; False (and nothing written) if it already exists."""

    def get(self, name: str) -> bytes:
        """The object's bytes; NotFoundError if there is none."""

    def list(self, prefix: str = "") -> list:
        """Names of the objects whose name starts with ``prefix``, sorted."""

    def delete(self, name: str) -> None:
        """Remove the object (no error if it is already gone)."""


class DirStore:
    """A local (or network-mounted) directory; one file per object, created atomically."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.url = self.path
        self._durable_dirs: set = set()     # directories whose entry this process made durable

    def _p(self, name: str) -> str:
        return os.path.join(self.path, *check_name(name).split("/"))

    def _dir(self, d: str) -> None:
        """Create ``d`` (and missing parents up to the store's directory); the first time in
        this process, fsync the parent of each so their entries are durable (an earlier
        attempt may have created one and failed before its fsync)."""
        if d in self._durable_dirs:
            return
        io.makedirs(d)
        p = d
        while p != self.path and len(p) > len(self.path):
            io.fsync_dir(os.path.dirname(p))
            p = os.path.dirname(p)
        self._durable_dirs.add(d)

    def put_if_absent(self, name: str, data: bytes) -> bool:
        dest = self._p(name)
        d = os.path.dirname(dest)
        tmp = os.path.join(d, f".tmp-{_uuid.uuid4().hex}")
        self._dir(d)
        fd = io.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            try:
                io.write(fd, data)
                io.fsync(fd)
            finally:
                io.close(fd)
            try:
                io.link(tmp, dest)          # atomic create-if-absent, whole file or nothing
                created = True
            except OperationalError as e:
                if e.errno != errno.EEXIST:
                    raise
                created = False
        finally:
            io.unlink(tmp, missing_ok=True)
        # also when it existed: it may be ours, linked by an attempt whose fsync failed, and
        # whoever counts it as stored (the archiver's retry) relies on it surviving a power cut
        io.fsync_dir(d)
        return created

    def get(self, name: str) -> bytes:
        data = io.read_file(self._p(name), missing_ok=True)
        if data is None:
            raise NotFoundError(f"no object {name!r} in the archive {self.url!r}")
        return data

    def list(self, prefix: str = "") -> list:
        out = []
        try:
            for d, dirs, files in os.walk(self.path, onerror=_raise):
                rel = os.path.relpath(d, self.path)
                base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
                if not (base.startswith(prefix) or prefix.startswith(base)):
                    dirs[:] = []
                    continue
                out += [base + f for f in files
                        if (base + f).startswith(prefix) and not f.startswith(".tmp-")
                        and _NAME.fullmatch(base + f)]
        except OSError as e:
            raise OperationalError(f"cannot list the archive {self.url!r}: {e}") from e
        return sorted(out)

    def delete(self, name: str) -> None:
        io.unlink(self._p(name), missing_ok=True)


class S3Store:
    """An S3-compatible bucket (AWS S3, MinIO, R2, moto...) through boto3 (``lpgdb[s3]``).

    ``s3://bucket/prefix``; the endpoint comes from ``?endpoint=URL`` or boto3's own
    configuration (``AWS_ENDPOINT_URL``, profiles, instance roles), as do credentials and the
    region (``?region=NAME``). Requests time out after ``timeout`` seconds and are not
    retried here: the archiver retries with its own backoff.
    """

    def __init__(self, url: str, *, timeout: float = 10.0):
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError:
            raise InterfaceError("s3:// archives need boto3: pip install 'lpgdb[s3]'") from None
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InterfaceError(f"an S3 archive is s3://bucket/prefix, not {url!r}")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_name(self.prefix)
            self.prefix += "/"
        self.url = f"s3://{self.bucket}/{self.prefix}"
        self._errors = botocore.exceptions
        cfg = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                     retries={"max_attempts": 1, "mode": "standard"})
        self._s3 = _session(boto3).client(
            "s3", endpoint_url=q.get("endpoint"), region_name=q.get("region"), config=cfg)

    def _fail(self, what: str, name: str, e: Exception):
        return OperationalError(f"cannot {what} {name!r} in the archive {self.url!r}: {e}")

    def _code(self, e) -> str:
        return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))

    def put_if_absent(self, name: str, data: bytes) -> bool:
        key = self.prefix + check_name(name)
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
            return True
        except self._errors.ClientError as e:
            if self._code(e) == "PreconditionFailed":
                return False
            raise self._fail("write", name, e) from e
        except (self._errors.BotoCoreError, OSError) as e:
            raise self._fail("write", name, e) from e

    def get(self, name: str) -> bytes:
        key = self.prefix + check_name(name)
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._errors.ClientError as e:
            if self._code(e) in ("NoSuchKey", "404"):
                raise NotFoundError(f"no object {name!r} in the archive {self.url!r}") from None
            raise self._fail("read", name, e) from e
        except (self._errors.BotoCoreError, OSError) as e:
            raise self._fail("read", name, e) from e

    def list(self, prefix: str = "") -> list:
        out = []
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix)
            for page in pages:
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(self.prefix):]
                    if _NAME.fullmatch(name):
                        out.append(name)
        except (self._errors.ClientError, self._errors.BotoCoreError, OSError) as e:
            raise self._fail("list", prefix or "objects", e) from e
        return sorted(out)

    def delete(self, name: str) -> None:
        key = self.prefix + check_name(name)
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except (self._errors.ClientError, self._errors.BotoCoreError, OSError) as e:
            raise self._fail("delete", name, e) from e


_SESSION = None
_SESSION_LOCK = threading.Lock()


def _session(boto3):
    """One boto3 session per process: its loader parses the S3 service model (about 1 s) once,
    and clients made from it are thread-safe."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION


def open_store(spec) -> Store:
    """A Store from ``s3://bucket/prefix``, a directory path, or a Store object."""
    if isinstance(spec, (str, os.PathLike)):
        spec = os.fspath(spec)
        if spec.startswith("s3://"):
            return S3Store(spec)
        if "://" in spec and not spec.startswith("file://"):
            raise InterfaceError(f"unsupported archive location {spec!r} (use s3://bucket/prefix or a directory)")
        return DirStore(spec[len("file://"):] if spec.startswith("file://") else spec)
    if all(callable(getattr(spec, m, None)) for m in ("put_if_absent", "get", "list", "delete")):
        return spec
    raise InterfaceError(f"an archive is s3://bucket/prefix, a directory or a Store object, not {spec!r}")


def _raise(e: OSError):
    if not isinstance(e, FileNotFoundError):   # a missing archive directory lists as empty
        raise e

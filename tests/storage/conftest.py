"""Fixtures for archive tests: a real S3 API (moto's server on loopback, started once per
session), a TCP proxy in front of it whose "network" a test can cut, and a directory store."""
import os
import socket
import threading
import uuid

import pytest


@pytest.fixture(scope="session")
def s3_endpoint():
    server_mod = pytest.importorskip(
        "moto.server", reason="moto[server] is not installed: pip install 'lpgdb[test]' to run the S3 tests")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed: pip install 'lpgdb[s3]'")
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    yield endpoint, client
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def new_bucket(s3_endpoint, endpoint=None) -> str:
    """A fresh bucket; the archive URL of a prefix in it (through ``endpoint`` if given)."""
    ep, client = s3_endpoint
    bucket = f"lpgdb-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/graphs/main?endpoint={endpoint or ep}&region=us-east-1"


@pytest.fixture
def s3_url(s3_endpoint):
    return new_bucket(s3_endpoint)


class CuttableProxy:
    """Forwards loopback TCP connections to ``target``; ``down()`` cuts every connection and
    refuses new ones (the network fails) until ``up()``."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.is_up = True
        self._conns = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if not self.is_up:
                c.close()
                continue
            try:
                s = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            self._conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.close()
                except OSError:
                    pass

    def down(self):
        self.is_up = False
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self._conns = []

    def up(self):
        self.is_up = True

    def close(self):
        self._closed = True
        self.down()
        self.sock.close()


@pytest.fixture
def cuttable_s3(s3_endpoint):
    """``(url, proxy)``: an archive URL whose traffic goes through a proxy the test can cut."""
    port = int(s3_endpoint[0].rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    yield new_bucket(s3_endpoint, f"http://127.0.0.1:{proxy.port}"), proxy
    proxy.close()

"""Real servers for the store tests: redis-server processes and the push API under uvicorn.

Fixtures (registered for the whole suite by `from servers import *` in conftest.py):

- `redis_server` (session): a redis-server on a free loopback port in a temp dir, no
  persistence; yields its url. Skipped only when no redis-server binary can be found.
- `redis_url` (function): the same server, emptied (FLUSHALL) for the test.
- `private_redis_server` (function): a RedisServer of the test's own, with a password
  (`.url` has it, `.public_url` does not), which the test may stop.
- `push_server` (function): the push API over a LocalStore in the test's tmp dir, served by
  uvicorn in a thread; yields its url.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["RedisServer", "find_redis_server", "free_port", "private_redis_server", "push_app",
           "push_server", "redis_server", "redis_url", "running_app"]

REDIS_PASSWORD = "s3cret-Pa55word"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server",
                      "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"):
        if Path(candidate).is_file():
            return candidate
    return None


def _require_redis_server() -> str:
    binary = find_redis_server()
    if binary is None:
        pytest.skip("no redis-server binary on PATH (install it: apt-get install redis-server)")
    return binary


class RedisServer:
    """A redis-server process on a free 127.0.0.1 port, data dir `directory`, no persistence."""

    def __init__(self, binary: str, directory: Path, password: str | None = None):
        self.binary = binary
        self.directory = directory
        self.password = password
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def public_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        for _attempt in range(5):  # another process may take the free port first
            self.port = free_port()
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", str(self.directory), "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--logfile", ""]
            if self.password:
                args += ["--requirepass", self.password]
            with log.open("ab") as out:
                self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)
            if self._wait_ready(10.0):
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {log}:\n{log.read_text()[-2000:]}")

    def _wait_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    answer = sock.recv(64)
                if answer.startswith((b"+PONG", b"-NOAUTH")):
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The url of a redis-server shared by the session."""
    binary = _require_redis_server()
    server = RedisServer(binary, tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's redis-server, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server


@pytest.fixture
def private_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, with a password; the test may stop it."""
    binary = _require_redis_server()
    server = RedisServer(binary, tmp_path / "private-redis", password=REDIS_PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------- push API


def push_app(store_factory: Callable, token: str | None = None):
    """A FastAPI app with the push router over `store_factory`; bearer `token` if given."""
    from fastapi import Depends, FastAPI, Header, HTTPException

    from signals_batch.api.push import push_router

    def bearer(authorization: str | None = Header(None)) -> None:
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "missing or wrong bearer token")

    app = FastAPI()
    dependencies = [Depends(bearer)] if token else []
    app.include_router(push_router(store_factory), dependencies=dependencies)
    return app


@contextmanager
def running_app(app) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields its url."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def push_server(tmp_path: Path) -> Iterator[str]:
    """The url of the push API over a LocalStore in this test's tmp dir."""
    from signals_batch.stores.local import LocalStore

    path = tmp_path / "pushed" / "profiles.sqlite"
    with running_app(push_app(lambda: LocalStore(path))) as url:
        yield url

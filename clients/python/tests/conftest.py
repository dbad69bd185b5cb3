"""Starts the real ova-server for the end-to-end tests.

OVA_SERVER_BIN names the binary (default `.build/debug/ova-server` under the repository root).
Each server gets a free 127.0.0.1 port and a temporary OVA_DATA_DIR; the client trusts that
directory's dev-cert.pem, like `ova --ca data/dev-cert.pem`.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from ova_client import Channel, OvaError

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "Python-conformance-42"


def server_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("OVA_SERVER_BIN", ".build/debug/ova-server"))
    if not path.is_absolute():
        path = ROOT / path
    if not path.exists():
        pytest.skip(f"no ova-server at {path} (build it, or set OVA_SERVER_BIN)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    host: str
    port: int
    data_dir: pathlib.Path
    log_path: pathlib.Path

    @property
    def ca(self) -> str:
        return str(self.data_dir / "dev-cert.pem")

    def channel(self, **kw) -> Channel:
        return Channel(self.host, self.port, ca=self.ca, **kw)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(with_admin: bool = False, certificate_from: "Server | None" = None, **env_overrides: str) -> Server:
    """``certificate_from``: a server whose development certificate and key this one serves too
    (instances of one service behind one trusted certificate)."""
    binary = server_binary()
    data = pathlib.Path(tempfile.mkdtemp(prefix="ova-pytest-"))
    if certificate_from is not None:
        for name in ("dev-cert.pem", "dev-key.pem"):
            shutil.copy2(certificate_from.data_dir / name, data / name)
    port = free_port()
    log = data / "server.log"
    env = dict(os.environ, OVA_DATA_DIR=str(data), **env_overrides)
    with open(log, "wb") as out:
        process = subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, "127.0.0.1", port, data, log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ova-server exited {process.returncode}:\n{server.log()}")
        if (data / "dev-cert.pem").exists():
            try:
                with server.channel(connect_timeout=2) as ch:
                    ch.ping()
                break
            except (OvaError, OSError):
                pass
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"ova-server did not start:\n{server.log()}")
        time.sleep(0.05)
    if with_admin:
        subprocess.run([str(binary), "admin", "create", "--data-dir", str(data), "--email", ADMIN_EMAIL,
                        "--name", "Root", "--password-stdin"], input=ADMIN_PASSWORD + "\n", text=True,
                       env=env, check=True, capture_output=True)
    return server


def cleanup(server: Server) -> None:
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = start_server(with_admin=True)
    yield s
    cleanup(s)


@pytest.fixture
def own_server():
    """A server of the test's own, e.g. to shut it down."""
    s = start_server()
    yield s
    cleanup(s)


@pytest.fixture
def idle_server():
    """A server that closes idle connections after 1 s (GOAWAY OK "idle timeout")."""
    s = start_server(OVA_IDLE_TIMEOUT_SECONDS="1")
    yield s
    cleanup(s)


@pytest.fixture
def channel(server):
    with server.channel() as ch:
        yield ch

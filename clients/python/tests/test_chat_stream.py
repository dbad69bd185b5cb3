"""The chat example streams tokens from a (fake) OpenAI-compatible model through ova-server."""
from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading

import pytest

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, EXAMPLES, cleanup, start_server

TOKENS = ["Hel", "lo", ", ", "wor", "ld"]


class FakeLLM(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        assert body.get("stream") is True
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for t in TOKENS:
            chunk = {"model": body.get("model"), "choices": [{"index": 0, "delta": {"content": t}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        final = {"model": body.get("model"), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FakeLLM)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    s = start_server(with_admin=True, OVA_LLM_BASE_URL=f"http://127.0.0.1:{httpd.server_address[1]}/v1",
                     HF_MODELO_LLM="fake-model", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    yield s
    cleanup(s)
    httpd.shutdown()


def test_chat_example_streams_tokens(chat_server):
    env = dict(os.environ, OVA_PASSWORD=ADMIN_PASSWORD)
    out = subprocess.run([sys.executable, str(EXAMPLES / "chat_stream.py"), "hello", "--port", str(chat_server.port),
                          "--ca", chat_server.ca, "--email", ADMIN_EMAIL], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr + chat_server.log()[-2000:]
    assert out.stdout.startswith("Hello, world"), out.stdout
    assert "FINISH_REASON_STOP" in out.stdout

"""Fixtures for SDK tests: a real HTTP ingest server on 127.0.0.1 that records what it receives and
can misbehave on demand (hang, answer 5xx with Retry-After, reject keys), plus a closed port."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from contrail.sdk import guard
from contrail.sdk import tracer as _tracer


class Recorder:
    """State shared with the handler threads: what arrived and how to answer next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.received = threading.Condition(self.lock)
        self.status = 207
        self.retry_after: str | None = None
        self.fail_next = 0
        self.hang = threading.Event()  # set => handlers block until released
        self.release = threading.Event()
        self.hanging = threading.Event()  # set by a handler once it blocks

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for request in self.requests for event in request["body"]["batch"]]

    def observations(self) -> list[dict[str, Any]]:
        return [e["body"] for e in self.events if e["type"] == "observation"]

    def scores(self) -> list[dict[str, Any]]:
        return [e["body"] for e in self.events if e["type"] == "score"]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``count`` events arrived (or fail the test after ``timeout`` seconds)."""
        with self.received:
            ok = self.received.wait_for(
                lambda: sum(len(r["body"]["batch"]) for r in self.requests) >= count, timeout
            )
        assert ok, f"expected {count} events, got {len(self.events)}"
        return self.events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body are separate writes: avoid 40 ms delayed ACKs
    recorder: Recorder

    def do_POST(self) -> None:
        rec = self.recorder
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if rec.hang.is_set():
            rec.hanging.set()
            rec.release.wait(30)
        with rec.lock:
            failing = rec.fail_next > 0
            rec.fail_next -= 1 if failing else 0
            status = rec.status
        if failing:
            self._reply(status, {"error": {"code": "unavailable", "message": "try later"}})
            return
        data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        body = json.loads(data)
        with rec.received:
            rec.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
            rec.received.notify_all()
        ids = [{"id": e["id"], "status": 201} for e in body["batch"]]
        self._reply(207, {"successes": ids, "errors": []})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        if status in (429, 503) and self.recorder.retry_after is not None:
            self.send_header("Retry-After", self.recorder.retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class IngestServer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        handler = type("Handler", (_Handler,), {"recorder": self.recorder})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> IngestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recorder.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _strict_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Our own tests see SDK bugs (CONTRAIL_STRICT=1) and never inherit a tracer from another test."""
    monkeypatch.setenv("CONTRAIL_STRICT", "1")
    for name in ("CONTRAIL_HOST", "CONTRAIL_ENABLED", "CONTRAIL_SAMPLE_RATE", "CONTRAIL_CAPTURE"):
        monkeypatch.delenv(name, raising=False)
    guard.reset()
    yield
    tracer = _tracer.STATE
    _tracer.STATE = None
    if tracer is not None and tracer.exporter is not None:
        tracer.exporter.shutdown(timeout=0.2)


@pytest.fixture
def ingest_server() -> Iterator[IngestServer]:
    with IngestServer() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port

"""A live fake provider: uvicorn serving :class:`FakeLLMApp` on 127.0.0.1 in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from contrail.local.fake.app import FakeLLMApp
from contrail.local.fake.exchange import quiet_deliberate_drops
from contrail.local.fake.script import FakeScript

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0


class FakeLLMServer:
    """Runs the fake provider on a real socket; use as a context manager or call start()/stop().

    ``port=0`` picks a free port. ``url`` is the root (what the Anthropic SDK wants as ``base_url``),
    ``openai_base_url`` adds ``/v1``. Assign ``server.script`` to change the behaviour between tests.
    """

    def __init__(self, script: FakeScript | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = FakeLLMApp(script)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def script(self) -> FakeScript:
        """The script answering requests."""
        return self.app.script

    @script.setter
    def script(self, script: FakeScript) -> None:
        self.app.script = script

    @property
    def port(self) -> int:
        """The bound port (only meaningful once started)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (the Anthropic SDK's ``base_url``)."""
        return f"http://{self._host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """``http://HOST:PORT/v1`` (the OpenAI SDK's ``base_url``)."""
        return f"{self.url}/v1"

    def start(self) -> None:
        """Bind the socket, start serving, and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("this FakeLLMServer is already running; call stop() first")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        quiet_deliberate_drops()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="contrail-fake-llm", daemon=True
        )
        self._thread.start()
        self._wait_started()

    def _wait_started(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self._server is not None and not self._server.started:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError(
                    f"the fake LLM server on {self.url} exited during start-up (see the log above)"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the fake LLM server on {self.url} did not start within {_START_TIMEOUT_S} s"
                )
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread (open streams are cut after one second)."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)
        if self._thread.is_alive():
            logger.warning("the fake LLM server on %s did not stop within %s s", self.url, _START_TIMEOUT_S)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    models: tuple[str, ...] | None = None,
    ttft_ms: float = 0.0,
    tokens_per_s: float | None = None,
) -> None:
    """Serve a fake provider in the foreground until interrupted (``contrail fake-llm serve``).

    ``models`` restricts the accepted names (default: any); ``ttft_ms``/``tokens_per_s`` slow every answer.
    """
    script = FakeScript(models=models)
    if ttft_ms or tokens_per_s:
        script.default.latency(ttft_ms=ttft_ms, tokens_per_s=tokens_per_s)
    quiet_deliberate_drops()
    uvicorn.run(FakeLLMApp(script), host=host, port=port, access_log=False, log_level="info")

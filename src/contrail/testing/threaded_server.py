"""Serve any ASGI app with uvicorn on 127.0.0.1 in a background thread (for tests and demos)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal, TypeVar

import uvicorn

logger = logging.getLogger(__name__)

_Self = TypeVar("_Self", bound="ThreadedServer")

_START_TIMEOUT_S = 10.0


class ThreadedServer:
    """A real HTTP server for ``app``; ``port=0`` picks a free port. Use as a context manager."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "on",
    ) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self._host}:{self._port}"

    def start(self) -> None:
        """Bind, start serving, and return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("this server is already running; call stop() first")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan=self._lifespan,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} exited during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start within {_START_TIMEOUT_S} s")
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask uvicorn to exit (running its lifespan shutdown) and wait for the thread."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)
        if self._thread.is_alive():
            logger.warning("the server on %s did not stop within %s s", self.url, _START_TIMEOUT_S)
        self._server = None
        self._thread = None

    def __enter__(self: _Self) -> _Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""A live fake provider: uvicorn serving :class:`FakeLLMApp` on 127.0.0.1 in a background thread."""

from __future__ import annotations

from contrail.local.fake.app import FakeLLMApp
from contrail.local.fake.exchange import quiet_deliberate_drops
from contrail.local.fake.script import FakeScript
from contrail.testing.threaded_server import ThreadedServer


class FakeLLMServer(ThreadedServer):
    """Runs the fake provider on a real socket; use as a context manager or call start()/stop().

    ``port=0`` picks a free port. ``url`` is the root (what the Anthropic SDK wants as ``base_url``),
    ``openai_base_url`` adds ``/v1``. Assign ``server.script`` to change the behaviour between tests.
    """

    app: FakeLLMApp

    def __init__(self, script: FakeScript | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(FakeLLMApp(script), host=host, port=port, lifespan="off")

    @property
    def script(self) -> FakeScript:
        """The script answering requests."""
        return self.app.script

    @script.setter
    def script(self, script: FakeScript) -> None:
        self.app.script = script

    @property
    def openai_base_url(self) -> str:
        """``http://HOST:PORT/v1`` (the OpenAI SDK's ``base_url``)."""
        return f"{self.url}/v1"

    def start(self) -> None:
        quiet_deliberate_drops()
        super().start()


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
    import uvicorn

    script = FakeScript(models=models)
    if ttft_ms or tokens_per_s:
        script.default.latency(ttft_ms=ttft_ms, tokens_per_s=tokens_per_s)
    quiet_deliberate_drops()
    uvicorn.run(FakeLLMApp(script), host=host, port=port, access_log=False, log_level="info")

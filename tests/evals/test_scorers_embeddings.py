"""Embedding similarity with WordLlama: offline, lazy, and a sane similarity ordering."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from contrail.evals.base import EvalCase
from contrail.evals.embeddings import cosine_similarities
from contrail.evals.scorers import build_scorer

OFFLINE_PROBE = textwrap.dedent(
    """
    import asyncio, logging, socket, sys

    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from contrail.evals.base import EvalCase
    from contrail.evals.scorers import build_scorer
    assert "numpy" not in sys.modules and "wordllama" not in sys.modules

    scorer = build_scorer({"type": "embedding_similarity", "threshold": 0.7})
    case = EvalCase(
        input="q", output="Paris is the capital of France", expected="The capital of France is Paris"
    )
    result = asyncio.run(scorer.score(case))
    assert result.error is None and result.passed is True, result
    assert attempts == [], attempts
    assert logging.getLogger().handlers == [], logging.getLogger().handlers
    print("ok", round(result.value, 3))
    """
)


def test_loads_and_scores_with_the_network_blocked() -> None:
    done = subprocess.run([sys.executable, "-c", OFFLINE_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok 0.9")


def test_similar_texts_score_higher_than_unrelated_ones() -> None:
    related, unrelated, same, empty = cosine_similarities(
        ["The cat sat on the mat", "The cat sat on the mat", "x", ""],
        ["A cat was sitting on a mat", "Quarterly revenue rose sharply", "x", "something"],
    )
    assert related > unrelated
    assert -1.0 <= unrelated <= 1.0
    assert same == 1.0 and empty == 0.0


async def test_scorer_threshold_and_missing_expected() -> None:
    scorer = build_scorer({"type": "embedding_similarity", "threshold": 0.9, "name": "semantic"})
    far = await scorer.score(
        EvalCase(input="q", output="bananas are yellow", expected="the stock market fell")
    )
    assert far.name == "semantic" and far.passed is False and far.value is not None and far.value < 0.9
    missing = await scorer.score(EvalCase(input="q", output="x"))
    assert missing.error == "no expected output to compare with"

"""OpenAI ``POST /v1/embeddings``: deterministic unit vectors, as float lists or base64 float32.

A vector is the normalised sum of one pseudo-random vector per (lower-cased) token, seeded by the token's
SHAKE-128 digest, so equal texts embed equally and texts sharing words have a positive cosine similarity.
"""

from __future__ import annotations

import array
import base64
import hashlib
import math
import operator
import sys
from functools import lru_cache

from contrail.local.fake.call import Call
from contrail.local.fake.errors import invalid_field
from contrail.local.fake.tokens import count_tokens
from contrail.local.fake.tokens import tokens as split_tokens

_MAX_DIMENSIONS = 8192


async def handle(call: Call) -> None:
    """Answer an embeddings request as OpenAI would."""
    model = call.require("model", str)
    inputs = _inputs(call)
    dimensions = call.optional_int("dimensions") or call.script.embedding_dimensions
    if dimensions > _MAX_DIMENSIONS:
        raise invalid_field("openai", "dimensions", f"must be at most {_MAX_DIMENSIONS}.")
    as_base64 = call.body.get("encoding_format") == "base64"
    prompt_tokens = sum(map(count_tokens, inputs))
    request = call.record("openai.embeddings", model, "\n".join(inputs), inputs[-1], prompt_tokens)
    behaviour = await call.decide(request)
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(embed(text, dimensions), as_base64)}
        for i, text in enumerate(inputs)
    ]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    await call.send_body({"object": "list", "data": data, "model": model, "usage": usage}, behaviour, 0)


def _inputs(call: Call) -> list[str]:
    raw = call.require("input", (str, list))
    items = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
    texts: list[str] = []
    for item in items:
        if isinstance(item, str) and item:
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            texts.append(" ".join(f"t{t}" for t in item))
        else:
            raise invalid_field(
                "openai", "input", "expected a non-empty string, array of strings or token arrays."
            )
    if not texts:
        raise invalid_field("openai", "input", "expected a non-empty array.")
    return texts


def embed(text: str, dimensions: int) -> list[float]:
    """The deterministic unit vector of ``text`` (see the module docstring)."""
    total = [0] * dimensions
    for token in split_tokens(text.lower()) or [""]:
        total = list(map(operator.add, total, _token_vector(token, dimensions)))
    norm = math.sqrt(sum(x * x for x in total)) or 1.0
    return [x / norm for x in total]


@lru_cache(maxsize=4096)
def _token_vector(token: str, dimensions: int) -> array.array[int]:
    vector = array.array("h", hashlib.shake_128(token.encode()).digest(2 * dimensions))
    if sys.byteorder == "big":
        vector.byteswap()
    return vector


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()

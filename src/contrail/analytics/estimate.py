"""Token estimates for calls whose usage was not reported: tiktoken when installed, else a heuristic.

Heuristic (documented in docs/pricing.md): ``ceil(utf8_bytes / 4)`` per text, plus 4 tokens per chat
message for the role and separators. UTF-8 bytes rather than characters so that scripts with more bytes
per character (Cyrillic ~2, CJK 3) count more tokens per character, as real tokenizers do. With tiktoken
installed the ``o200k_base`` encoding is used (OpenAI's current one; an approximation for other vendors).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2_000_000
MAX_DEPTH = 12
MESSAGE_OVERHEAD_TOKENS = 4
HEURISTIC = "heuristic:utf8_bytes/4"
# Keys whose string values are not text the model reads as prose (ids, roles, base64 payloads).
_SKIP_KEYS = frozenset(
    {"role", "type", "id", "tool_call_id", "model", "finish_reason", "image_url", "url", "data", "b64_json"}
)


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class TokenEstimate:
    tokens: int
    method: str


def estimate_tokens(value: Any) -> TokenEstimate | None:
    """Estimated tokens of a prompt or completion (a string, chat messages, or any JSON value).

    Returns None when ``value`` holds no text. Never raises for any content.
    """
    texts: list[str] = []
    messages = _collect(value, texts, 0, [0])
    if not texts and not messages:
        return None
    text = "\n".join(texts)
    encoding = _encoding()
    if encoding is not None:
        try:
            tokens = len(encoding.encode(text, disallowed_special=()))
            return TokenEstimate(tokens + messages * MESSAGE_OVERHEAD_TOKENS, "tiktoken:o200k_base")
        except Exception:  # a tokenizer failure must not stop ingest; the heuristic still answers
            logger.warning("tiktoken failed on a text; using the heuristic", exc_info=True)
    tokens = -(-len(text.encode("utf-8", "replace")) // 4)
    return TokenEstimate(tokens + messages * MESSAGE_OVERHEAD_TOKENS, HEURISTIC)


def _collect(value: Any, texts: list[str], depth: int, size: list[int]) -> int:
    """Append the strings in ``value`` to ``texts`` (bounded); returns how many chat messages it saw."""
    if depth > MAX_DEPTH or size[0] >= MAX_TEXT_CHARS:
        return 0
    if isinstance(value, str):
        text = value[: MAX_TEXT_CHARS - size[0]]
        size[0] += len(text)
        texts.append(text)
        return 0
    messages = 0
    if isinstance(value, dict):
        if "role" in value:
            messages += 1
        for key, item in value.items():
            if key not in _SKIP_KEYS:
                messages += _collect(item, texts, depth + 1, size)
    elif isinstance(value, (list, tuple)):
        for item in value:
            messages += _collect(item, texts, depth + 1, size)
    return messages


_ENCODING: list[_Encoding | None] = []


def _encoding() -> _Encoding | None:
    """tiktoken's o200k_base if tiktoken is importable and its data loads, else None (checked once)."""
    if not _ENCODING:
        _ENCODING.append(_load_tiktoken())
    return _ENCODING[0]


def _load_tiktoken() -> _Encoding | None:
    try:
        import tiktoken  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        encoding: _Encoding = tiktoken.get_encoding("o200k_base")
    except Exception:  # data files missing and no network: fall back, say so once
        logger.warning(
            "tiktoken is installed but o200k_base could not be loaded; estimating tokens heuristically"
        )
        return None
    return encoding

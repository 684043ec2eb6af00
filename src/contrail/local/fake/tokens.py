"""The fake provider's tokenizer: deterministic, dependency-free and documented.

A token is a run of word characters (``\\w+``) or one other non-space character. ``"Hello, world!"``
is four tokens: ``Hello`` ``,`` ``world`` ``!``. Every count the fake reports (prompt, completion,
embedding input, streaming chunks) uses this one rule, so usage figures add up across endpoints.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
# A streamed piece is one token with the whitespace that precedes it, so joining pieces gives the text back.
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")


def count_tokens(text: str) -> int:
    """Return the number of tokens in ``text``."""
    return len(_TOKEN.findall(text))


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` (whitespace dropped)."""
    return _TOKEN.findall(text)


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into one piece per token; ``"".join(split_pieces(t)) == t`` always holds."""
    pieces = _PIECE.findall(text)
    consumed = sum(map(len, pieces))
    if consumed < len(text):
        tail = text[consumed:]
        if pieces:
            pieces[-1] += tail
        else:
            pieces.append(tail)
    return pieces


def truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    """Return the first ``max_tokens`` tokens of ``text`` and whether anything was cut."""
    pieces = split_pieces(text)
    if count_tokens(text) <= max_tokens:
        return text, False
    return "".join(pieces[:max_tokens]), True

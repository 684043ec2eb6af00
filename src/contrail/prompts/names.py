"""Which prompt names and label names are valid, with messages that say what is allowed."""

from __future__ import annotations

import re

MAX_NAME = 200
MAX_LABEL = 36
LATEST = "latest"
PRODUCTION = "production"

_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")
_LABEL = re.compile(r"[a-z0-9_.\-]+")
# Sub-paths of /api/v1/prompts/{name}/...: a name segment equal to one would make routes ambiguous.
RESERVED_SEGMENTS = frozenset({"versions", "labels", "diff"})


class InvalidNameError(ValueError):
    """A prompt or label name is not valid."""


def check_prompt_name(name: str) -> str:
    """Return ``name`` if valid: 1-200 of letters, digits, - _ . /, as folder-like segments.

    Empty, ``.`` and ``..`` segments are refused because ``contrail prompts pull`` writes one file
    per prompt under its name.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise InvalidNameError(f"A prompt name has 1 to {MAX_NAME} characters.")
    if not _NAME.fullmatch(name):
        raise InvalidNameError(f"Prompt name {name!r} may only use letters, digits and - _ . /")
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidNameError(
                f"Prompt name {name!r}: '/' separates folders; no empty, '.' or '..' folder is allowed."
            )
        if segment in RESERVED_SEGMENTS:
            raise InvalidNameError(
                f"Prompt name {name!r}: {segment!r} is reserved by the API and cannot be a name segment."
            )
    return name


def check_label(label: str) -> str:
    """Return ``label`` if valid: 1-36 of lowercase letters, digits, - _ ."""
    if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL:
        raise InvalidNameError(f"A label has 1 to {MAX_LABEL} characters.")
    if not _LABEL.fullmatch(label):
        raise InvalidNameError(f"Label {label!r} may only use lowercase letters, digits and - _ .")
    return label

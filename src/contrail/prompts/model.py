"""What the registry returns: versions, prompt summaries, label moves (plain dataclasses)."""

from __future__ import annotations

import dataclasses
from typing import Any

from contrail.prompts.content import Content, Message, PromptType


class PromptNotFoundError(LookupError):
    """No such prompt, version or label in this project (the message says which)."""


class PromptConflictError(ValueError):
    """The change contradicts the registry's state (e.g. deleting a version a label holds)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PromptVersion:
    """One immutable version of a prompt, with the labels that currently point at it."""

    id: str
    name: str
    version: int
    type: PromptType
    prompt: str | list[Message]
    config: dict[str, Any]
    variables: list[str]
    labels: list[str]
    tags: list[str]
    commit_message: str | None
    created_by: str | None
    created_us: int
    content_hash: str

    @property
    def content(self) -> Content:
        placeholders: tuple[str, ...] = ()
        if isinstance(self.prompt, list):
            placeholders = tuple(m["name"] for m in self.prompt if m.get("type") == "placeholder")
        return Content(self.type, self.prompt, self.config, tuple(self.variables), placeholders)


@dataclasses.dataclass(frozen=True, slots=True)
class PromptSummary:
    """A prompt in a list: its live versions, where its labels point, its newest config."""

    id: str
    name: str
    type: PromptType
    tags: list[str]
    versions: list[int]
    labels: dict[str, int]
    latest_version: int
    last_config: dict[str, Any]
    updated_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class LabelEvent:
    """A label move: ``from_version``/``to_version`` None mean the label was absent/removed."""

    id: int
    name: str
    label: str
    from_version: int | None
    to_version: int | None
    actor: str | None
    created_us: int

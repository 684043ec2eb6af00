"""Differences between two prompt versions, as data a UI can draw and as unified text."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import Any, Literal

from contrail.prompts.content import Message
from contrail.prompts.model import PromptVersion

LineKind = Literal["hunk", "context", "added", "removed"]
_KINDS: dict[str, LineKind] = {"@": "hunk", " ": "context", "+": "added", "-": "removed"}
_MISSING = object()


@dataclasses.dataclass(frozen=True, slots=True)
class DiffLine:
    kind: LineKind
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigChange:
    """A top-level config key whose value changed (``None`` side: absent)."""

    key: str
    before: Any
    after: Any
    change: Literal["added", "removed", "changed"]


@dataclasses.dataclass(frozen=True, slots=True)
class VersionDiff:
    name: str
    from_version: int
    to_version: int
    prompt: list[DiffLine]
    config: list[DiffLine]
    config_changes: list[ConfigChange]
    unified: str  # the prompt then the config, as `diff -u` would print them

    @property
    def changed(self) -> bool:
        return bool(self.prompt or self.config)


def diff_versions(before: PromptVersion, after: PromptVersion) -> VersionDiff:
    """Compare two versions of one prompt: prompt text (chat messages as role-headed blocks), config."""
    label_a, label_b = f"{before.name}@{before.version}", f"{after.name}@{after.version}"
    prompt_lines = _unified(_prompt_text(before.prompt), _prompt_text(after.prompt), label_a, label_b)
    config_lines = _unified(
        _config_text(before.config), _config_text(after.config), label_a + "/config", label_b + "/config"
    )
    return VersionDiff(
        name=after.name,
        from_version=before.version,
        to_version=after.version,
        prompt=_lines(prompt_lines),
        config=_lines(config_lines),
        config_changes=_config_changes(before.config, after.config),
        unified="".join(prompt_lines + config_lines),
    )


def _prompt_text(prompt: str | list[Message]) -> list[str]:
    if isinstance(prompt, str):
        return prompt.splitlines(keepends=True)
    lines: list[str] = []
    for message in prompt:
        if message.get("type") == "placeholder":
            lines.append(f"### placeholder: {message['name']}\n")
        else:
            lines.append(f"### {message['role']}\n")
            lines.extend(line + "\n" for line in str(message["content"]).split("\n"))
    return lines


def _config_text(config: dict[str, Any]) -> list[str]:
    return [
        line + "\n" for line in json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False).split("\n")
    ]


def _unified(a: list[str], b: list[str], label_a: str, label_b: str) -> list[str]:
    # Texts without a final newline would glue the last line to the next diff line.
    a = [line if line.endswith("\n") else line + "\n" for line in a]
    b = [line if line.endswith("\n") else line + "\n" for line in b]
    return list(difflib.unified_diff(a, b, fromfile=label_a, tofile=label_b))


def _lines(unified: list[str]) -> list[DiffLine]:
    # Skip the ---/+++ file headers: the UI knows which versions it asked for.
    return [DiffLine(_KINDS[line[0]], line[1:].rstrip("\n")) for line in unified[2:] if line[:1] in _KINDS]


def _config_changes(before: dict[str, Any], after: dict[str, Any]) -> list[ConfigChange]:
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        if old is _MISSING:
            changes.append(ConfigChange(key, None, new, "added"))
        elif new is _MISSING:
            changes.append(ConfigChange(key, old, None, "removed"))
        else:
            changes.append(ConfigChange(key, old, new, "changed"))
    return changes

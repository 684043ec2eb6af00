"""Prompts as YAML files, one per prompt, for ``contrail prompts push|pull`` (prompts kept in git).

A file holds ``name``, ``type`` (text or chat), ``prompt`` (text) or ``messages`` (chat), and
optionally ``config``, ``labels``, ``tags`` and ``commit_message``. Without ``name``, the path under
the folder is the name (``support/triage.yaml`` → ``support/triage``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from contrail.prompts.content import Content, ContentError, check_content
from contrail.prompts.names import LATEST, InvalidNameError, check_label, check_prompt_name

_SUFFIXES = (".yaml", ".yml")
_KEYS = {"name", "type", "prompt", "messages", "config", "labels", "tags", "commit_message"}


class PromptFileError(ValueError):
    """A prompt file cannot be used; the message starts with the file (and line, for YAML errors)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PromptFile:
    path: Path
    name: str
    content: Content
    labels: list[str]
    tags: list[str] | None
    commit_message: str | None


def read_folder(folder: Path) -> list[PromptFile]:
    """Every prompt file under ``folder``, checked. Raises PromptFileError listing every bad file."""
    if not folder.is_dir():
        raise PromptFileError(f"{folder}: not a folder")
    files, errors = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file()):
        try:
            files.append(read_file(path, folder))
        except PromptFileError as exc:
            errors.append(str(exc))
    names = [f.name for f in files]
    errors += [
        f"prompt {n!r} is defined in more than one file"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if errors:
        raise PromptFileError("\n".join(errors))
    return files


def read_file(path: Path, folder: Path) -> PromptFile:
    """One prompt file. Raises PromptFileError naming the file (and the line for YAML syntax)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        raise PromptFileError(f"{where}: {exc.problem or exc}") from exc
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise PromptFileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptFileError(f"{path}: expected a mapping with name, type and prompt or messages")
    try:
        return _prompt_file(path, folder, data)
    except (ContentError, InvalidNameError) as exc:
        raise PromptFileError(f"{path}: {exc}") from exc


def _prompt_file(path: Path, folder: Path, data: dict[str, Any]) -> PromptFile:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise PromptFileError(
            f"{path}: unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})"
        )
    name = data.get("name") or path.relative_to(folder).as_posix()[: -len(path.suffix)]
    check_prompt_name(str(name))
    type_ = data.get("type") or ("chat" if "messages" in data else "text")
    body = data.get("messages") if type_ == "chat" else data.get("prompt")
    if body is None:
        raise PromptFileError(
            f"{path}: a {type_} prompt needs `{'messages' if type_ == 'chat' else 'prompt'}`"
        )
    labels = [check_label(str(label)) for label in data.get("labels") or [] if label != LATEST]
    tags = data.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise PromptFileError(f"{path}: tags must be a list of strings")
    message = data.get("commit_message")
    return PromptFile(path, str(name), check_content(type_, body, data.get("config")), labels, tags, message)


def write_file(folder: Path, name: str, content: Content, labels: list[str], tags: list[str]) -> Path:
    """Write one prompt as ``folder/<name>.yaml`` (names never hold '..' or empty segments)."""
    check_prompt_name(name)
    path = (
        folder.joinpath(*name.split("/")).with_suffix(".yaml")
        if "." not in name.rsplit("/", 1)[-1]
        else (folder.joinpath(*name.split("/")).with_name(name.rsplit("/", 1)[-1] + ".yaml"))
    )
    data: dict[str, Any] = {"name": name, "type": content.type}
    data["prompt" if content.type == "text" else "messages"] = content.prompt
    if content.config:
        data["config"] = content.config
    data["labels"] = [label for label in labels if label != LATEST]
    data["tags"] = tags
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class _Dumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
    """Multi-line strings as ``|`` blocks, so prompt changes read well in git diffs."""


def _str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

"""Prompts: the list, a prompt's page (history, rendered version, labels, audit log, per-version stats),
a new version, label moves, and two versions compared (diff and stats side by side).

Everyone in the project reads; members and admins add versions and move labels (the ``manage_keys``
level, as for API keys and prices). Prompt names may hold ``/``; no name segment can be ``versions``,
``labels`` or ``diff`` (the registry refuses them), so the sub-paths below are unambiguous.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import Engine
from starlette.responses import RedirectResponse, Response

from contrail.prompts import lookup, registry, stats
from contrail.prompts.content import MAX_CONTENT_BYTES, ContentError, Message
from contrail.prompts.diff import DiffLine
from contrail.prompts.model import PromptNotFoundError, PromptVersion
from contrail.prompts.names import LATEST, InvalidNameError
from contrail.prompts.template import TemplateError, parse
from contrail.server.state import server_state
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render
from contrail.store.accounts import Action
from contrail.store.pagination import CursorError

router = APIRouter(prefix="/prompts")
Who = Annotated[SignedIn, Depends(signed_in)]
EDIT: Action = "manage_keys"
PAGE_SIZE = 50
MAX_FIELD = 2 * MAX_CONTENT_BYTES  # the registry gives the exact limit; this only bounds the form
STATS_VERSIONS = 200  # newest versions whose call counts the history shows


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """A piece of prompt text: literal, or a ``{{variable}}`` to highlight."""

    text: str
    variable: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ShownMessage:
    role: str
    segments: list[Segment]
    placeholder: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DiffRow:
    """One row of a side-by-side diff: a hunk header, or the old and new line (None: no line)."""

    left: str | None = None
    right: str | None = None
    left_kind: str = "context"
    right_kind: str = "context"
    hunk: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EditForm:
    """What the edit form holds: the version's content, or what was submitted with its error."""

    prompt: str
    config: str
    commit_message: str = ""
    error: str | None = None


@router.get("")
def prompts_page(
    request: Request, who: Who, name: str = "", label: str = "", tag: str = "", cursor: str = ""
) -> Response:
    project = who.require("read")
    try:
        page = lookup.list_prompts(
            server_state(request).engine,
            project.project_id,
            name_prefix=name.strip()[:200] or None,
            label=label.strip()[:36] or None,
            tag=tag.strip()[:200] or None,
            limit=PAGE_SIZE,
            cursor=cursor or None,
        )
    except CursorError as exc:
        raise UiError(422, str(exc)) from exc
    filters = {"name": name, "label": label, "tag": tag}
    return render(request, "prompts.html", who, page=page, filters=filters)


@router.get("/{name:path}/diff")
def compare_page(request: Request, who: Who, name: str) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    params = request.query_params
    before, after = _version_number(params.get("from")), _version_number(params.get("to"))
    if before is None or after is None:
        raise UiError(422, "Choose two versions to compare (from and to).")
    with _not_found():
        diff = lookup.diff_stored_versions(engine, project.project_id, name, before, after)
        versions = lookup.list_versions(engine, project.project_id, name)
    figures = stats.version_stats(engine, project.project_id, name, [before, after])
    return render(
        request,
        "prompt_diff.html",
        who,
        name=name,
        diff=diff,
        versions=versions,
        left=figures[before],
        right=figures[after],
        prompt_rows=side_by_side(diff.prompt),
        config_rows=side_by_side(diff.config),
    )


@router.post("/{name:path}/versions")
def create_version(
    request: Request,
    who: Who,
    name: str,
    prompt: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    config: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    commit_message: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    project = who.require(EDIT)
    engine = server_state(request).engine
    with _not_found():
        current = lookup.get_version(engine, project.project_id, name, label=LATEST)
    submitted = EditForm(prompt, config, commit_message)
    try:
        created = registry.create_version(
            engine,
            project.project_id,
            name=name,
            type=current.type,
            prompt=_prompt_field(current, prompt),
            config=_json_object(config, "Config"),
            commit_message=commit_message.strip() or None,
            created_by=who.user.email,
        )
    except (ContentError, InvalidNameError, ValueError) as exc:
        failed = dataclasses.replace(submitted, error=str(exc))
        return _prompt_page(request, who, name, current, edit=failed, status=422)
    return _to_prompt(project.project_id, name, created.version)


@router.post("/{name:path}/labels")
def move_label(
    request: Request,
    who: Who,
    name: str,
    label: Annotated[str, Form(max_length=100)] = "",
    version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    project = who.require(EDIT)
    engine = server_state(request).engine
    target = _version_number(version) if version.strip() else None
    if version.strip() and target is None:
        raise UiError(422, f"{version!r} is not a version number.")
    try:
        registry.set_labels(engine, project.project_id, name, {label.strip(): target}, who.user.email)
    except PromptNotFoundError as exc:
        raise UiError(404, str(exc)) from exc
    except InvalidNameError as exc:
        with _not_found():
            shown = lookup.get_version(engine, project.project_id, name, label=LATEST)
        return _prompt_page(request, who, name, shown, label_error=str(exc), status=422)
    return _to_prompt(project.project_id, name, target)


@router.get("/{name:path}")
def prompt_page(request: Request, who: Who, name: str) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    wanted = request.query_params.get("version")
    number = _version_number(wanted) if wanted else None
    if wanted and number is None:
        raise UiError(404, f"Prompt {name!r} has no version {wanted!r}.")
    with _not_found():
        if number is None:
            shown = lookup.get_version(engine, project.project_id, name, label=LATEST)
        else:
            shown = lookup.get_version(engine, project.project_id, name, version=number)
    return _prompt_page(request, who, name, shown)


def _prompt_page(
    request: Request,
    who: SignedIn,
    name: str,
    shown: PromptVersion,
    *,
    edit: EditForm | None = None,
    label_error: str | None = None,
    status: int = 200,
) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    with _not_found():
        versions = lookup.list_versions(engine, project.project_id, name)
        history = lookup.label_history(engine, project.project_id, name)
    figures = _stats(engine, project.project_id, name, versions, shown.version)
    return render(
        request,
        "prompt.html",
        who,
        status=status,
        name=name,
        shown=shown,
        versions=versions,
        labels=_labels(versions),
        history=history,
        figures=figures,
        selected=figures[shown.version],
        text=_segments(shown.prompt) if isinstance(shown.prompt, str) else None,
        messages=_messages(shown.prompt) if isinstance(shown.prompt, list) else None,
        config=json.dumps(shown.config, indent=2, sort_keys=True, ensure_ascii=False),
        edit=edit or _edit_form(shown),
        label_error=label_error,
        previous=next((v.version for v in versions if v.version < shown.version), None),
    )


def _stats(
    engine: Engine, project_id: str, name: str, versions: list[PromptVersion], shown: int
) -> dict[int, stats.VersionStats]:
    numbers = [v.version for v in versions[:STATS_VERSIONS]]
    return stats.version_stats(engine, project_id, name, [*numbers, shown])


def side_by_side(lines: list[DiffLine]) -> list[DiffRow]:
    """Pair a unified diff's lines for two columns: removed lines next to the added lines that
    replaced them, context on both sides, hunk headers across."""
    rows: list[DiffRow] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        for old, new in itertools.zip_longest(removed, added):
            rows.append(
                DiffRow(old, new, "removed" if old is not None else "", "added" if new is not None else "")
            )
        removed.clear()
        added.clear()

    for line in lines:
        if line.kind == "removed":
            removed.append(line.text)
        elif line.kind == "added":
            added.append(line.text)
        else:
            flush()
            rows.append(DiffRow(hunk=line.text) if line.kind == "hunk" else DiffRow(line.text, line.text))
    flush()
    return rows


def _labels(versions: list[PromptVersion]) -> dict[str, int]:
    return {label: v.version for v in versions for label in v.labels}


def _segments(text: str) -> list[Segment]:
    try:
        template = parse(text)
    except TemplateError:  # stored versions were checked; an old one may predate a stricter parser
        return [Segment(text)]
    return [Segment(p) if isinstance(p, str) else Segment("{{" + p.name + "}}", True) for p in template.parts]


def _messages(prompt: list[Message]) -> list[ShownMessage]:
    return [
        ShownMessage("placeholder", [], m["name"])
        if m.get("type") == "placeholder"
        else ShownMessage(str(m["role"]), _segments(str(m["content"])))
        for m in prompt
    ]


def _edit_form(version: PromptVersion) -> EditForm:
    prompt = (
        version.prompt
        if isinstance(version.prompt, str)
        else json.dumps(version.prompt, indent=2, ensure_ascii=False)
    )
    return EditForm(prompt, json.dumps(version.config, indent=2, sort_keys=True, ensure_ascii=False))


def _prompt_field(current: PromptVersion, text: str) -> Any:
    """A text prompt as typed; a chat prompt as its JSON list of messages."""
    if current.type == "text":
        if not text.strip():
            raise ContentError("The prompt is empty.")
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ContentError(
            f"Chat messages must be a JSON list of {{role, content}} objects ({exc})."
        ) from None


def _json_object(text: str, field: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ContentError(f"{field} is not valid JSON ({exc}).") from None
    if not isinstance(value, dict):
        raise ContentError(f'{field} must be a JSON object, e.g. {{"model": "gpt-4o-mini"}}.')
    return value


def _version_number(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit() or len(text.strip()) > 9:
        return None
    return int(text)


@contextlib.contextmanager
def _not_found() -> Iterator[None]:
    """Show the registry's PromptNotFoundError as the UI's 404 page."""
    try:
        yield
    except PromptNotFoundError as exc:
        raise UiError(404, str(exc)) from exc


def _to_prompt(project_id: str, name: str, version: int | None) -> RedirectResponse:
    query = f"?project={project_id}" + (f"&version={version}" if version is not None else "")
    return RedirectResponse(f"/prompts/{name}{query}", status_code=303)

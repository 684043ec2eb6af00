"""The registry on both dialects: versions, labels, audit log, soft delete, diff, project scoping."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from contrail.prompts import lookup, registry
from contrail.prompts.content import ContentError
from contrail.prompts.model import PromptConflictError, PromptNotFoundError
from contrail.prompts.names import InvalidNameError
from contrail.store.projects import create_project


def _text(engine: Engine, project_id: str, text: str, **kwargs: object) -> int:
    created = registry.create_version(
        engine,
        project_id,
        name=kwargs.pop("name", "greet"),
        type="text",
        prompt=text,
        **kwargs,  # type: ignore[arg-type]
    )
    return created.version


def test_versions_are_numbered_per_name_and_latest_follows(engine: Engine, project_id: str) -> None:
    first = registry.create_version(
        engine,
        project_id,
        name="greet",
        type="text",
        prompt="Hi {{name}}",
        config={"model": "gpt-4o-mini", "temperature": 0.1},
        labels=["production"],
        tags=["onboarding"],
        commit_message="first",
        created_by="pk-1",
    )
    assert (first.version, first.variables, first.labels) == (1, ["name"], ["latest", "production"])
    assert first.tags == ["onboarding"]
    assert (first.commit_message, first.created_by) == ("first", "pk-1")
    assert _text(engine, project_id, "Hello {{name}}") == 2
    assert _text(engine, project_id, "other", name="other") == 1
    assert lookup.get_version(engine, project_id, "greet").version == 1  # production by default
    latest = lookup.get_version(engine, project_id, "greet", label="latest")
    assert (latest.version, latest.prompt, latest.labels, latest.tags) == (
        2,
        "Hello {{name}}",
        ["latest"],
        ["onboarding"],
    )
    assert lookup.get_version(engine, project_id, "greet", version=1).config["temperature"] == 0.1
    assert [v.version for v in lookup.list_versions(engine, project_id, "greet")] == [2, 1]


def test_get_without_production_label_is_not_found(engine: Engine, project_id: str) -> None:
    _text(engine, project_id, "x")
    with pytest.raises(PromptNotFoundError, match="label 'production'"):
        lookup.get_version(engine, project_id, "greet")
    with pytest.raises(PromptNotFoundError, match="no version 9"):
        lookup.get_version(engine, project_id, "greet", version=9)
    with pytest.raises(PromptNotFoundError, match="No prompt named 'nope'"):
        lookup.get_version(engine, project_id, "nope")
    with pytest.raises(ValueError, match="not both"):
        lookup.get_version(engine, project_id, "greet", label="latest", version=1)


def test_label_moves_are_audited_and_single_holder(engine: Engine, project_id: str) -> None:
    for text in ("a", "b", "c"):
        _text(engine, project_id, text)
    registry.set_labels(engine, project_id, "greet", {"production": 1, "staging": 3}, "alice")
    registry.set_labels(engine, project_id, "greet", {"production": 2}, "bob")
    registry.set_labels(engine, project_id, "greet", {"staging": None}, "bob")
    versions = {v.version: v.labels for v in lookup.list_versions(engine, project_id, "greet")}
    assert versions == {3: ["latest"], 2: ["production"], 1: []}
    events = [
        (e.label, e.from_version, e.to_version, e.actor)
        for e in lookup.label_history(engine, project_id, "greet")
        if e.label != "latest"
    ]
    assert events == [
        ("staging", 3, None, "bob"),
        ("production", 1, 2, "bob"),
        ("staging", None, 3, "alice"),
        ("production", None, 1, "alice"),
    ]


def test_bad_label_moves_are_refused(engine: Engine, project_id: str) -> None:
    _text(engine, project_id, "a")
    with pytest.raises(PromptNotFoundError, match="no version 5"):
        registry.set_labels(engine, project_id, "greet", {"production": 5}, None)
    with pytest.raises(InvalidNameError, match="latest"):
        registry.set_labels(engine, project_id, "greet", {"latest": 1}, None)
    with pytest.raises(InvalidNameError, match="lowercase"):
        registry.set_labels(engine, project_id, "greet", {"Prod": 1}, None)
    with pytest.raises(PromptNotFoundError):
        registry.set_labels(engine, project_id, "missing", {"production": 1}, None)


def test_bad_creates_are_refused(engine: Engine, project_id: str) -> None:
    with pytest.raises(InvalidNameError):
        registry.create_version(engine, project_id, name="bad name", type="text", prompt="x")
    with pytest.raises(ContentError, match="position 3"):
        registry.create_version(engine, project_id, name="ok", type="text", prompt="Hi {{name")
    with pytest.raises(InvalidNameError, match="latest"):
        registry.create_version(engine, project_id, name="ok", type="text", prompt="x", labels=["latest"])
    _text(engine, project_id, "x", name="ok")
    with pytest.raises(PromptConflictError, match="text prompt"):
        registry.create_version(
            engine, project_id, name="ok", type="chat", prompt=[{"role": "user", "content": "x"}]
        )


def test_soft_delete_of_versions_and_prompts(engine: Engine, project_id: str) -> None:
    _text(engine, project_id, "a", labels=["production"])
    _text(engine, project_id, "b")
    with pytest.raises(PromptConflictError, match="holds the labels production"):
        registry.delete_version(engine, project_id, "greet", 1, "alice")
    registry.delete_version(engine, project_id, "greet", 2, "alice")  # only `latest` held it
    assert [v.version for v in lookup.list_versions(engine, project_id, "greet")] == [1]
    assert lookup.get_version(engine, project_id, "greet", label="latest").version == 1
    with pytest.raises(PromptNotFoundError):
        lookup.get_version(engine, project_id, "greet", version=2)
    registry.set_labels(engine, project_id, "greet", {"production": None}, None)
    with pytest.raises(PromptConflictError, match="only version"):
        registry.delete_version(engine, project_id, "greet", 1, None)
    registry.delete_prompt(engine, project_id, "greet", "alice")
    with pytest.raises(PromptNotFoundError):
        lookup.get_version(engine, project_id, "greet", label="latest")
    assert lookup.list_prompts(engine, project_id).items == []
    # Re-created: numbering continues, so traces that recorded greet@1 never see another text.
    assert _text(engine, project_id, "again") == 3
    assert [v.version for v in lookup.list_versions(engine, project_id, "greet")] == [3]


def test_list_filters_and_pages(engine: Engine, project_id: str) -> None:
    _text(engine, project_id, "a", name="support/triage", labels=["production"], tags=["support"])
    _text(engine, project_id, "b", name="support/reply", tags=["support", "email"])
    _text(engine, project_id, "c", name="Support/upper")
    _text(engine, project_id, "d", name="sales/pitch", labels=["staging"])
    names = lambda page: [p.name for p in page.items]  # noqa: E731
    assert names(lookup.list_prompts(engine, project_id, name_prefix="support/")) == [
        "support/reply",
        "support/triage",
    ]
    assert names(lookup.list_prompts(engine, project_id, label="staging")) == ["sales/pitch"]
    assert names(lookup.list_prompts(engine, project_id, tag="email")) == ["support/reply"]
    first = lookup.list_prompts(engine, project_id, limit=2)
    assert names(first) == ["Support/upper", "sales/pitch"] and first.next_cursor
    second = lookup.list_prompts(engine, project_id, limit=2, cursor=first.next_cursor)
    assert names(second) == ["support/reply", "support/triage"] and second.next_cursor is None
    summary = second.items[1]
    assert (summary.versions, summary.labels, summary.tags) == (
        [1],
        {"latest": 1, "production": 1},
        ["support"],
    )
    total, page = lookup.count_and_list_prompts(engine, project_id, page=2, limit=3)
    assert total == 4 and [p.name for p in page] == ["support/triage"]


def test_everything_is_scoped_to_the_project(engine: Engine, project_id: str) -> None:
    _text(engine, project_id, "mine", labels=["production"])
    other = create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id
    with pytest.raises(PromptNotFoundError):
        lookup.get_version(engine, other, "greet")
    assert lookup.list_prompts(engine, other).items == []
    with pytest.raises(PromptNotFoundError):
        registry.set_labels(engine, other, "greet", {"staging": 1}, None)
    assert _text(engine, other, "theirs") == 1
    assert lookup.get_version(engine, project_id, "greet").prompt == "mine"


def test_diff_of_two_versions(engine: Engine, project_id: str) -> None:
    registry.create_version(
        engine,
        project_id,
        name="chat",
        type="chat",
        prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}],
        config={"model": "a", "temperature": 0},
    )
    registry.create_version(
        engine,
        project_id,
        name="chat",
        type="chat",
        prompt=[{"role": "system", "content": "Be brief and kind."}, {"role": "user", "content": "{{q}}"}],
        config={"model": "b", "max_tokens": 10},
    )
    diff = lookup.diff_stored_versions(engine, project_id, "chat", 1, 2)
    assert ("removed", "Be brief.") in [(line.kind, line.text) for line in diff.prompt]
    assert ("added", "Be brief and kind.") in [(line.kind, line.text) for line in diff.prompt]
    assert [(c.key, c.change) for c in diff.config_changes] == [
        ("max_tokens", "added"),
        ("model", "changed"),
        ("temperature", "removed"),
    ]
    assert "--- chat@1" in diff.unified and "+++ chat@2" in diff.unified
    assert not lookup.diff_stored_versions(engine, project_id, "chat", 1, 1).changed

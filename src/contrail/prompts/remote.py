"""Push and pull prompt files to and from a Contrail server over its API (``contrail prompts``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx

from contrail.prompts.content import check_content
from contrail.prompts.files import PromptFile, write_file

Action = Literal["created", "unchanged", "labelled"]


class RemoteError(RuntimeError):
    """The server could not be reached or refused a request; the message says which and why."""


@dataclasses.dataclass(frozen=True, slots=True)
class PushResult:
    name: str
    action: Action
    version: int | None  # None: a dry run that would create a version
    labels: list[str]


class RegistryClient:
    """The registry API of one server and project (keys as for the SDK)."""

    def __init__(self, host: str, auth_header: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": auth_header} if auth_header else {}
        self._http = httpx.Client(base_url=host.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def names(self) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = self._call("GET", "/api/v1/prompts", params=params)
            yield from page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def latest(self, name: str) -> dict[str, Any] | None:
        return self._call("GET", _path(name), params={"label": "latest"}, missing_ok=True) or None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/prompts", json=body)

    def move_labels(self, name: str, labels: dict[str, int | None]) -> dict[str, Any]:
        return self._call("PATCH", _path(name) + "/labels", json={"labels": labels})

    def diff(self, name: str, from_version: int, to_version: int) -> dict[str, Any]:
        params = {"from": from_version, "to": to_version}
        return self._call("GET", _path(name) + "/diff", params=params)

    def _call(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"Cannot reach {self._http.base_url} ({exc}). Is the server running?") from exc
        if response.status_code == 404 and missing_ok:
            return {}
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise RemoteError(f"{method} {path}: HTTP {response.status_code}: {message}")
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"data": body}


def _path(name: str) -> str:
    return f"/api/v1/prompts/{quote(name, safe='/')}"


def push(
    client: RegistryClient, files: list[PromptFile], labels: list[str], dry_run: bool
) -> list[PushResult]:
    """Create a version for each file whose normalised content differs from the latest version, then
    point the file's labels and ``labels`` at the file's version. Nothing is written when ``dry_run``."""
    return [_push_one(client, f, list(dict.fromkeys([*f.labels, *labels])), dry_run) for f in files]


def _push_one(client: RegistryClient, file: PromptFile, labels: list[str], dry_run: bool) -> PushResult:
    latest = client.latest(file.name)
    if (
        latest is None
        or check_content(latest["type"], latest["prompt"], latest["config"]).hash != file.content.hash
    ):
        if dry_run:
            return PushResult(file.name, "created", None, labels)
        created = client.create(
            {
                "name": file.name,
                "type": file.content.type,
                "prompt": file.content.prompt,
                "config": file.content.config,
                "labels": labels,
                "tags": file.tags,
                "commit_message": file.commit_message,
            }
        )
        return PushResult(file.name, "created", created["version"], labels)
    missing = [label for label in labels if label not in latest["labels"]]
    if missing and not dry_run:
        client.move_labels(file.name, dict.fromkeys(missing, latest["version"]))
    return PushResult(file.name, "labelled" if missing else "unchanged", latest["version"], labels)


def pull(client: RegistryClient, folder: Path) -> list[Path]:
    """Write the latest version of every prompt to ``folder/<name>.yaml`` with its labels and tags."""
    written = []
    for summary in client.names():
        latest = client.latest(summary["name"])
        if latest is None:  # deleted meanwhile
            continue
        content = check_content(latest["type"], latest["prompt"], latest["config"])
        written.append(write_file(folder, latest["name"], content, latest["labels"], latest["tags"]))
    return written

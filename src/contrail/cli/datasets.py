"""`contrail datasets list|create|import|export|add-from-traces`: datasets on a Contrail server, over
its HTTP API (CONTRAIL_HOST and the project keys, like the SDK and `contrail demo`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import click

from contrail.cli.output import print_table
from contrail.cli.prompts import server_options

if TYPE_CHECKING:
    import httpx

# One request per file up to this size (all lines or none); bigger files are checked here first, then
# sent in batches of items. The server's default CONTRAIL_MAX_REQUEST_BYTES is 16 MiB.
_SINGLE_REQUEST_BYTES = 8 * 1024 * 1024
_BATCH_ITEMS = 1000


@dataclasses.dataclass
class _Api:
    host: str
    auth: str | None

    def client(self) -> httpx.Client:
        import httpx

        headers = {"Authorization": self.auth} if self.auth else {}
        return httpx.Client(base_url=self.host.rstrip("/"), headers=headers, timeout=120)


def _api(host: str | None, public_key: str | None, secret_key: str | None) -> _Api:
    from contrail.sdk.config import resolve

    config = resolve({"host": host, "public_key": public_key, "secret_key": secret_key})
    if not config.secret_key:
        raise click.ClickException(
            "No API key: set CONTRAIL_SECRET_KEY (and CONTRAIL_PUBLIC_KEY) or pass --secret-key."
        )
    return _Api(config.host, config.auth_header())


def _path(name: str, rest: str = "") -> str:
    return f"/api/v1/datasets/{quote(name, safe='')}{rest}"


def _checked(response: httpx.Response) -> Any:
    """The JSON answer, or a ClickException with the server's message and per-line details."""
    if response.status_code < 400:
        return response.json() if response.content else None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise click.ClickException(f"HTTP {response.status_code}: {response.text[:300]}") from None
    lines = [error.get("message") or f"HTTP {response.status_code}"]
    details = error.get("details")
    if isinstance(details, list):
        lines += [
            f"  line {d.get('line', d.get('index'))}: {d.get('message')}"
            for d in details[:20]
            if isinstance(d, dict)
        ]
    raise click.ClickException("\n".join(lines))


def _request(api: _Api, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        with api.client() as client:
            return _checked(client.request(method, path, **kwargs))
    except httpx.TransportError as exc:
        raise click.ClickException(
            f"Cannot reach Contrail at {api.host} ({exc}). "
            "Start it with `contrail server` or set CONTRAIL_HOST."
        ) from exc


@click.group("datasets")
def datasets_group() -> None:
    """Versioned evaluation datasets on a Contrail server."""


@datasets_group.command("list")
@server_options
def list_command(host: str | None, public_key: str | None, secret_key: str | None) -> None:
    """Datasets of the project, by name."""
    api = _api(host, public_key, secret_key)
    rows, cursor = [], None
    while True:
        page = _request(
            api, "GET", "/api/v1/datasets", params={"limit": 500, **({"cursor": cursor} if cursor else {})}
        )
        rows += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    print_table(
        "Datasets",
        ("name", "version", "items", "updated", "description"),
        ((d["name"], d["version"], d["item_count"], d["updated_at"], d["description"]) for d in rows),
    )


@datasets_group.command("create")
@click.argument("name")
@click.option("--description", default=None)
@server_options
def create_command(
    name: str, description: str | None, host: str | None, public_key: str | None, secret_key: str | None
) -> None:
    """Create an empty dataset."""
    created = _request(
        _api(host, public_key, secret_key),
        "POST",
        "/api/v1/datasets",
        json={"name": name, "description": description},
    )
    click.echo(f"Created dataset {created['name']} ({created['id']}).")


@datasets_group.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None, help="Default: from the file name."
)
@click.option("--create", is_flag=True, help="Create the dataset first if it does not exist.")
@server_options
def import_command(
    name: str,
    file: Path,
    fmt: str | None,
    create: bool,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
) -> None:
    """Add or update items from a JSONL or CSV file (columns/keys: input, expected_output, metadata, id).

    Files up to 8 MiB go in one request: all lines or none. Bigger files are checked here first (every
    bad line is reported and nothing is sent), then sent in batches of 1,000 items, each a new version.
    """
    api = _api(host, public_key, secret_key)
    fmt = fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if create:
        _ensure_dataset(api, name)
    data = file.read_bytes()
    if len(data) <= _SINGLE_REQUEST_BYTES:
        result = _send_file(api, name, fmt, data)
    else:
        result = _send_batches(api, name, fmt, data)
    click.echo(
        f"Imported {file.name} into {name}: {result['created']} created, {result['updated']} updated, "
        f"{result['unchanged']} unchanged; dataset version {result['version']}."
    )


def _ensure_dataset(api: _Api, name: str) -> None:
    with api.client() as client:
        response = client.post("/api/v1/datasets", json={"name": name})
    if response.status_code != 409:
        _checked(response)


def _send_file(api: _Api, name: str, fmt: str, data: bytes) -> dict[str, Any]:
    with click.progressbar(length=len(data), label=f"Uploading {len(data):,} bytes") as bar:

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), 256 * 1024):
                chunk = data[start : start + 256 * 1024]
                bar.update(len(chunk))
                yield chunk

        headers = {"Content-Length": str(len(data)), "Content-Type": "text/plain"}
        result: dict[str, Any] = _request(
            api, "POST", _path(name, "/import"), params={"format": fmt}, content=chunks(), headers=headers
        )
    return result


def _send_batches(api: _Api, name: str, fmt: str, data: bytes) -> dict[str, Any]:
    from contrail.evals.dataset_files import ItemsError, parse_items

    try:
        items = parse_items(data, fmt)
    except ItemsError as exc:
        shown = "\n".join(f"  line {e.line}: {e.message}" for e in exc.errors[:20])
        raise click.ClickException(f"{exc.total} invalid line(s); nothing was sent.\n{shown}") from exc
    total = {"created": 0, "updated": 0, "unchanged": 0, "version": 0}
    with click.progressbar(length=len(items), label=f"Importing {len(items):,} items") as bar:
        for start in range(0, len(items), _BATCH_ITEMS):
            batch = [_item_json(i) for i in items[start : start + _BATCH_ITEMS]]
            answer = _request(api, "POST", _path(name, "/items"), json={"items": batch})
            for key in ("created", "updated", "unchanged"):
                total[key] += answer[key]
            total["version"] = answer["version"]
            bar.update(len(batch))
    return total


def _item_json(item: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(item).items() if v is not None or k == "input"}


@datasets_group.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--version", "version", type=click.IntRange(0), default=None, help="Default: the latest.")
@click.option("--output", "-o", type=click.File("wb"), default="-", help="File to write [default: stdout].")
@server_options
def export_command(
    name: str,
    fmt: str,
    version: int | None,
    output: IO[bytes],
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
) -> None:
    """Write a dataset version as JSONL or CSV."""
    import httpx

    api = _api(host, public_key, secret_key)
    params: dict[str, Any] = {"format": fmt, **({"version": version} if version is not None else {})}
    try:
        with api.client() as client, client.stream("GET", _path(name, "/export"), params=params) as response:
            if response.status_code >= 400:
                response.read()
                _checked(response)
            for chunk in response.iter_bytes():
                output.write(chunk)
    except httpx.TransportError as exc:
        raise click.ClickException(f"Cannot reach Contrail at {api.host} ({exc}).") from exc


@datasets_group.command("add-from-traces")
@click.argument("name")
@click.option("--trace-id", "trace_ids", multiple=True, help="A trace to add; repeat for several.")
@click.option("--since", "from_time", default=None, help="Traces starting at or after (RFC 3339).")
@click.option("--until", "to_time", default=None, help="Traces starting before (RFC 3339).")
@click.option("--name", "trace_name", default=None, help="Trace name.")
@click.option("--user", "user_id", default=None)
@click.option("--session", "session_id", default=None)
@click.option("--tag", "tags", multiple=True)
@click.option("--model", default=None)
@click.option("--errors/--no-errors", "error", default=None, help="Only traces with (or without) errors.")
@click.option("--metadata", "metadata", multiple=True, help="key=value; repeat for several.")
@click.option("--search", "-q", "q", default=None, help="Full-text search.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--use", type=click.Choice(["trace", "root_span"]), default="trace", show_default=True)
@server_options
def add_from_traces_command(
    name: str,
    trace_ids: tuple[str, ...],
    limit: int,
    use: str,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
    **filters: Any,
) -> None:
    """Add production traces as items (input and output of their root observation). Give trace ids or
    filters; a trace already in the dataset updates its item."""
    flt = {k: v for k, v in filters.items() if v not in (None, ())}
    if "trace_name" in flt:
        flt["name"] = flt.pop("trace_name")
    for key, field in (("tags", "tag"), ("metadata", "metadata")):
        if key in flt:
            flt[field] = list(flt.pop(key))
    body: dict[str, Any] = {"use": use}
    if trace_ids:
        if flt:
            raise click.UsageError("Give --trace-id or filters, not both.")
        body["trace_ids"] = list(trace_ids)
    else:
        body.update(filter=flt, limit=limit)
    result = _request(
        _api(host, public_key, secret_key), "POST", _path(name, "/items/from-traces"), json=body
    )
    click.echo(
        f"{result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged; "
        f"dataset version {result['version']}."
    )

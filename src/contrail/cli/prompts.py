"""`contrail prompts push|pull|list|diff`: prompts as YAML files, synced with a Contrail server.

The server and keys are the SDK's (CONTRAIL_HOST, CONTRAIL_PUBLIC_KEY, CONTRAIL_SECRET_KEY), or
--host / --public-key / --secret-key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from contrail.cli.output import print_table

if TYPE_CHECKING:
    from contrail.prompts.remote import RegistryClient


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--host", default=None, help="Contrail server URL (default: CONTRAIL_HOST)."),
            click.option(
                "--public-key", default=None, help="Project public key (default: CONTRAIL_PUBLIC_KEY)."
            ),
            click.option(
                "--secret-key", default=None, help="Project secret key (default: CONTRAIL_SECRET_KEY)."
            ),
        ]
    ):
        command = option(command)
    return command


@contextmanager
def _registry(host: str | None, public_key: str | None, secret_key: str | None) -> Iterator[RegistryClient]:
    from contrail.prompts.remote import RegistryClient, RemoteError
    from contrail.sdk.config import resolve

    config = resolve({"host": host, "public_key": public_key, "secret_key": secret_key})
    if config.auth_header() is None:
        raise click.ClickException(
            "No API key: set CONTRAIL_SECRET_KEY (and CONTRAIL_PUBLIC_KEY) or pass --secret-key."
        )
    client = RegistryClient(config.host, config.auth_header())
    try:
        yield client
    except RemoteError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()


@click.group("prompts")
def prompts_group() -> None:
    """Manage the prompt registry from YAML files (one file per prompt)."""


@prompts_group.command("push")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--label", "labels", multiple=True, help="Point this label at each pushed version (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@server_options
def push_command(
    folder: Path,
    labels: tuple[str, ...],
    dry_run: bool,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
) -> None:
    """Create a version for every prompt file whose content changed since the latest version."""
    from contrail.prompts.files import PromptFileError, read_folder
    from contrail.prompts.names import InvalidNameError, check_label
    from contrail.prompts.remote import push

    try:
        wanted = [check_label(label) for label in labels]
        files = read_folder(folder)
    except (PromptFileError, InvalidNameError) as exc:
        raise click.ClickException(str(exc)) from exc
    with _registry(host, public_key, secret_key) as client:
        results = push(client, files, wanted, dry_run)
    verb = {"created": "would create", "labelled": "would label"} if dry_run else {}
    print_table(
        "Prompts (dry run)" if dry_run else "Prompts",
        ["name", "action", "version", "labels"],
        (
            [
                r.name,
                verb.get(r.action, r.action),
                "new" if r.version is None else r.version,
                ", ".join(r.labels),
            ]
            for r in results
        ),
    )


@prompts_group.command("pull")
@click.argument("folder", type=click.Path(path_type=Path))
@server_options
def pull_command(folder: Path, host: str | None, public_key: str | None, secret_key: str | None) -> None:
    """Write the latest version of every prompt to FOLDER/<name>.yaml."""
    from contrail.prompts.remote import pull

    with _registry(host, public_key, secret_key) as client:
        written = pull(client, folder)
    print_table("Pulled prompts", ["file"], ([str(path)] for path in written))


@prompts_group.command("list")
@server_options
def list_command(host: str | None, public_key: str | None, secret_key: str | None) -> None:
    """List prompts with their versions, labels and tags."""
    with _registry(host, public_key, secret_key) as client:
        rows = [
            [
                p["name"],
                p["type"],
                p["latest_version"],
                len(p["versions"]),
                ", ".join(f"{label}={version}" for label, version in p["labels"].items()),
                ", ".join(p["tags"]),
            ]
            for p in client.names()
        ]
    print_table("Prompts", ["name", "type", "latest", "versions", "labels", "tags"], rows)


@prompts_group.command("diff")
@click.argument("name")
@click.argument("from_version", type=click.IntRange(1))
@click.argument("to_version", type=click.IntRange(1))
@server_options
def diff_command(
    name: str,
    from_version: int,
    to_version: int,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
) -> None:
    """Show a unified diff of two versions of NAME (prompt, then config)."""
    with _registry(host, public_key, secret_key) as client:
        diff = client.diff(name, from_version, to_version)
    click.echo(
        diff["unified"]
        if diff["changed"]
        else f"{name}: versions {from_version} and {to_version} are identical."
    )

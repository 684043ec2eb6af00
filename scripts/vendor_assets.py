"""Vendor the Web UI's JavaScript and CSS from the npm registry into the package.

Run by a maintainer when bumping a version; never at install or run time (Contrail needs no network and
no Node build to serve its UI). Each tarball is fetched at a pinned version, checked against the
registry's published sha512 integrity, and the chosen files are written under
src/contrail/server/ui/static/vendor/ with their versions and sha256 recorded in VERSIONS.json
(a test checks the committed files against that record).

    .venv/bin/python scripts/vendor_assets.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import httpx

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parents[1] / "src" / "contrail" / "server" / "ui" / "static" / "vendor"

# package -> (pinned version, {path inside the tarball: file name under vendor/})
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "htmx.org": ("2.0.11", {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"}),
    "uplot": (
        "1.6.32",
        {
            "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
            "package/dist/uPlot.min.css": "uPlot.min.css",
            "package/LICENSE": "uPlot.LICENSE",
        },
    ),
}


def fetch(client: httpx.Client, package: str, version: str) -> bytes:
    """The package tarball, verified against the registry's sha512 integrity."""
    meta = client.get(f"{REGISTRY}/{package}/{version}").raise_for_status().json()
    dist = meta["dist"]
    tarball = client.get(dist["tarball"]).raise_for_status().content
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512" or base64.b64decode(expected) != hashlib.sha512(tarball).digest():
        raise SystemExit(f"{package}@{version}: tarball does not match the registry integrity")
    return tarball


def extract(tarball: bytes, wanted: dict[str, str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[wanted[member.name]] = handle.read()
    missing = set(wanted.values()) - set(found)
    if missing:
        raise SystemExit(f"files missing from the tarball: {sorted(missing)}")
    return found


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    record: dict[str, dict[str, object]] = {}
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for package, (version, wanted) in PACKAGES.items():
            files = extract(fetch(client, package, version), wanted)
            for name, data in files.items():
                (VENDOR / name).write_bytes(data)
            record[package] = {
                "version": version,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
            }
            sys.stdout.write(f"{package}@{version}: {', '.join(sorted(files))}\n")
    (VENDOR / "VERSIONS.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

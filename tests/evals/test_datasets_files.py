"""JSONL and CSV import/export: round trips, per-line errors with nothing applied, size limits."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest

from contrail.evals.dataset_files import ItemsError, csv_lines, jsonl_lines, parse_file
from tests.conftest import LiveContrail

TRICKY = [
    {"id": "u1", "input": "héllo 世界 👋", "expected_output": "ça va", "metadata": {"lang": "fr"}},
    {
        "id": "u2",
        "input": 'line one\nline "two", with comma',
        "expected_output": "a,b\r\nc",
        "metadata": None,
    },
    {
        "id": "u3",
        "input": {"messages": [{"role": "user", "content": 'hi, "you"\n'}]},
        "expected_output": ["x", 1],
    },
    {"id": "u4", "input": "=SUM(A1:A2)", "expected_output": None, "metadata": {"nested": {"a": [1, 2]}}},
]


def _path(name: str, rest: str = "") -> str:
    return f"/api/v1/datasets/{quote(name, safe='')}{rest}"


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _as_sent(row: dict[str, object]) -> dict[str, object]:
    return {
        "id": row["id"],
        "input": row["input"],
        "expected_output": row.get("expected_output"),
        "metadata": row.get("metadata") or {},
    }


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_import_export_round_trip(contrail: LiveContrail, fmt: str) -> None:
    body = _jsonl(TRICKY) if fmt == "jsonl" else "".join(csv_lines(TRICKY)).encode()
    with contrail.client() as client:
        client.post("/api/v1/datasets", json={"name": "round/trip"})
        imported = client.post(_path("round/trip", "/import"), params={"format": fmt}, content=body)
        exported = client.get(_path("round/trip", "/export"), params={"format": fmt})
        items = client.get(_path("round/trip", "/items")).json()["data"]
        # Re-importing the export changes nothing.
        again = client.post(_path("round/trip", "/import"), params={"format": fmt}, content=exported.content)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["created"], imported.json()["version"]) == (4, 1)
    assert [_as_sent(i) for i in items] == [_as_sent(r) for r in TRICKY]
    expected_type = "text/plain" if fmt == "jsonl" else "text/csv"
    assert exported.headers["content-type"].startswith(expected_type)
    assert (again.json()["unchanged"], again.json()["version"]) == (4, 1)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
        assert rows[1]["input"] == TRICKY[1]["input"]
        assert rows[3]["input"] == "=SUM(A1:A2)"


def test_export_an_old_version_streams_every_item(contrail: LiveContrail) -> None:
    rows = [{"id": f"i{n:05d}", "input": f"question {n}", "expected_output": n} for n in range(2500)]
    with contrail.client() as client:
        client.post("/api/v1/datasets", json={"name": "big"})
        client.post(_path("big", "/import"), content=_jsonl(rows))
        client.post(_path("big", "/items"), json={"items": [{"id": "i00007", "input": "edited"}]})
        v1 = client.get(_path("big", "/export"), params={"version": 1}).text.splitlines()
        v2 = client.get(_path("big", "/export")).text.splitlines()
        absurd = client.get(_path("big", "/export"), params={"version": 3})
        bad_format = client.get(_path("big", "/export"), params={"format": "xml"})
    assert len(v1) == len(v2) == 2500
    assert json.loads(v1[7])["input"] == "question 7" and json.loads(v2[7])["input"] == "edited"
    assert [json.loads(line)["id"] for line in v1] == [r["id"] for r in rows]
    assert absurd.status_code == 422 and bad_format.status_code == 422


def test_malformed_jsonl_lists_every_bad_line_and_applies_nothing(contrail: LiveContrail) -> None:
    lines = [
        '{"input": "fine"}',
        "",
        '{"input": "broken"',
        '["not", "an", "object"]',
        '{"expected_output": "no input"}',
        '{"input": 1, "metadata": "not an object"}',
        '{"input": 1, "colour": "red"}',
        '{"input": 1, "id": "dup"}',
        '{"input": 2, "id": "dup"}',
        '{"input": 1, "source_trace_id": "xyz"}',
    ]
    with contrail.client() as client:
        client.post("/api/v1/datasets", json={"name": "strict"})
        response = client.post(_path("strict", "/import"), content="\n".join(lines).encode())
        dataset = client.get(_path("strict")).json()
        items = client.get(_path("strict", "/items")).json()["data"]
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_items"
    assert [d["line"] for d in error["details"]] == [3, 4, 5, 6, 7, 9, 10]
    assert "nothing was imported" in error["message"]
    assert dataset["version"] == 0 and items == []


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (b"question,answer\nx,y\n", 1, "header"),
        (b'input,expected_output\nok,fine\n"unterminated,quote\n', 3, "bad CSV"),
        (b"input,expected_output\nok,fine\nthree,fields,here\n", 3, "3 fields"),
        (b"input,metadata\nok,{not json}\n", 2, "metadata"),
        (b"input\nok\n\xff\xfe broken utf8\n", 3, "UTF-8"),
        (b"", 1, "no items"),
    ],
)
def test_malformed_csv_names_the_line(
    sqlite_contrail: LiveContrail, body: bytes, line: int, fragment: str
) -> None:
    with sqlite_contrail.client() as client:
        client.post("/api/v1/datasets", json={"name": "csv"})
        response = client.post(_path("csv", "/import"), params={"format": "csv"}, content=body)
        items = client.get(_path("csv", "/items")).json()["data"]
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details[0]["line"] == line and fragment in details[0]["message"]
    assert items == []


def test_csv_line_numbers_count_embedded_newlines() -> None:
    body = b'input,expected_output\n"multi\nline\ninput",ok\n"x",y,z\n'
    with pytest.raises(ItemsError) as caught:
        parse_file(body, "csv")
    assert [e.line for e in caught.value.errors] == [5]


def test_huge_files_get_413_and_nothing_is_stored(tmp_path: object) -> None:
    from tests.conftest import start_contrail

    server, live = start_contrail(
        f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "home", max_request_bytes=4096
    )  # type: ignore[operator]
    try:
        with live.client() as client:
            client.post("/api/v1/datasets", json={"name": "big"})
            too_big = client.post(_path("big", "/import"), content=_jsonl([{"input": "x" * 100}] * 100))
            too_big_items = client.post(_path("big", "/items"), json={"items": [{"input": "x" * 100}] * 100})
            items = client.get(_path("big", "/items")).json()["data"]
    finally:
        server.stop()
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    assert too_big_items.status_code == 413
    assert items == []


def test_too_many_items_is_refused_before_parsing_the_rest() -> None:
    from contrail.evals.dataset_files import MAX_ITEMS_PER_REQUEST, TooManyItemsError

    body = b'{"input":1}\n' * (MAX_ITEMS_PER_REQUEST + 1)
    with pytest.raises(TooManyItemsError):
        parse_file(body, "jsonl")


def test_import_into_a_missing_dataset_or_bad_format(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        missing = client.post(_path("nope", "/import"), content=b'{"input": 1}\n')
        client.post("/api/v1/datasets", json={"name": "here"})
        bad_format = client.post(_path("here", "/import"), params={"format": "xlsx"}, content=b"x")
    assert missing.status_code == 404
    assert bad_format.status_code == 422


def test_writers_round_trip_without_a_server() -> None:
    jsonl = "".join(jsonl_lines(TRICKY)).encode()
    csv_text = "".join(csv_lines(TRICKY)).encode()
    for body, fmt in ((jsonl, "jsonl"), (csv_text, "csv")):
        parsed = parse_file(body, fmt)
        assert [(p.id, p.input, p.expected_output, p.metadata) for p in parsed] == [
            (r["id"], r["input"], r.get("expected_output"), r.get("metadata") or None) for r in TRICKY
        ]

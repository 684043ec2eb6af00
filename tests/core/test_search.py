"""Full-text search (`q`) over trace content on both backends: words, underscores, hostile text."""

from __future__ import annotations

import httpx

from tests.conftest import LiveContrail

TRACE = "5" * 32


def _ingest(client: httpx.Client, text: str) -> None:
    event = {
        "id": "e1",
        "type": "observation",
        "body": {
            "trace_id": TRACE,
            "span_id": "5" * 16,
            "name": "lookup",
            "start_us": 1_760_000_000_000_000,
            "input": {"messages": [{"role": "user", "content": text}]},
        },
    }
    assert client.post("/api/v1/ingest", json={"batch": [event]}).status_code == 207


def _found(client: httpx.Client, query: str) -> list[str]:
    response = client.get("/api/v1/traces", params={"q": query})
    assert response.status_code == 200, (query, response.text)
    return [t["trace_id"] for t in response.json()["data"]]


def test_search_matches_words_identifiers_and_accents(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _ingest(client, "Refund for order_id_4711 at the Café Zeppelin, please")
        assert _found(client, "zeppelin") == [TRACE]
        assert _found(client, "café") == [TRACE]
        # Identifiers with underscores: searched as their words, never a phrase-query error.
        assert _found(client, "order_id_4711") == [TRACE]
        assert _found(client, "order_id_9999") == []
        assert _found(client, "refund zeppelin") == [TRACE]  # every word must match
        assert _found(client, "refund dirigible") == []


def test_hostile_queries_are_plain_text(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _ingest(client, "nothing to see")
        for query in ("NEAR(a b)", "a* OR b", "'; DROP TABLE observations; --", "^x", 'x" OR "nothing'):
            assert _found(client, query) == [], query
        # No words at all: no text filter, as with an empty box.
        for query in ('"', "___", "-", "*"):
            assert _found(client, query) == [TRACE], query
        assert _found(client, "nothing") == [TRACE]

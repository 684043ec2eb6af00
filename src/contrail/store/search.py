"""Full-text search over observations: SQLite FTS5 (contentless) or PostgreSQL tsvector + GIN.

The dialect-specific parts live here and nowhere else. User queries are never passed through as
query syntax: they are split into words and each word is matched as a quoted term, so FTS
operators, quotes and SQL in a filter value are plain text.

On SQLite, documents wait in ``search_pending`` (committed with their spans) and enter the FTS5
index in batches of ``INDEX_BATCH_DOCS``: FTS5 writes a new index segment at every commit and merges
segments as they pile up, so indexing the ~300 spans of one commit group cost 32 µs per span at
100k spans against ~20 in batches of thousands (measured in process; docs/benchmarks.md). A search never
misses a waiting document: building a full-text condition first indexes whatever waits
(:func:`catch_up`), and the database upkeep thread does the same every few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import BigInteger, ColumnElement, Connection, Engine, bindparam, column, text
from sqlalchemy.sql.selectable import TextualSelect

from contrail.store.database import executemany, writing

# Letters and digits, as the unicode61 tokenizer splits text: an underscore separates words there, so
# "order_id" must become two terms (a quoted "order_id" would be a phrase query, which the index
# does not support).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TERMS = 16
# Full-text search looks at the newest this-many matching spans (documented with the `q` filter).
MAX_MATCHES = 10_000
# SQLite: documents waiting before the writer moves them into the FTS5 index in its transaction.
INDEX_BATCH_DOCS = 4_096


def query_terms(query: str) -> list[str]:
    """The words of a user's search, lower-cased and bounded in number."""
    return [w.lower() for w in _WORD.findall(query)][:_MAX_TERMS]


def index(connection: Connection, documents: Sequence[tuple[int, str, str]]) -> None:
    """Add ``(observation id, project id, text)`` documents to the index (on SQLite: to the waiting
    documents, which enter the index once a batch has gathered)."""
    if not documents:
        return
    if connection.dialect.name == "sqlite":
        # REPLACE: a span re-sent before its first version was indexed only changes what waits.
        executemany(
            connection,
            "INSERT OR REPLACE INTO search_pending(id, body) VALUES (?, ?)",
            [(i, _project_token(p) + " " + body) for i, p, body in documents],
        )
        # Ids grow with every stored span, so the distance from the oldest waiting one is a
        # free upper bound on how many wait (counting the rows would read them all).
        oldest = connection.exec_driver_sql("SELECT MIN(id) FROM search_pending").scalar_one()
        if max(i for i, _, _ in documents) - oldest + 1 >= INDEX_BATCH_DOCS:
            index_pending(connection)
    else:
        executemany(
            connection,
            "INSERT INTO observation_search(observation_id, project_id, body) "
            "VALUES (?, ?, to_tsvector('simple', ?)) "
            "ON CONFLICT (observation_id) DO UPDATE SET body = excluded.body",
            [(i, p, body.replace("\x00", " ")) for i, p, body in documents],
        )


def unindex(connection: Connection, documents: Sequence[tuple[int, str, str]]) -> None:
    """Remove ``(observation id, project id, text it was indexed with)`` documents before re-indexing."""
    if not documents or connection.dialect.name != "sqlite":
        return  # PostgreSQL overwrites in index()
    ids = [i for i, _, _ in documents]
    # At most a batch waits, so the waiting ids in the documents' range are few: one query, no chunks.
    waiting = set(
        connection.exec_driver_sql(
            "SELECT id FROM search_pending WHERE id BETWEEN ? AND ?", (min(ids), max(ids))
        ).scalars()
    )
    # A contentless FTS5 table forgets a row only when given the exact text it indexed (and must
    # never be told to forget one it does not hold); a waiting document is replaced in index().
    indexed = [(i, p, body) for i, p, body in documents if i not in waiting]
    if indexed:
        connection.execute(
            text("INSERT INTO observations_fts(observations_fts, rowid, body) VALUES ('delete', :id, :body)"),
            [{"id": i, "body": _project_token(p) + " " + body} for i, p, body in indexed],
        )


def index_pending(connection: Connection) -> None:
    """SQLite: move every waiting document into the FTS5 index (in the caller's write transaction)."""
    connection.exec_driver_sql(
        "INSERT INTO observations_fts(rowid, body) SELECT id, body FROM search_pending ORDER BY id"
    )
    connection.exec_driver_sql("DELETE FROM search_pending")


def catch_up(engine: Engine) -> None:
    """Index every document still waiting, so that a search run after this sees every stored span.

    Call it before the reading transaction starts: SQLite readers keep the snapshot of their first
    read. A no-op on PostgreSQL (indexed at write) and when nothing waits (one indexed lookup)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        if connection.exec_driver_sql("SELECT 1 FROM search_pending LIMIT 1").first() is None:
            return
    with writing(engine).begin() as connection:
        index_pending(connection)


def _project_token(project_id: str) -> str:
    """A word only this project's documents contain: SQLite's index is shared, so each query ANDs it
    in and never sees (or is crowded out by) another project's matches."""
    return "ctlp" + project_id.replace("-", "")


def id_in_matches(
    id_column: ColumnElement[int], engine: Engine, project_id: str, terms: list[str]
) -> ColumnElement[bool]:
    """``id_column IN (ids of observations whose text contains every term)``, bound parameters only.

    Indexes waiting documents first (:func:`catch_up`): build the condition before reading."""
    catch_up(engine)
    return id_column.in_(_matching_ids(engine.dialect.name, project_id, terms))


def _matching_ids(dialect: str, project_id: str, terms: list[str]) -> TextualSelect:
    # Newest matches first, at most MAX_MATCHES: a word found in most spans must not make every
    # search read the whole index (ids grow with ingest time, so these are the latest spans).
    if dialect == "sqlite":
        fts_query = " AND ".join(
            '"' + t.replace('"', '""') + '"' for t in [_project_token(project_id), *terms]
        )
        clause = text(
            "SELECT rowid AS id FROM observations_fts WHERE observations_fts MATCH :fts "
            "ORDER BY rowid DESC LIMIT :fts_cap"
        )
        return clause.bindparams(bindparam("fts", fts_query), bindparam("fts_cap", MAX_MATCHES)).columns(
            column("id", BigInteger)
        )
    clause = text(
        "SELECT observation_id AS id FROM observation_search "
        "WHERE project_id = :fts_project AND body @@ plainto_tsquery('simple', :fts) "
        "ORDER BY observation_id DESC LIMIT :fts_cap"
    )
    return clause.bindparams(
        bindparam("fts", " ".join(terms)),
        bindparam("fts_project", project_id),
        bindparam("fts_cap", MAX_MATCHES),
    ).columns(column("id", BigInteger))

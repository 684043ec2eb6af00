"""Full-text search over observations: SQLite FTS5 (contentless) or PostgreSQL tsvector + GIN.

The dialect-specific parts live here and nowhere else. User queries are never passed through as
query syntax: they are split into words and each word is matched as a quoted term, so FTS
operators, quotes and SQL in a filter value are plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import BigInteger, ColumnElement, Connection, bindparam, column, text
from sqlalchemy.sql.selectable import TextualSelect

from contrail.store.database import executemany

# Letters and digits, as the unicode61 tokenizer splits text: an underscore separates words there, so
# "order_id" must become two terms (a quoted "order_id" would be a phrase query, which the index
# does not support).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TERMS = 16
# Full-text search looks at the newest this-many matching spans (documented with the `q` filter).
MAX_MATCHES = 10_000


def query_terms(query: str) -> list[str]:
    """The words of a user's search, lower-cased and bounded in number."""
    return [w.lower() for w in _WORD.findall(query)][:_MAX_TERMS]


def index(connection: Connection, documents: Sequence[tuple[int, str, str]]) -> None:
    """Add ``(observation id, project id, text)`` documents to the index."""
    if not documents:
        return
    if connection.dialect.name == "sqlite":
        executemany(
            connection,
            "INSERT INTO observations_fts(rowid, body) VALUES (?, ?)",
            [(i, _project_token(p) + " " + body) for i, p, body in documents],
        )
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
    # A contentless FTS5 table forgets a row only when given the exact text it indexed.
    connection.execute(
        text("INSERT INTO observations_fts(observations_fts, rowid, body) VALUES ('delete', :id, :body)"),
        [{"id": i, "body": _project_token(p) + " " + body} for i, p, body in documents],
    )


def _project_token(project_id: str) -> str:
    """A word only this project's documents contain: SQLite's index is shared, so each query ANDs it
    in and never sees (or is crowded out by) another project's matches."""
    return "ctlp" + project_id.replace("-", "")


def id_in_matches(
    id_column: ColumnElement[int], dialect: str, project_id: str, terms: list[str]
) -> ColumnElement[bool]:
    """``id_column IN (ids of observations whose text contains every term)``, bound parameters only."""
    return id_column.in_(_matching_ids(dialect, project_id, terms))


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

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

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 16


def query_terms(query: str) -> list[str]:
    """The words of a user's search, lower-cased and bounded in number."""
    return [w.lower() for w in _WORD.findall(query)][:_MAX_TERMS]


def index(connection: Connection, documents: Sequence[tuple[int, str, str]]) -> None:
    """Add ``(observation id, project id, text)`` documents to the index."""
    if not documents:
        return
    if connection.dialect.name == "sqlite":
        connection.execute(
            text("INSERT INTO observations_fts(rowid, body) VALUES (:id, :body)"),
            [{"id": i, "body": body} for i, _, body in documents],
        )
    else:
        connection.execute(
            text(
                "INSERT INTO observation_search(observation_id, project_id, body) "
                "VALUES (:id, :project, to_tsvector('simple', :body)) "
                "ON CONFLICT (observation_id) DO UPDATE SET body = excluded.body"
            ),
            [{"id": i, "project": p, "body": body.replace("\x00", " ")} for i, p, body in documents],
        )


def unindex(connection: Connection, documents: Sequence[tuple[int, str]]) -> None:
    """Remove ``(observation id, text it was indexed with)`` documents before they are re-indexed."""
    if not documents or connection.dialect.name != "sqlite":
        return  # PostgreSQL overwrites in index()
    # A contentless FTS5 table forgets a row only when given the exact text it indexed.
    connection.execute(
        text("INSERT INTO observations_fts(observations_fts, rowid, body) VALUES ('delete', :id, :body)"),
        [{"id": i, "body": body} for i, body in documents],
    )


def id_in_matches(
    id_column: ColumnElement[int], dialect: str, project_id: str, terms: list[str]
) -> ColumnElement[bool]:
    """``id_column IN (ids of observations whose text contains every term)``, bound parameters only."""
    return id_column.in_(_matching_ids(dialect, project_id, terms))


def _matching_ids(dialect: str, project_id: str, terms: list[str]) -> TextualSelect:
    if dialect == "sqlite":
        fts_query = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
        clause = text("SELECT rowid AS id FROM observations_fts WHERE observations_fts MATCH :fts")
        return clause.bindparams(bindparam("fts", fts_query)).columns(column("id", BigInteger))
    clause = text(
        "SELECT observation_id AS id FROM observation_search "
        "WHERE project_id = :fts_project AND body @@ plainto_tsquery('simple', :fts)"
    )
    return clause.bindparams(bindparam("fts", " ".join(terms)), bindparam("fts_project", project_id)).columns(
        column("id", BigInteger)
    )

"""Attribute conventions: which apply to a span, in which order, and the attributes shared by all.

Each convention module exposes ``applies(span) -> bool`` (a few dict probes, no scan) and
``apply(span, obs)``, which maps the attributes/events it knows into ``obs`` and consumes them.
Several conventions may apply to one span. They run from the most generic to the most specific,
and a later one overwrites the fields it sets, so precedence is:

    langfuse > openinference > traceloop > genai > shared attributes

(Langfuse attributes are explicit user intent; OpenInference and Traceloop instrumentors also emit
some ``gen_ai.*`` attributes, and their richer forms should win.) Shared attributes, mapped first:
``user.id``/``enduser.id`` → user, ``session.id`` → session.
"""

from __future__ import annotations

from contrail.ingest.conventions import genai, langfuse, openinference, traceloop
from contrail.ingest.conventions.span import SpanInput
from contrail.ingest.conventions.values import pop_str
from contrail.schema.observation import Observation

__all__ = ["apply_conventions"]

_ORDERED = (genai, traceloop, openinference, langfuse)


def apply_conventions(span: SpanInput, obs: Observation) -> None:
    """Map ``span`` into ``obs`` with every convention that applies (see module docstring)."""
    attrs = span.attributes
    if attrs:
        user_id = pop_str(attrs, "user.id") if "user.id" in attrs else None
        if user_id is None and "enduser.id" in attrs:
            user_id = pop_str(attrs, "enduser.id")
        obs.user_id = user_id
        if "session.id" in attrs:
            obs.session_id = pop_str(attrs, "session.id")
    for convention in _ORDERED:
        if convention.applies(span):
            convention.apply(span, obs)

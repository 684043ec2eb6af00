"""Contrail: open-source LLMOps (tracing, analytics, prompts, evaluations).

The top-level package is the tracing SDK's public surface. Importing it stays light: no server,
database, numeric or pydantic code, and no provider SDK until ``instrument_*()`` is called.
"""

from contrail._version import __version__
from contrail.sdk.current import update_current_span, update_current_trace
from contrail.sdk.instrument import instrument_anthropic, instrument_openai
from contrail.sdk.lifecycle import configure, flush, shutdown
from contrail.sdk.observe import observe
from contrail.sdk.prompts import get_prompt
from contrail.sdk.scope import generation, span
from contrail.sdk.score import score

__all__ = [
    "__version__",
    "configure",
    "flush",
    "generation",
    "get_prompt",
    "instrument_anthropic",
    "instrument_openai",
    "observe",
    "score",
    "shutdown",
    "span",
    "update_current_span",
    "update_current_trace",
]

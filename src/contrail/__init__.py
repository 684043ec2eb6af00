"""Contrail: open-source LLMOps (tracing, analytics, prompts, evaluations)."""

from contrail._version import __version__

__all__ = ["__version__"]

"""Instrumentation of the openai package (placeholder until implemented)."""

from __future__ import annotations


def instrument() -> bool:
    return False

"""Helpers for testing applications instrumented with Contrail (fixtures ship as a pytest plugin)."""

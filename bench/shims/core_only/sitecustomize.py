"""Loaded by ``bench/ingest.py --core-only`` through PYTHONPATH into the server and its writer
process: turns off what issue 7 added to the ingest path (cost calculation, metric and trace
rollups), so the same commit can be measured with and without it. Never used outside the bench."""

from __future__ import annotations

import os

if os.environ.get("CONTRAIL_BENCH_CORE_ONLY") == "1":
    from contrail.store import metric_rollups, trace_rollups

    metric_rollups.apply = lambda *_args, **_kwargs: None
    trace_rollups.apply = lambda *_args, **_kwargs: None
    from contrail.server.api import otlp

    otlp.price_observations = lambda *_args, **_kwargs: None

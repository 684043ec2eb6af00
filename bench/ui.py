"""Web UI speed on 1M spans in 100k traces (SQLite): page render times and time to interactive.

    .venv/bin/python bench/ui.py                   # reuse (or build) bench/query.py's dataset
    .venv/bin/python bench/ui.py --traces 10000    # smaller dataset (cached separately)
    .venv/bin/python bench/ui.py --no-browser      # server times only

Dataset: the one bench/query.py builds (10-observation traces over 30 days, one trace of 2,000
observations), copied to bench/results/ui_dataset_<traces>/ so the UI's first start (which adds the
accounts tables and the first admin) never touches query.py's copy.

Server time: a fresh ``contrail server`` on the copy, signed in as the first admin through /login;
for each page one warm-up request and ``--runs`` timed ones (wall clock of the whole HTTP request on
loopback, so an upper bound of the server's time), p50/p95/max. Goals from the issue: traces page
p95 < 150 ms with and without filters; a 2,000-observation trace < 300 ms.

Browser: Debian's Chromium through Playwright (as the e2e tests), signed in; for the big trace and the
traces page, ``--browser-runs`` navigations each, reading the Navigation Timing entry:
``domInteractive`` and ``domContentLoadedEventEnd`` (deferred scripts run, handlers attached: the page
responds to input from then on) relative to navigation start. Also measured in the page: a click on a
tree row until its panel has been swapped in (htmx), and "Expand all" on 2,000 rows.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query
from _common import RESULTS, ContrailServer, machine_info, print_table, wait_quiet, write_json

GOALS_MS = {"list": 150.0, "detail": 300.0, "other": 300.0}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def ui_copy(args: Any) -> tuple[Path, dict[str, Any]]:
    """query.py's dataset, copied once (checkpointed) to a home of our own."""
    source, meta = query.dataset(args)
    target = RESULTS / f"ui_dataset_{args.traces}"
    stamp = json.dumps(meta, sort_keys=True)
    if (target / "dataset.json").exists() and (target / "dataset.json").read_text() == stamp:
        return target, meta
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with sqlite3.connect(source / "contrail.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy2(source / "contrail.db", target / "contrail.db")
    shutil.copy2(source / "first-run-credentials.json", target / "first-run-credentials.json")
    (target / "dataset.json").write_text(stamp)
    return target, meta


def sign_in(base: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    if token is None:
        raise SystemExit("no sign-in form at /login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token[1]})
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: {response.status_code}")
    return client


def pages(
    meta: dict[str, Any], sample: str, span: str, cursor: str, session: str
) -> list[tuple[str, str, str]]:
    """(group, label, path) of every measured page."""
    model = query._served("gpt-4o")
    big = meta["big_trace_id"]
    return [
        ("list", "traces page, unfiltered", "/traces"),
        ("list", "traces page 2 (keyset cursor)", f"/traces?cursor={cursor}"),
        ("list", "traces: user_id=user-42", "/traces?user_id=user-42"),
        ("list", "traces: tag=vip", "/traces?tag=vip"),
        ("list", "traces: model=gpt-4o, error=true", f"/traces?model={model}&error=true"),
        ("list", "traces: metadata tier=enterprise", "/traces?metadata=tier%3Denterprise"),
        ("list", "traces: min_latency_ms=6000", "/traces?min_latency_ms=6000"),
        ("list", "traces: last 24h, sort=cost", "/traces?range=24h&sort=cost"),
        ("list", f"traces: q={query.RARE_WORD}", f"/traces?q={query.RARE_WORD}"),
        ("list", "traces: live-tail poll (htmx fragment)", "/traces?live=1"),
        ("detail", f"trace page: {query.BIG_TRACE_SPANS:,} observations", f"/traces/{big}"),
        ("detail", "trace page: 10 observations", f"/traces/{sample}"),
        ("other", "observation panel (htmx fragment)", f"/traces/{sample}/observations/{span}"),
        (
            "other",
            "observations: generation, gpt-4o, errored",
            f"/observations?type=generation&model={model}&error=true",
        ),
        ("other", "sessions page", "/sessions"),
        ("other", "session replay", f"/sessions/{session}"),
        ("other", "users page", "/users"),
    ]


def measure(client: httpx.Client, path: str, runs: int) -> dict[str, Any]:
    headers = {"HX-Request": "true"} if "/observations/" in path else {}
    if "live=1" in path:
        headers = {"HX-Request": "true", "HX-Target": "trace-results"}
    times = []
    size = 0
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        size = len(response.content)
    timed = sorted(times[1:])
    return {
        "first_ms": round(times[0], 1),
        "p50_ms": round(statistics.median(timed), 1),
        "p95_ms": round(timed[max(0, math.ceil(0.95 * len(timed)) - 1)], 1),
        "max_ms": round(timed[-1], 1),
        "html_kb": round(size / 1024, 1),
    }


NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {dom_interactive_ms: n.domInteractive, dom_content_loaded_ms: n.domContentLoadedEventEnd,
          load_ms: n.loadEventEnd, response_end_ms: n.responseEnd};
}"""
CLICK_TO_PANEL = """async (span) => {
  const row = document.querySelector(`#tree .row[data-span="${span}"] a`);
  const t0 = performance.now();
  const swapped = new Promise((resolve) => {
    document.body.addEventListener("htmx:afterSettle", () => resolve(performance.now() - t0), {once: true});
  });
  row.click();
  return await swapped;
}"""
EXPAND_ALL = """() => {
  const t0 = performance.now();
  document.querySelector('[data-tree="expand"]').click();
  document.body.getBoundingClientRect();  // force the layout the change causes
  return performance.now() - t0;
}"""


def browser_times(base: str, email: str, password: str, big: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', password)
        page.click('button[type="submit"]')
        page.wait_for_url(re.compile(r"/traces"))
        for label, path in (
            ("traces page", "/traces"),
            (f"trace page, {query.BIG_TRACE_SPANS:,} obs", f"/traces/{big}"),
        ):
            samples = []
            for _ in range(runs + 1):
                page.goto(base + path, wait_until="load")
                samples.append(page.evaluate(NAVIGATION))
            out[label] = {key: round(statistics.median(s[key] for s in samples[1:]), 1) for key in samples[0]}
        spans = page.eval_on_selector_all("#tree .row", "rows => rows.map(r => r.dataset.span)")
        clicks = [page.evaluate(CLICK_TO_PANEL, spans[len(spans) // 2 + i]) for i in range(runs)]
        out["click row to panel swapped (htmx), ms"] = round(statistics.median(clicks), 1)
        out["expand all 2,000 rows, ms"] = round(page.evaluate(EXPAND_ALL), 1)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000, help="10-observation traces in the dataset")
    ap.add_argument("--runs", type=int, default=20, help="timed requests per page (after one warm-up)")
    ap.add_argument("--browser-runs", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--rebuild", action="store_true", help="rebuild query.py's cached dataset")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    info = machine_info()
    print(f"machine: {info}", flush=True)
    home, meta = ui_copy(args)
    server = ContrailServer(home).start()
    try:
        creds = json.loads((home / "first-run-credentials.json").read_text())
        email, password = creds["admin_email"], creds["admin_password"]
        with server.client() as api:
            first = api.get("/api/v1/traces", params={"limit": 50}).raise_for_status().json()
            sample = next(t for t in first["data"] if t["observation_count"] == 10)
            session = api.get("/api/v1/sessions", params={"limit": 1}).raise_for_status().json()["data"][0]
        wait_quiet()
        results = []
        client = sign_in(server.base, email, password)
        try:
            for group, label, path in pages(
                meta, sample["trace_id"], sample["root_span_id"], first["next_cursor"], session["session_id"]
            ):
                stats = measure(client, path, args.runs)
                stats.update(group=group, page=label, path=path, goal_ms=GOALS_MS[group])
                stats["meets_goal"] = stats["p95_ms"] < stats["goal_ms"]
                results.append(stats)
                print(f"  {label}: p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms", flush=True)
        finally:
            client.close()
        browser = (
            {}
            if args.no_browser
            else browser_times(server.base, email, password, meta["big_trace_id"], args.browser_runs)
        )
    finally:
        server.stop()
    print(f"\ndataset: {meta['observations']:,} observations in {meta['traces']:,} traces (SQLite)")
    print_table(
        ["page", "p50 ms", "p95 ms", "max ms", "first ms", "HTML KB", "goal p95", "met"],
        [
            [
                r["page"],
                r["p50_ms"],
                r["p95_ms"],
                r["max_ms"],
                r["first_ms"],
                r["html_kb"],
                f"< {r['goal_ms']:.0f}",
                "yes" if r["meets_goal"] else "NO",
            ]
            for r in results
        ],
    )
    if browser:
        print()
        print_table(["in Chromium", "value"], [[k, json.dumps(v)] for k, v in browser.items()])
    payload = {"machine": info, "dataset": meta, "runs": args.runs, "pages": results, "browser": browser}
    write_json(args.out or RESULTS / f"ui_{time.strftime('%Y%m%dT%H%M%S')}.json", payload)


if __name__ == "__main__":
    main()

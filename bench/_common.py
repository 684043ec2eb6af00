"""Shared helpers for the bench scripts: a Contrail server subprocess, machine load, RSS, output.

Method (same as /work/shared/peers): every measurement records how busy the whole machine was
(``/proc/stat``) and waits, bounded, for it to be quiet first; each scenario runs against a fresh
``contrail server`` process on a free 127.0.0.1 port with its own CONTRAIL_HOME; server RSS and CPU
are summed over the process tree with psutil; every process started here is stopped by its PID
(SIGTERM, then SIGKILL) in a ``finally:``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
VENV_BIN = Path(sys.executable).parent
_TICK = os.sysconf("SC_CLK_TCK")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- machine load -------------------------------------------------------------------------------


def sys_cpu_seconds() -> float:
    """Busy CPU-seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


def busy_cores(interval: float = 1.0) -> float:
    start, t0 = sys_cpu_seconds(), time.monotonic()
    time.sleep(interval)
    return (sys_cpu_seconds() - start) / (time.monotonic() - t0)


def wait_quiet(threshold_cores: float = 0.3, max_wait_s: float = 120.0) -> float:
    """Wait (bounded) until the machine burns < ``threshold_cores``; returns the last reading."""
    deadline = time.monotonic() + max_wait_s
    busy = busy_cores()
    while busy > threshold_cores and time.monotonic() < deadline:
        print(f"[wait_quiet] machine busy ({busy:.2f} cores), waiting...", flush=True)
        time.sleep(4.0)
        busy = busy_cores()
    return busy


class CpuWindow:
    """CPU used by the machine, this process and a server tree between ``__init__`` and ``close``."""

    def __init__(self, server: psutil.Process | None = None) -> None:
        self.server = server
        self._machine = sys_cpu_seconds()
        self._own = time.process_time()
        self._server = tree_cpu(server) if server else 0.0
        self._server_sys = tree_cpu(server, system_only=True) if server else 0.0
        self._children = tree_cpu(server, children_only=True) if server else 0.0
        self._t0 = time.monotonic()
        self.result: dict[str, float] = {}

    def close(self, extra_cpu_s: float = 0.0) -> dict[str, float]:
        """``extra_cpu_s``: CPU of helper processes to count as ours (e.g. PostgreSQL backends)."""
        wall = time.monotonic() - self._t0
        machine = sys_cpu_seconds() - self._machine
        own = time.process_time() - self._own
        server = (tree_cpu(self.server) if self.server else 0.0) - self._server
        server_sys = (tree_cpu(self.server, system_only=True) if self.server else 0.0) - self._server_sys
        children = (tree_cpu(self.server, children_only=True) if self.server else 0.0) - self._children
        self.result = {
            "wall_s": round(wall, 2),
            "server_cpu_s": round(server, 2),
            "server_sys_cpu_s": round(server_sys, 2),
            "server_children_cpu_s": round(children, 2),  # Contrail: the writer process
            "client_cpu_s": round(own, 2),
            "machine_cpu_s": round(machine, 2),
            "machine_busy_cores": round(machine / wall, 2) if wall else 0.0,
            "other_procs_cpu_s": round(machine - server - own - extra_cpu_s, 2),
        }
        return self.result


def timeit_reference() -> float:
    """µs per loop of ``sum(range(1000))`` (the peers' CPU-speed reference, 12 µs on this machine)."""
    import timeit

    best = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000
    return round(best * 1e6, 2)


def machine_info() -> dict[str, Any]:
    """Versions, commit and the CPU-speed reference, taken after waiting for a quiet machine."""
    busy = wait_quiet()
    return {
        "busy_cores_at_reference": round(busy, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "timeit_sum_range_1000_us": timeit_reference(),
        "git_commit": git_commit(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() + ("+dirty-src" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# --- process tree RSS / CPU -----------------------------------------------------------------------


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in _tree(proc):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def tree_cpu(proc: psutil.Process, system_only: bool = False, children_only: bool = False) -> float:
    """CPU-s (user+system, or system only) of a process and its children (or its children alone)."""
    total = 0.0
    for p in _tree(proc)[1 if children_only else 0 :]:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.system + (0.0 if system_only else times.user)
    return total


class RssSampler(threading.Thread):
    """Samples the RSS of a process tree every ``period`` s until stopped (bounded by ``max_s``)."""

    def __init__(self, proc: psutil.Process, period: float = 0.2, max_s: float = 3600.0) -> None:
        super().__init__(daemon=True)
        self.proc, self.period, self.max_s = proc, period, max_s
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.max_s
        while not self._stop_event.is_set() and time.monotonic() < deadline:
            self.peak = max(self.peak, tree_rss(self.proc))
            self._stop_event.wait(self.period)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(5)
        return self.peak


def mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


# --- the Contrail server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ContrailServer:
    """``contrail server`` in its own session, with its own CONTRAIL_HOME (and database URL)."""

    def __init__(
        self, home: Path, database_url: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.home = home
        self.database_url = database_url
        self.extra_env = env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.secret = ""
        self.public = ""

    @property
    def ps(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    @property
    def db_path(self) -> Path:
        return self.home / "contrail.db"

    def start(self, timeout_s: float = 60.0) -> ContrailServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CONTRAIL_HOME=str(self.home), CONTRAIL_LOG_LEVEL="WARNING", **self.extra_env)
        env.pop("CONTRAIL_DATABASE_URL", None)
        if self.database_url:
            env["CONTRAIL_DATABASE_URL"] = self.database_url
        log = open(self.home / f"server-{self.port}.log", "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "contrail"), "server", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        creds = json.loads((self.home / "first-run-credentials.json").read_text())
        self.secret, self.public = creds["secret_key"], creds["public_key"]
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"contrail server exited rc={self.proc.returncode}; see {self.home}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"contrail server not ready after {timeout_s} s")

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.secret}"}, timeout=timeout
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def sqlite_files_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def checkpoint_sqlite(db: Path) -> int:
    """Fold the WAL into the database (server stopped) and return db+wal+shm bytes."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sqlite_files_bytes(db)


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_available() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return True
    return False


@contextlib.contextmanager
def throwaway_postgres_db(name: str) -> Iterator[str]:
    """Create database ``name`` (dropping a leftover), yield its SQLAlchemy URL, drop it afterwards."""
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(sql)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_query(name: str, sql: str) -> Any:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as connection:
        cursor = connection.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def postgres_backends_cpu(name: str) -> float:
    """CPU-s used so far by the PostgreSQL backends connected to database ``name``."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        pids = [
            r[0] for r in connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        ]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


# --- output ---------------------------------------------------------------------------------------


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Print (and return) a markdown table."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"raw results: {path}", flush=True)


# --- synthetic text -------------------------------------------------------------------------------

_COMMON_WORDS = str.split(
    "the model answer question context retrieval token latency prompt system user assistant vector "
    "database query document summary evaluate trace span agent tool call function json output input "
    "reasoning step plan observe result error retry cache embedding chunk rank a of to and in is for "
    "on with that this it as be are from by at or an was have not will can please customer order "
    "refund account invoice shipping policy product price support ticket issue help thanks"
)


class TextGen:
    """Random English-like text over a Zipf-ish vocabulary (common words plus 3,000 rarer ones)."""

    def __init__(self, rng: Any) -> None:
        import random

        self.rng: random.Random = rng
        letters = "abcdefghijklmnopqrstuvwxyz"
        rare = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(3000)]
        self.words = _COMMON_WORDS + rare
        weights = [8.0] * len(_COMMON_WORDS) + [1.0 / (1 + i / 50) for i in range(len(rare))]
        total, acc = 0.0, []
        for w in weights:
            total += w
            acc.append(total)
        self.cum = acc

    def text(self, n_chars: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cum, k=n_chars // 5)
        return " ".join(words)[:n_chars]


# --- profiling ------------------------------------------------------------------------------------


class PySpy:
    """``py-spy record`` on a process tree while a block runs; ``summary()`` gives the hot frames."""

    def __init__(self, pid: int, out: Path, rate: int = 67) -> None:
        self.out = out
        exe = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
        cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--subprocesses", "--nonblocking"]
        self.cmd = [*cmd, "--format", "raw", "--output", str(out)]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # attach before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def summary(self, top: int = 20) -> dict[str, list[tuple[str, float]]]:
        """Top frames by self and by inclusive share of samples (percent)."""
        if not self.out.exists():
            return {}
        own: dict[str, int] = {}
        incl: dict[str, int] = {}
        total = 0
        for line in self.out.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += count
            own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                incl[frame] = incl.get(frame, 0) + count

        def best(counts: dict[str, int]) -> list[tuple[str, float]]:
            ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
            return [(name, round(100 * c / max(total, 1), 1)) for name, c in ranked]

        return {"samples": [("total", float(total))], "self": best(own), "inclusive": best(incl)}

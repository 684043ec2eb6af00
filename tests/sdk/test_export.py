"""The background exporter against a real HTTP server: delivery, retries, hangs, refusals, fork, exit."""

import gzip
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import contrail
from contrail.sdk import tracer as _tracer
from contrail.sdk.transport import _retry_after

FAST = {"flush_interval": 0.05, "retry_base_delay": 0.01, "timeout": 2.0}


@contrail.observe
def handle(text):
    return text[::-1]


def exporter():
    return _tracer.STATE.exporter


def test_spans_and_scores_arrive_with_basic_auth_and_config(ingest_server):
    contrail.configure(
        host=ingest_server.url,
        public_key="pk-1",
        secret_key="sk-1",
        environment="prod",
        release="1.2",
        **FAST,
    )
    handle("hello")
    contrail.score("quality", 0.9, trace_id="a" * 32)
    assert contrail.flush(5)
    rec = ingest_server.recorder
    (obs,) = rec.observations()
    assert obs["name"] == "handle" and obs["output"] == "olleh"
    assert obs["environment"] == "prod" and obs["release"] == "1.2"
    assert rec.scores()[0]["value"] == 0.9
    auth = rec.requests[0]["headers"]["Authorization"]
    assert auth == "Basic cGstMTpzay0x"  # base64("pk-1:sk-1")
    assert rec.requests[0]["path"] == "/api/v1/ingest"


def test_secret_key_alone_is_a_bearer_token_and_loopback_is_not_gzipped(ingest_server):
    contrail.configure(host=ingest_server.url, secret_key="sk-lone", **FAST)
    handle("x" * 5_000)
    assert contrail.flush(5)
    request = ingest_server.recorder.requests[0]
    assert request["headers"]["Authorization"] == "Bearer sk-lone"
    assert "Content-Encoding" not in request["headers"]


def test_remote_hosts_get_gzip_bodies_the_server_accepts(ingest_server):
    import threading

    from contrail.sdk.config import resolve
    from contrail.sdk.encoding import Encoder
    from contrail.sdk.transport import Outcome, Transport

    remote = Encoder(resolve({"host": "https://contrail.example.com"}))
    data = remote.body([{"id": "e1", "type": "observation", "body": {"name": "x" * 5_000}}])
    payload, compressed = remote.compress(data)
    assert compressed and payload[:2] == b"\x1f\x8b" and gzip.decompress(payload) == data
    transport = Transport(resolve({"host": ingest_server.url}), threading.Event())
    assert transport.send(payload, compressed) is Outcome.SENT
    transport.close()
    request = ingest_server.recorder.requests[0]
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert request["body"]["batch"][0]["body"]["name"] == "x" * 5_000


def test_batches_are_bounded_by_batch_size(ingest_server):
    contrail.configure(host=ingest_server.url, batch_size=10, **FAST)
    for i in range(35):
        handle(str(i))
    assert contrail.flush(5)
    sizes = [len(r["body"]["batch"]) for r in ingest_server.recorder.requests]
    assert sum(sizes) == 35 and max(sizes) <= 10


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retried_until_accepted(ingest_server, status):
    rec = ingest_server.recorder
    rec.status, rec.fail_next, rec.retry_after = status, 2, "0"
    contrail.configure(host=ingest_server.url, **FAST)
    handle("retry me")
    assert contrail.flush(10)
    assert [o["input"] for o in rec.observations()] == [{"text": "retry me"}]
    assert rec.fail_next == 0  # both failures were consumed by retries
    assert exporter().dropped == 0


def test_retry_after_header_is_honoured_and_capped():
    assert _retry_after("2") == 2.0
    assert _retry_after("100000") == 30.0
    assert _retry_after(None) == 0.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 1.0


def test_hanging_server_never_blocks_the_app_and_memory_stays_bounded(ingest_server):
    rec = ingest_server.recorder
    rec.hang.set()
    contrail.configure(host=ingest_server.url, max_queue=50, batch_size=10, **FAST)
    handle("first")
    assert contrail.flush(0.05) is False  # the export thread is stuck on the hanging server...
    assert rec.hanging.wait(5)
    results = [handle(str(i)) for i in range(500)]  # ...yet every call returns at once
    assert results == [str(i)[::-1] for i in range(500)]
    assert not rec.release.is_set()  # the server has still not answered anything
    assert exporter().queued <= 50
    assert exporter().dropped >= 450


def test_no_server_at_all_drops_with_counter(closed_port, caplog):
    contrail.configure(host=f"http://127.0.0.1:{closed_port}", max_retries=1, **FAST)
    assert [handle(str(i)) for i in range(20)] == [str(i)[::-1] for i in range(20)]
    assert contrail.flush(10)
    assert exporter().dropped == 20
    assert caplog.text.count("Cannot reach") == 1  # one warning, then silence


def test_rejected_keys_warn_once_and_drop(ingest_server, caplog):
    rec = ingest_server.recorder
    rec.status, rec.fail_next = 401, 10
    contrail.configure(host=ingest_server.url, secret_key="sk-wrong", batch_size=1, **FAST)
    handle("a")
    handle("b")
    assert contrail.flush(5)
    assert exporter().dropped == 2
    assert caplog.text.count("rejected the API keys (401)") == 1
    assert "sk-wrong" not in caplog.text


def test_a_bad_host_url_warns_clearly(caplog):
    with caplog.at_level(logging.WARNING, logger="contrail"):
        contrail.configure(host="localhost:8000", max_retries=0, **FAST)
    assert "not an http(s) URL" in caplog.text
    handle("x")
    assert contrail.flush(5)
    assert exporter().dropped == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_own_queue_and_thread(ingest_server):
    contrail.configure(host=ingest_server.url, **FAST)
    handle("parent")
    pid = os.fork()
    if pid == 0:  # child: must export through a fresh thread, without the parent's queued span
        try:
            ok = exporter().queued == 0
            handle("child")
            ok = ok and contrail.flush(5)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert contrail.flush(5)
    ingest_server.recorder.wait_for(2)
    names = sorted(o["input"]["text"] for o in ingest_server.recorder.observations())
    assert names == ["child", "parent"]


def test_spans_are_flushed_at_interpreter_exit(ingest_server):
    script = textwrap.dedent(
        f"""
        import contrail
        contrail.configure(host={ingest_server.url!r}, flush_interval=60)
        @contrail.observe
        def job(n):
            return n
        for i in range(3):
            job(i)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert sorted(o["output"] for o in ingest_server.recorder.observations()) == [0, 1, 2]


def test_multiprocessing_spawn_workers_export_from_env(ingest_server, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("CONTRAIL_HOST", ingest_server.url)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        assert pool.map(_worker, [1, 2]) == [1, 2]
    events = ingest_server.recorder.wait_for(2)
    assert sorted(e["body"]["output"] for e in events) == [1, 2]


def _worker(n):
    result = handle_number(n)
    contrail.flush(5)
    return result


@contrail.observe
def handle_number(n):
    return n


def test_request_body_is_valid_wire_json(ingest_server):
    from contrail.schema.wire import ObservationEvent

    contrail.configure(host=ingest_server.url, **FAST)
    handle("wire")
    assert contrail.flush(5)
    (event,) = ingest_server.recorder.events
    parsed = ObservationEvent.model_validate(event)
    assert parsed.body.name == "handle"
    assert json.loads(gzip.decompress(gzip.compress(json.dumps(event).encode()))) == event


def test_exit_is_not_held_up_by_a_hanging_server(ingest_server):
    rec = ingest_server.recorder
    rec.hang.set()
    script = textwrap.dedent(
        f"""
        import contrail
        contrail.configure(host={ingest_server.url!r}, flush_interval=0.01, shutdown_timeout=0.5)
        contrail.observe(lambda: 1)()
        contrail.flush(0.05)
        print("done", flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stdout == "done\n"
    assert rec.hanging.is_set() and not rec.release.is_set()  # the server never answered


def test_many_threads_emit_concurrently_without_loss(ingest_server):
    import threading

    contrail.configure(host=ingest_server.url, batch_size=64, **FAST)

    @contrail.observe
    def worker(n):
        return [handle(f"{n}-{i}") for i in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert contrail.flush(10)
    observations = ingest_server.recorder.observations()
    roots = {o["span_id"]: o for o in observations if o["name"] == "worker"}
    children = [o for o in observations if o["name"] == "handle"]
    assert len(roots) == 8 and len(children) == 400
    assert all(c["parent_span_id"] in roots for c in children)
    assert exporter().dropped == 0


async def test_asyncio_app_keeps_running_while_the_server_hangs(ingest_server):
    import asyncio

    rec = ingest_server.recorder
    rec.hang.set()
    contrail.configure(host=ingest_server.url, max_queue=100, batch_size=10, **FAST)

    @contrail.observe
    async def request(i):
        await asyncio.sleep(0)
        return i

    first = await request(-1)
    assert contrail.flush(0.05) is False and rec.hanging.wait(5)
    results = await asyncio.gather(*(request(i) for i in range(300)))
    assert first == -1 and results == list(range(300))
    assert not rec.release.is_set()
    assert exporter().queued <= 100 and exporter().dropped >= 200

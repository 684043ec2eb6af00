"""Parent links across asyncio tasks, threads (wrap / ContextThreadPoolExecutor) and OTel."""

import asyncio
import threading

import contrail
from contrail.sdk.context import ContextThreadPoolExecutor, current_span, current_trace_id, wrap
from contrail.testing.sdk import capture


@contrail.observe
def leaf(i):
    return i


async def test_asyncio_tasks_nest_under_the_creating_span():
    @contrail.observe
    async def work(i):
        await asyncio.sleep(0)
        return leaf(i)

    @contrail.observe
    async def fan_out():
        return await asyncio.gather(*(asyncio.create_task(work(i)) for i in range(3)))

    with capture() as traced:
        assert await fan_out() == [0, 1, 2]
    root = traced.one(name="fan_out")
    works = traced.children(root)
    assert len(works) == 3
    for w in works:
        assert [leaf_span["name"] for leaf_span in traced.children(w)] == ["leaf"]


def test_plain_threads_start_new_traces_but_wrap_links_them():
    results = {}

    @contrail.observe
    def parent():
        plain = threading.Thread(target=lambda: results.setdefault("plain", leaf(1)))
        wrapped = threading.Thread(target=wrap(lambda: results.setdefault("wrapped", leaf(2))))
        plain.start(), wrapped.start()
        plain.join(), wrapped.join()

    with capture() as traced:
        parent()
    root = traced.one(name="parent")
    linked = traced.find(name="leaf", parent_span_id=root["span_id"])
    assert [s["input"] for s in linked] == [{"i": 2}]
    orphan = traced.one(name="leaf", input={"i": 1})
    assert orphan["trace_id"] != root["trace_id"]


def test_context_thread_pool_executor_propagates():
    @contrail.observe
    def parent():
        with ContextThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(leaf, range(4)))

    with capture() as traced:
        assert parent() == [0, 1, 2, 3]
    root = traced.one(name="parent")
    assert len(traced.find(name="leaf", parent_span_id=root["span_id"])) == 4


def test_wrapped_callable_can_run_concurrently():
    barrier = threading.Barrier(2)

    @contrail.observe
    def parent():
        fn = wrap(lambda: (barrier.wait(5), leaf(0)))
        threads = [threading.Thread(target=fn) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]

    with capture() as traced:
        parent()
    root = traced.one(name="parent")
    assert len(traced.find(name="leaf", parent_span_id=root["span_id"])) == 2


def test_current_span_helpers():
    seen = {}

    @contrail.observe
    def f():
        seen["span"] = current_span()
        seen["trace"] = current_trace_id()

    with capture() as traced:
        f()
        assert current_span() is None
    assert seen["span"].span_id == traced.one(name="f")["span_id"]
    assert seen["trace"] == traced.one(name="f")["trace_id"]


def test_root_span_joins_active_opentelemetry_trace():
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()  # local provider: the global one is never touched
    otel_tracer = provider.get_tracer("test")
    with capture() as traced, otel_tracer.start_as_current_span("http request") as otel_span:
        leaf(1)
        ctx = otel_span.get_span_context()
    span = traced.one(name="leaf")
    assert span["trace_id"] == f"{ctx.trace_id:032x}"
    assert span["parent_span_id"] == f"{ctx.span_id:016x}"

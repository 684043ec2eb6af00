"""@observe on every kind of callable, span()/generation() blocks, updates and scores."""

import asyncio

import pytest

import contrail
from contrail.testing.sdk import START_US, capture


def test_sync_function_records_inputs_output_and_times():
    @contrail.observe
    def add(a, b=2, *rest, **extra):
        return a + b

    with capture() as traced:
        assert add(1, 5, 7, flag=True) == 6
    span = traced.one(name="add")
    assert span["input"] == {"a": 1, "b": 5, "rest": [7], "flag": True}
    assert span["output"] == 6
    assert span["status"] == "ok"
    assert span["type"] == "span"
    assert span["start_us"] == START_US and span["end_us"] > span["start_us"]
    assert len(span["trace_id"]) == 32 and len(span["span_id"]) == 16
    assert "parent_span_id" not in span


def test_nested_calls_share_trace_and_link_parents():
    @contrail.observe(name="inner", as_type="generation")
    def inner(x):
        return x * 2

    @contrail.observe()
    def outer(x):
        return inner(x) + inner(x + 1)

    with capture() as traced:
        assert outer(1) == 6
    root = traced.one(name="outer")
    kids = traced.children(root)
    assert [k["type"] for k in kids] == ["generation", "generation"]
    assert {k["trace_id"] for k in kids} == {root["trace_id"]}


def test_method_inputs_skip_self():
    class Bot:
        @contrail.observe
        def reply(self, text):
            return text.upper()

    with capture() as traced:
        Bot().reply("hi")
    assert traced.one(name="reply")["input"] == {"text": "hi"}


def test_exception_is_recorded_and_reraised_unchanged():
    class Boom(Exception):
        pass

    error = Boom("bad input")

    @contrail.observe
    def explode():
        raise error

    with capture() as traced, pytest.raises(Boom) as raised:
        explode()
    assert raised.value is error
    span = traced.one(name="explode")
    assert span["status"] == "error" and span["level"] == "error"
    assert span["status_message"] == "Boom: bad input"
    assert span["metadata"]["error.type"].endswith("Boom")


async def test_async_function_parity():
    @contrail.observe
    async def fetch(q):
        await asyncio.sleep(0)
        return {"q": q}

    with capture() as traced:
        assert await fetch("x") == {"q": "x"}
    span = traced.one(name="fetch")
    assert span["input"] == {"q": "x"} and span["output"] == {"q": "x"} and span["status"] == "ok"


async def test_async_exception_parity():
    @contrail.observe
    async def fail():
        raise ValueError("nope")

    with capture() as traced, pytest.raises(ValueError, match="nope"):
        await fail()
    assert traced.one(name="fail")["status_message"] == "ValueError: nope"


def test_generator_output_joined_and_children_nest():
    @contrail.observe
    def child(i):
        return i

    @contrail.observe
    def tokens(n):
        for i in range(n):
            child(i)
            yield f"t{i} "

    with capture() as traced:
        assert list(tokens(3)) == ["t0 ", "t1 ", "t2 "]
    gen = traced.one(name="tokens")
    assert gen["output"] == "t0 t1 t2 "
    assert len(traced.children(gen)) == 3


def test_generator_closed_early_still_ends_span():
    @contrail.observe
    def numbers():
        yield from range(100)

    with capture() as traced:
        it = numbers()
        assert next(it) == 0 and next(it) == 1
        it.close()
    assert traced.one(name="numbers")["output"] == [0, 1]


def test_generator_send_and_throw_are_delegated():
    @contrail.observe
    def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except KeyError:
            yield received

    with capture() as traced:
        it = echo()
        assert next(it) == 0
        assert it.send("a") == 1
        assert it.throw(KeyError("stop")) == ["a"]
        it.close()
    assert traced.one(name="echo")["status"] == "ok"


async def test_async_generator_parity():
    @contrail.observe
    async def child():
        return "c"

    @contrail.observe(capture_input=False)
    async def stream(n):
        for i in range(n):
            await child()
            yield i

    with capture() as traced:
        assert [i async for i in stream(2)] == [0, 1]
    span = traced.one(name="stream")
    assert span["output"] == [0, 1] and "input" not in span
    assert len(traced.children(span)) == 2


async def test_async_generator_error_recorded():
    @contrail.observe
    async def broken():
        yield 1
        raise RuntimeError("mid-stream")

    with capture() as traced, pytest.raises(RuntimeError):
        async for _ in broken():
            pass
    assert traced.one(name="broken")["status"] == "error"


def test_capture_switches_per_function_and_global():
    @contrail.observe(capture_input=False, capture_output=False)
    def private(secret):
        return secret

    @contrail.observe
    def public(x):
        return x

    with capture() as traced:
        private("s")
    assert {"input", "output"}.isdisjoint(traced.one(name="private"))
    with capture(capture=False) as traced:
        public("p")
    assert {"input", "output"}.isdisjoint(traced.one(name="public"))


def test_span_and_generation_blocks():
    with capture() as traced, contrail.span("retrieve", type="retriever", input="q") as s:
        s.update(output=["doc"], metadata={"k": 3})
        with contrail.generation("llm", model="gpt-4o-mini", input=[{"role": "user"}]) as g:
            g.update(output="answer", usage={"prompt_tokens": 10, "completion_tokens": 5})
    ret = traced.one(name="retrieve")
    gen = traced.one(name="llm")
    assert ret["type"] == "retriever" and ret["output"] == ["doc"] and ret["metadata"] == {"k": 3}
    assert gen["parent_span_id"] == ret["span_id"]
    assert gen["model_requested"] == "gpt-4o-mini"
    assert gen["usage"] == {"input_tokens": 10, "output_tokens": 5}


async def test_async_span_block_records_error():
    with capture() as traced, pytest.raises(KeyError):
        async with contrail.span("step"):
            raise KeyError("k")
    assert traced.one(name="step")["status"] == "error"


def test_update_current_trace_and_inheritance():
    @contrail.observe
    def child():
        contrail.update_current_span(metadata={"child": True}, level="warning")

    @contrail.observe
    def handler():
        contrail.update_current_trace(
            user_id="u1", session_id="s1", tags=["beta"], name="chat", metadata={"plan": "pro"}
        )
        child()

    with capture() as traced:
        handler()
    root, kid = traced.one(name="handler"), traced.one(name="child")
    assert root["user_id"] == "u1" and root["session_id"] == "s1"
    assert root["trace"] == {"name": "chat", "tags": ["beta"], "metadata": {"plan": "pro"}}
    assert kid["user_id"] == "u1" and kid["session_id"] == "s1"
    assert kid["metadata"] == {"child": True} and kid["level"] == "warning"


def test_updates_outside_a_trace_are_noops():
    with capture() as traced:
        contrail.update_current_span(output="x")
        contrail.update_current_trace(user_id="u")
    assert traced.observations == []


def test_score_attaches_to_current_trace():
    @contrail.observe
    def answer():
        contrail.score("helpful", True, comment="ok")
        return "a"

    with capture() as traced:
        answer()
        sid = contrail.score("accuracy", 0.5, trace_id="f" * 32)
    first, second = traced.scores
    assert first["trace_id"] == traced.one(name="answer")["trace_id"]
    assert first["data_type"] == "BOOLEAN" and first["value"] is True
    assert second == {**second, "id": sid, "data_type": "NUMERIC", "value": 0.5}


def test_disabled_tracing_is_passthrough():
    @contrail.observe
    def f(x):
        return x + 1

    with capture(enabled=False) as traced:
        assert f(1) == 2
        with contrail.span("s") as s:
            s.update(output="ignored")
    assert traced.observations == []


def test_sampling_zero_drops_whole_traces():
    @contrail.observe
    def inner():
        return 1

    @contrail.observe
    def outer():
        return inner()

    with capture(sample_rate=0.0) as traced:
        outer()
        contrail.score("s", 1)
    assert traced.observations == [] and traced.scores == []


def test_unknown_type_falls_back_to_span(caplog):
    @contrail.observe(as_type="bogus")
    def f():
        return 1

    with capture() as traced:
        f()
    assert traced.one(name="f")["type"] == "span"
    assert "Unknown observation type 'bogus'" in caplog.text


def test_observe_above_classmethod_and_staticmethod():
    class Tools:
        @contrail.observe
        @classmethod
        def build(cls, x):
            return x + 1

        @contrail.observe
        @staticmethod
        def pure(x):
            return x * 2

    with capture() as traced:
        assert Tools.build(1) == 2 and Tools.pure(2) == 4
    assert traced.one(name="build")["input"] == {"x": 1}
    assert traced.one(name="pure")["input"] == {"x": 2}

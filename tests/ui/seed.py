"""Traces for the UI tests, sent through the real ingest API (POST /api/v1/ingest)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from contrail.schema.timeconv import now_us

CHAT_TRACE = "c0" * 16
ERROR_TRACE = "e0" * 16
BOB_TRACE = "b0" * 16
SESSION = "sess-lisbon"
TURN_TRACES = ["d1" * 16, "d2" * 16, "d3" * 16]
TURN_QUESTIONS = ["Plan a trip to Lisbon", "What should I pack?", "Summarise in two lines"]
TURN_ANSWERS = ["Day one: **Alfama**.", "Pack light layers.", "Lisbon: hills, tiles, pastries."]

# Each payload, if it ever ran, would set window.__xss and open a dialog.
XSS = [
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    '<svg onload="window.__xss=3;alert(3)"><script>alert(4)</script></svg>',
    '"><iframe src="javascript:alert(5)"></iframe>',
    "'><body onload=alert(6)>",
    "[click me](javascript:window.__xss=7)",
    "![img](javascript:alert(8))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(10)">link</a>',
    '<style>body{display:none}</style><div style="background:url(javascript:alert(11))">css</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(13)>",
    "</textarea></pre></details><script>alert(14)</script>",
    "<details open ontoggle=alert(15)>x</details>",
    '<a href="jav&#x09;ascript:alert(16)">tab</a> [t](jav\tascript:alert(17))',
    "{{ 7*7 }} {% if 1 %}jinja{% endif %} ${alert(18)}",
]

_ids = itertools.count(1)


def span_id(n: int) -> str:
    return f"{n:016x}"


def observation(
    trace_id: str, span: str, name: str, start_us: int, ms: float, **fields: Any
) -> dict[str, Any]:
    body = {
        "trace_id": trace_id,
        "span_id": span,
        "name": name,
        "start_us": start_us,
        "end_us": start_us + int(ms * 1000),
        **fields,
    }
    return {"id": f"ev-{next(_ids)}", "type": "observation", "body": body}


def score(trace_id: str, name: str, value: float, observation_id: str | None = None) -> dict[str, Any]:
    body = {"trace_id": trace_id, "name": name, "value": value, "observation_id": observation_id}
    return {"id": f"sc-{next(_ids)}", "type": "score", "body": body}


def ingest(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/ingest", json={"batch": events})
    assert response.status_code == 207, response.text
    assert response.json()["errors"] == [], response.text


def chat_trace(start: int) -> list[dict[str, Any]]:
    """A support chat: root span, a generation calling a tool, the tool, a retriever under it."""
    root, llm, tool, retriever = (span_id(n) for n in (0xA1, 0xA2, 0xA3, 0xA4))
    messages = [
        {"role": "system", "content": "You are a helpful support agent."},
        {"role": "user", "content": "How long do **refunds** take?"},
    ]
    reply = {
        "role": "assistant",
        "content": "Refunds take *5 business days*. See [the policy](https://example.com/refunds).",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_policy", "arguments": '{"topic": "refunds"}'},
            }
        ],
    }
    common = {"user_id": "alice", "session_id": "sess-support"}
    return [
        observation(
            CHAT_TRACE,
            root,
            "support-chat",
            start,
            900,
            input="How long do refunds take?",
            output="5 business days",
            tags=["prod", "chat"],
            metadata={"tenant": "acme", "plan": "pro"},
            trace={"metadata": {"tenant": "acme", "plan": "pro"}},
            environment="production",
            release="2026.11.2",
            **common,
        ),
        observation(
            CHAT_TRACE,
            llm,
            "chat gpt-4o-mini",
            start + 50_000,
            600,
            parent_span_id=root,
            type="generation",
            model_requested="gpt-4o-mini",
            provider="openai",
            input=messages,
            output=reply,
            usage={"input_tokens": 120, "output_tokens": 40},
            cost_usd="0.0012",
            ttft_us=120_000,
            **common,
        ),
        observation(
            CHAT_TRACE,
            tool,
            "lookup_policy",
            start + 700_000,
            150,
            parent_span_id=llm,
            type="tool",
            input={"topic": "refunds"},
            output={"days": 5},
            **common,
        ),
        observation(
            CHAT_TRACE,
            retriever,
            "search-policies",
            start + 710_000,
            100,
            parent_span_id=tool,
            type="retriever",
            input="refunds",
            output=[{"doc": "Refunds are processed within 5 business days."}],
            **common,
        ),
        score(CHAT_TRACE, "helpfulness", 0.9),
    ]


def session_traces(start: int) -> list[dict[str, Any]]:
    """Three chat turns of one session; each input repeats the history, as chat clients send it."""
    events: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = [{"role": "system", "content": "You plan trips."}]
    for turn, (trace_id, question, answer) in enumerate(
        zip(TURN_TRACES, TURN_QUESTIONS, TURN_ANSWERS, strict=True)
    ):
        history = [*history, {"role": "user", "content": question}]
        events.append(
            observation(
                trace_id,
                span_id(0xB0 + turn),
                f"trip-turn-{turn + 1}",
                start + turn * 60_000_000,
                400 + turn * 100,
                type="generation",
                model_requested="gpt-4o",
                input=list(history),
                output={"role": "assistant", "content": answer},
                usage={"input_tokens": 50 * (turn + 1), "output_tokens": 20},
                cost_usd=f"0.00{turn + 1}",
                user_id="carla",
                session_id=SESSION,
            )
        )
        history.append({"role": "assistant", "content": answer})
    return events


def other_traces(start: int) -> list[dict[str, Any]]:
    return [
        observation(
            ERROR_TRACE,
            span_id(0xE1),
            "failing-call",
            start,
            50,
            type="generation",
            model_requested="gpt-4o",
            status="error",
            status_message="rate limited by provider",
            level="error",
            user_id="alice",
        ),
        observation(
            BOB_TRACE,
            span_id(0xF1),
            "summarise-doc",
            start + 1_000,
            2_500,
            type="generation",
            model_requested="claude-sonnet-4-6",
            input="Summarise the quarterly report about kangaroos",
            output="Kangaroos did well.",
            user_id="bob",
            tags=["batch"],
        ),
    ]


def xss_traces(start: int) -> list[dict[str, Any]]:
    """Every payload in names, inputs, outputs, metadata, tags, user and session ids, tool calls."""
    events: list[dict[str, Any]] = []
    for index, payload in enumerate(XSS):
        trace_id = f"{0xF00 + index:032x}"
        root, child = span_id(0xC00 + 2 * index), span_id(0xC01 + 2 * index)
        fields = {"user_id": f"user{index}{payload}", "session_id": f"session{index}{payload}"}
        events.append(
            observation(
                trace_id,
                root,
                f"xss-{index} {payload}",
                start + index * 1000,
                100,
                input=payload,
                output=f"output {payload}",
                tags=[payload, f"xss-{index}"],
                metadata={"note": payload, payload[:40]: "key"},
                trace={"metadata": {"note": payload}, "tags": [f"trace-{payload}"]},
                **fields,
            )
        )
        events.append(
            observation(
                trace_id,
                child,
                payload,
                start + index * 1000 + 10,
                50,
                parent_span_id=root,
                type="generation",
                model_requested=f"model{payload}"[:200],
                status="error",
                status_message=payload,
                input=[{"role": "user", "content": payload}, {"role": payload, "content": payload}],
                output={
                    "role": "assistant",
                    "content": [{"type": "text", "text": payload}, {"type": "image_url", "url": payload}],
                    "tool_calls": [{"id": payload, "function": {"name": payload, "arguments": payload}}],
                },
                **fields,
            )
        )
    return events


def seed_all(client: httpx.Client) -> None:
    start = now_us() - 3_600_000_000  # an hour ago: inside every time range the UI offers
    ingest(client, chat_trace(start) + session_traces(start + 1_000_000) + other_traces(start + 2_000_000))
    ingest(client, xss_traces(start - 2 * 86_400_000_000))  # two days back: out of the screenshots

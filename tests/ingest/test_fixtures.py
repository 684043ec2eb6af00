"""Spans captured from the real exporters (see fixtures/capture.py) map to the expected fields."""

from __future__ import annotations

from decimal import Decimal

from contrail.schema.observation import Level, ObservationType, Status
from tests.ingest.conftest import load_fixture


def test_genai_chat_attributes(by_name):
    batch = load_fixture("genai")
    assert batch.rejected == []
    chat = by_name(batch)["chat gpt-4o-mini"]
    assert chat.type is ObservationType.GENERATION
    assert (chat.model_requested, chat.model_response) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert chat.model == "gpt-4o-mini-2024-07-18"
    assert chat.provider == "openai"
    assert (chat.usage.input_tokens, chat.usage.output_tokens) == (42, 7)
    assert (chat.usage.cached_input_tokens, chat.usage.reasoning_tokens) == (10, 3)
    assert chat.model_parameters == {"temperature": 0.2, "max_tokens": 256}
    assert chat.session_id == "conv-1"
    assert chat.input == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    call = chat.output[0]["tool_calls"][0]
    assert call == {
        "type": "function",
        "id": "call_1",
        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
    }
    assert chat.metadata["attributes"]["app.custom"] == "kept"
    assert chat.environment == "prod"
    assert chat.release == "2.1.0"
    assert chat.metadata["resource"]["service.name"] == "genai-app"
    assert chat.metadata["scope"] == {"name": "genai.capture", "version": "0.1"}


def test_genai_parents_and_types(by_name):
    spans = by_name(load_fixture("genai"))
    agent = spans["invoke_agent planner"]
    assert agent.type is ObservationType.AGENT
    assert agent.parent_span_id is None
    for name in ("chat gpt-4o-mini", "execute_tool get_weather", "embeddings text-embedding-3-small"):
        assert spans[name].parent_span_id == agent.span_id
        assert spans[name].trace_id == agent.trace_id
    tool = spans["execute_tool get_weather"]
    assert tool.type is ObservationType.TOOL
    assert (tool.input, tool.output) == ({"city": "Paris"}, {"temp_c": 21})
    assert spans["embeddings text-embedding-3-small"].type is ObservationType.EMBEDDING


def test_genai_message_events_and_first_token(by_name):
    chat = by_name(load_fixture("genai"))["chat claude (events)"]
    assert chat.provider == "anthropic"
    assert chat.input == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi!"}]
    assert chat.output == [
        {"role": "assistant", "content": "Hello.", "finish_reason": "end_turn", "index": 0}
    ]
    assert chat.ttft_us is not None and 0 <= chat.ttft_us <= (chat.end_us or 0) - chat.start_us
    kept = [event["name"] for event in chat.metadata["events"]]
    assert kept == ["app.checkpoint"]


def test_genai_error_status(by_name):
    failing = by_name(load_fixture("genai"))["chat failing"]
    assert failing.status is Status.ERROR
    assert failing.level is Level.ERROR
    assert failing.status_message == "rate limited"
    assert failing.is_error
    assert failing.metadata["events"][0]["attributes"]["exception.type"] == "RuntimeError"


def test_openinference_llm(by_name):
    llm = by_name(load_fixture("openinference"))["ChatCompletion"]
    assert llm.type is ObservationType.GENERATION
    assert llm.model_requested == "gpt-4o-2024-08-06"
    assert llm.provider == "openai"
    usage = llm.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (20, 2, 22)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (5, 1)
    assert llm.model_parameters == {"temperature": 0.1, "max_tokens": 100}
    assert llm.input[0] == {"role": "system", "content": "You are helpful."}
    assert llm.input[1]["content"] == [{"type": "text", "text": "Capital of France?"}]
    assert llm.output[0]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q": "x"}'}
    assert llm.metadata["prompt_template"]["variables"] == {"country": "France"}
    # The raw request text is not lost when the messages are used.
    assert llm.metadata["attributes"]["input.value"].startswith('{"messages"')
    assert "llm.tools.0.tool.json_schema" in llm.metadata["attributes"]


def test_openinference_agent_retriever_tool(by_name):
    spans = by_name(load_fixture("openinference"))
    agent = spans["agent run"]
    assert agent.type is ObservationType.AGENT
    assert (agent.user_id, agent.session_id) == ("user-oi", "sess-oi")
    assert agent.tags == ["prod", "beta"]
    assert agent.input == "What is the capital of France?"
    assert agent.output == {"answer": "Paris"}
    assert (agent.metadata["tenant"], agent.metadata["attempt"]) == ("acme", 2)
    retriever = spans["retrieve"]
    assert retriever.type is ObservationType.RETRIEVER
    assert [doc["id"] for doc in retriever.output] == ["doc-1", "doc-2"]
    assert retriever.output[0]["score"] == 0.92
    tool = spans["lookup"]
    assert tool.type is ObservationType.TOOL
    assert (tool.input, tool.output) == ({"q": "x"}, "result text")
    assert tool.parent_span_id == agent.span_id


def test_traceloop(by_name):
    spans = by_name(load_fixture("traceloop"))
    chat = spans["openai.chat"]
    assert chat.type is ObservationType.GENERATION
    assert (chat.model_requested, chat.model_response, chat.provider) == (
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "OpenAI",
    )
    assert (chat.usage.input_tokens, chat.usage.output_tokens, chat.usage.total_tokens) == (15, 9, 24)
    assert chat.usage.cached_input_tokens == 4
    assert chat.input == [
        {"role": "system", "content": "You are funny."},
        {"role": "user", "content": "Tell me a joke about otters"},
    ]
    assert chat.output[0]["finish_reason"] == "stop"
    assert chat.output[0]["tool_calls"][0]["function"]["name"] == "laugh"
    assert chat.user_id == "user-tl"
    assert chat.metadata["attributes"] == {"llm.is_streaming": False}
    workflow = spans["joke_workflow.workflow"]
    assert workflow.type is ObservationType.CHAIN
    assert workflow.input == {"args": [], "kwargs": {"topic": "otters"}}
    assert workflow.output == "a joke"
    assert (workflow.user_id, workflow.session_id, workflow.metadata["tenant"]) == (
        "user-tl",
        "sess-tl",
        "acme",
    )
    assert spans["tell_joke.tool"].type is ObservationType.TOOL


def test_langfuse_generation(by_name):
    spans = by_name(load_fixture("langfuse"))
    generation = spans["llm-call"]
    assert generation.type is ObservationType.GENERATION
    assert generation.model_requested == "gpt-4o-mini"
    assert generation.model_parameters == {"temperature": 0.3, "max_tokens": 50}
    usage = generation.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cached_input_tokens) == (
        30,
        4,
        34,
        6,
    )
    assert generation.cost.total == Decimal("0.00042")
    assert generation.cost.input == Decimal("0.0003")
    assert generation.input == [{"role": "user", "content": "Capital of France?"}]
    assert generation.output == {"role": "assistant", "content": "Paris."}
    assert generation.metadata["docs"] == 1
    assert (
        generation.ttft_us is not None
        and 0 <= generation.ttft_us <= (generation.end_us or 0) - generation.start_us
    )


def test_langfuse_trace_attributes_and_tree(by_name):
    spans = by_name(load_fixture("langfuse"))
    root = spans["answer-question"]
    assert root.parent_span_id is None
    assert spans["llm-call"].parent_span_id == root.span_id
    assert spans["retrieve-docs"].type is ObservationType.RETRIEVER
    for obs in spans.values():
        assert (obs.user_id, obs.session_id) == ("user-lf", "sess-lf")
        assert obs.trace.name == "qa-trace"
        assert obs.trace.tags == ["lf-tag", "capture"]
        assert obs.trace.metadata == {"team": "search"}
        assert (obs.environment, obs.release, obs.version) == ("staging", "v1.2.3", "app-7")
    assert root.input == {"args": ["Capital of France?"], "kwargs": {}}
    assert root.output == "Paris."
    assert root.level is Level.WARNING
    assert root.status_message == "slow answer"

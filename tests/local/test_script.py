import pytest

from contrail.local.fake import MAX_DELAY_S, FakeScript
from contrail.local.fake.script import FakeRequest


def _request(model: str = "gpt-x", prompt: str = "hello") -> FakeRequest:
    return FakeRequest("openai.chat", model, prompt, prompt, 1, {}, {}, False)


def test_first_matching_rule_wins_and_default_is_echo() -> None:
    script = FakeScript()
    script.on(prompt_contains="weather").respond("sunny")
    script.on(prompt_contains="weather").respond("rainy")
    assert script.decide(_request(prompt="the weather")).text == "sunny"
    assert script.decide(_request(prompt="other")).kind == "echo"


def test_times_limits_a_rule_then_falls_through() -> None:
    script = FakeScript()
    rule = script.on(times=1).error(429)
    assert script.decide(_request()).kind == "error"
    assert script.decide(_request()).kind == "echo"
    assert rule.hits == 1


def test_model_glob_regex_api_and_predicate_conditions() -> None:
    script = FakeScript()
    script.on(model="claude-*", api="openai.chat").respond("glob")
    script.on(prompt_matches=r"\d{3}").respond("regex")
    script.on(when=lambda r: r.model == "special").respond("predicate")
    assert script.decide(_request(model="claude-3")).text == "glob"
    assert script.decide(_request(prompt="call 555")).text == "regex"
    assert script.decide(_request(model="special")).text == "predicate"
    assert script.decide(_request(model="gpt")).kind == "echo"


def test_delays_are_capped_and_validated() -> None:
    script = FakeScript()
    rule = script.on().latency(ttft_ms=10_000_000, tokens_per_s=5).timeout(10_000)
    assert rule.behaviour.latency.ttft_s == MAX_DELAY_S
    assert rule.behaviour.hang_s == MAX_DELAY_S
    with pytest.raises(ValueError, match="negative"):
        script.on().latency(ttft_ms=-1)
    with pytest.raises(ValueError, match="4xx or 5xx"):
        script.on().error(200)


def test_parallel_tool_calls_accumulate_on_one_rule() -> None:
    rule = FakeScript().on().tool_call("a", {"x": 1}).tool_call("b")
    assert [c.name for c in rule.behaviour.tool_calls] == ["a", "b"]


def test_request_log_is_bounded_and_reset_clears_everything() -> None:
    script = FakeScript(models=["gpt-*"], max_logged_requests=2)
    script.on().respond("x")
    for _ in range(3):
        script.decide(_request())
    assert len(script.requests) == 2
    assert script.accepts_model("gpt-4o") and not script.accepts_model("claude")
    script.reset()
    assert script.requests == []
    assert script.decide(_request()).kind == "echo"

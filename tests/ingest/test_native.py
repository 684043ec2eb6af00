"""Native batch (POST /api/v1/ingest) and Langfuse score payloads: per-item validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contrail.ingest.langfuse_api import LangfusePayloadError, map_langfuse_ingestion, map_langfuse_scores
from contrail.ingest.limits import IngestLimits
from contrail.ingest.native import NativeBatchError, map_native_batch
from contrail.ingest.truncation import TRUNCATED_KEY, truncation_suffix
from contrail.schema.score import ScoreDataType
from tests.ingest.conftest import NOW_US

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


def _obs_event(event_id: str = "e1", **body):
    base = {"trace_id": TRACE, "span_id": SPAN, "name": "step", "start_us": NOW_US - 10, "end_us": NOW_US}
    return {"id": event_id, "type": "observation", "body": {**base, **body}}


def _score_event(event_id: str = "s1", **body):
    return {
        "id": event_id,
        "type": "score",
        "body": {"trace_id": TRACE, "name": "quality", "value": 0.5, **body},
    }


def test_valid_observation_and_score_are_accepted():
    batch = map_native_batch(
        {"batch": [_obs_event(cost_usd="0.0012", input={"q": "hi"}, trace={"name": "t"}), _score_event()]},
        IngestLimits(),
        NOW_US,
    )
    (obs,) = batch.observations
    assert (obs.trace_id, obs.span_id, obs.input, obs.trace.name) == (TRACE, SPAN, {"q": "hi"}, "t")
    assert obs.cost.total == Decimal("0.0012")
    (score,) = batch.scores
    assert (score.value, score.data_type, score.trace_id) == (0.5, ScoreDataType.NUMERIC, TRACE)
    assert len(score.id) == 36  # generated UUIDv7
    assert score.timestamp_us == NOW_US
    assert [(r.id, r.status) for r in batch.results] == [("e1", 201), ("s1", 201)]
    assert batch.response().errors == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (_obs_event(trace_id="abc"), "trace_id must be 32 hex"),
        (_obs_event(span_id="0" * 16), "span_id must be 16 hex"),
        (_obs_event(start_us=NOW_US + 10**12), "too far in the future"),
        (_obs_event(start_us=5, end_us=6), "too far in the past"),
        (_obs_event(end_us=NOW_US - 100), "end_us is before start_us"),
        (_obs_event(name=""), "body.name"),
        (_obs_event(cost_usd="cheap"), "cost_usd must be a decimal"),
        ({"id": "e1", "type": "mystery", "body": {}}, "does not match any of the expected tags"),
        (_score_event("e1", value="good", data_type="NUMERIC"), "NUMERIC scores need a numeric value"),
        (_score_event("e1", value=0.3, data_type="BOOLEAN"), "BOOLEAN scores need true/false or 0/1"),
        (_score_event("e1", value=2, data_type="CATEGORICAL"), "CATEGORICAL scores need a string"),
        (_score_event("e1", trace_id=None), "needs traceId"),
    ],
)
def test_one_bad_event_never_rejects_the_others(event, message):
    good = _obs_event("ok", span_id="00000000000000a1")
    batch = map_native_batch({"batch": [event, good]}, IngestLimits(), NOW_US)
    assert [obs.span_id for obs in batch.observations] == ["00000000000000a1"]
    bad, ok = batch.results
    assert (bad.id, bad.status, ok.status) == ("e1", 400, 201)
    assert message in (bad.message or "")


def test_event_without_id_is_reported_by_position():
    batch = map_native_batch({"batch": [{"type": "observation"}]}, IngestLimits(), NOW_US)
    assert batch.results[0].id == "batch[0]"
    assert batch.results[0].status == 400


def test_not_a_batch_is_an_error():
    with pytest.raises(NativeBatchError, match="batch"):
        map_native_batch([1, 2], IngestLimits(), NOW_US)


def test_native_values_are_bounded_like_otlp():
    limits = IngestLimits(max_value_bytes=100, max_json_depth=3)
    event = _obs_event(
        input="y" * 500, output={"a": {"b": {"c": {"d": 1}}}}, metadata={"big": list(range(100))}
    )
    batch = map_native_batch({"batch": [event]}, limits, NOW_US)
    (obs,) = batch.observations
    assert obs.input == "y" * 100 + truncation_suffix(500)
    assert obs.output == {
        "a": {"b": {"c": {TRUNCATED_KEY: True, "reason": "max_json_depth", "max_depth": 3}}}
    }
    assert obs.metadata[TRUNCATED_KEY] is True and obs.metadata["original_bytes"] > 100
    assert batch.truncated_values == 3


def test_boolean_and_categorical_scores():
    events = [
        _score_event("b", value=True),
        _score_event("b1", value=1, data_type="BOOLEAN"),
        _score_event("c", value="great"),
    ]
    batch = map_native_batch({"batch": events}, IngestLimits(), NOW_US)
    flag, one, category = batch.scores
    assert (flag.data_type, flag.value, flag.string_value) == (ScoreDataType.BOOLEAN, 1.0, "True")
    assert (one.value, one.string_value) == (1.0, "True")
    assert (category.data_type, category.value, category.string_value) == (
        ScoreDataType.CATEGORICAL,
        None,
        "great",
    )


def test_langfuse_scores_array_as_the_sdk_sends_it():
    payload = [
        {
            "id": "score-1",
            "traceId": TRACE,
            "observationId": SPAN,
            "name": "accuracy",
            "value": 0.92,
            "dataType": "NUMERIC",
            "comment": "ok",
            "environment": "staging",
            "metadata": {"judge": "gpt"},
            "timestamp": "2025-01-02T03:04:05.000006Z",
        },
        {"traceId": TRACE, "name": "helpful", "value": 1.0, "dataType": "BOOLEAN"},
        {"sessionId": "sess", "name": "mood", "value": "happy", "dataType": "CATEGORICAL"},
        {"traceId": TRACE, "name": "note", "value": "free text", "dataType": "TEXT"},
    ]
    result = map_langfuse_scores(payload, IngestLimits(), NOW_US)
    assert result.errors == []
    accuracy, helpful, mood, note = result.scores
    assert (accuracy.id, accuracy.observation_id, accuracy.environment) == ("score-1", SPAN, "staging")
    assert accuracy.timestamp_us == 1_735_787_045_000_006
    assert accuracy.metadata == {"judge": "gpt"}
    assert (helpful.data_type, helpful.value) == (ScoreDataType.BOOLEAN, 1.0)
    assert (mood.session_id, mood.string_value) == ("sess", "happy")
    assert (note.data_type, note.metadata["langfuse_data_type"]) == (ScoreDataType.CATEGORICAL, "TEXT")
    assert result.response() == (202, {"message": "Accepted"})


def test_langfuse_scores_partial_rejection():
    payload = [
        {"traceId": TRACE, "name": "ok", "value": 1},
        {"traceId": TRACE, "name": "bad", "value": "x", "dataType": "NUMERIC"},
        {"traceId": TRACE, "value": 1},
    ]
    result = map_langfuse_scores(payload, IngestLimits(), NOW_US)
    status, body = result.response()
    assert (status, body["accepted"], body["rejected"]) == (207, 1, 2)
    assert body["errors"][0]["message"].startswith("scores[1]: NUMERIC")
    assert "name" in body["errors"][1]["message"]


def test_langfuse_single_score_object_and_bad_shape():
    assert len(map_langfuse_scores({"traceId": TRACE, "name": "x", "value": 2}).scores) == 1
    with pytest.raises(LangfusePayloadError):
        map_langfuse_scores("nope")


def test_langfuse_ingestion_score_create_and_unsupported_events():
    payload = {
        "batch": [
            {
                "id": "ev1",
                "type": "score-create",
                "timestamp": "2025-01-02T03:04:05Z",
                "body": {"id": "s1", "traceId": TRACE, "name": "q", "value": 0.1},
            },
            {"id": "ev2", "type": "trace-create", "timestamp": "2025-01-02T03:04:05Z", "body": {"id": "t"}},
            {"id": "ev3", "type": "score-create", "body": {"traceId": TRACE, "name": "q", "value": None}},
        ]
    }
    result = map_langfuse_ingestion(payload, IngestLimits(), NOW_US)
    (score,) = result.scores
    assert (score.id, score.timestamp_us) == ("s1", 1_735_787_045_000_000)
    status, body = result.response()
    assert status == 207
    assert body["successes"] == [{"id": "ev1", "status": 201}]
    assert [(e["id"], e["status"]) for e in body["errors"]] == [("ev2", 400), ("ev3", 400)]
    assert "/api/public/otel/v1/traces" in body["errors"][0]["message"]
    with pytest.raises(LangfusePayloadError):
        map_langfuse_ingestion({"events": []})

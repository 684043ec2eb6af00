"""Redaction of secrets and PII, the mask hook, size limits: applied before data leaves the process."""

import pytest

import contrail
from contrail.sdk import redaction
from contrail.sdk.snapshot import snapshot
from contrail.testing.sdk import capture

OPENAI_KEY = "sk-proj-" + "a1B2c3D4" * 5


@contrail.observe
def call(prompt, headers=None):
    return f"echo: {prompt}"


def test_secrets_are_redacted_by_default():
    with capture() as traced:
        call(f"my key is {OPENAI_KEY}", headers={"Authorization": "Bearer abcdefgh.ijklmnop-123"})
    span = traced.one(name="call")
    assert span["input"] == {
        "prompt": "my key is [REDACTED]",
        "headers": {"Authorization": "Bearer [REDACTED]"},
    }
    assert OPENAI_KEY not in str(traced.observations)


def test_words_that_merely_contain_sk_dash_survive():
    text = "task-0123456789abcdefghijklmnop and desk-lamp"
    assert redaction.redact_secrets_text(text) == text
    assert redaction.redact_secrets_text("AKIAABCDEFGHIJKLMNOP") == "[REDACTED]"
    assert redaction.redact_secrets_text("BEARER abcdefghij and Xearer abcdefghij") == (
        "BEARER [REDACTED] and Xearer abcdefghij"
    )


def test_secret_redaction_can_be_switched_off():
    with capture(redact_secrets=False) as traced:
        call(OPENAI_KEY)
    assert traced.one(name="call")["input"]["prompt"] == OPENAI_KEY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+x@example.co.uk now", "mail me at [EMAIL] now"),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
        ("not a card 4111 1111 1111 1112", "not a card 4111 1111 1111 1112"),
        ("iban GB82 WEST 1234 5698 7654 32 thanks", "iban [IBAN] thanks"),
        ("call +44 20 7946 0958 today", "call [PHONE] today"),
        ("no pii here, 3 items", "no pii here, 3 items"),
    ],
)
def test_pii_patterns(text, expected):
    assert redaction.redact_pii_text(text) == expected


def test_pii_redaction_is_opt_in_and_leaves_envelope_numbers_alone():
    with capture() as traced:
        call("jane@example.com")
    assert traced.one(name="call")["input"]["prompt"] == "jane@example.com"
    with capture(redact_pii=True) as traced:
        call("write to jane@example.com about 4111-1111-1111-1111")
    span = traced.one(name="call")
    assert span["input"]["prompt"] == "write to [EMAIL] about [CARD]"
    assert span["output"] == "echo: write to [EMAIL] about [CARD]"
    assert isinstance(span["start_us"], int)


def test_mask_hook_sees_every_captured_value():
    seen = []

    def mask(value):
        seen.append(value)
        return "<masked>"

    with capture(mask=mask) as traced, contrail.span("s", input="in", metadata={"m": 1}) as s:
        s.update(output="out")
    span = traced.one(name="s")
    assert (span["input"], span["output"], span["metadata"]) == ("<masked>",) * 3
    assert sorted(map(str, seen)) == sorted(["in", "out", "{'m': 1}"])


def test_failing_mask_hook_drops_the_item_rather_than_leaking(caplog):
    def mask(value):
        raise RuntimeError("mask bug")

    with capture(mask=mask, strict=False) as traced:
        assert call("secret") == "echo: secret"
        assert call("secret2") == "echo: secret2"
    assert traced.observations == []
    assert len([r for r in caplog.records if "mask bug" in r.getMessage()]) == 1


def test_strict_mode_surfaces_internal_errors():
    def mask(value):
        raise RuntimeError("mask bug")

    with capture(mask=mask), pytest.raises(RuntimeError, match="mask bug"):
        call("x")


def test_size_limits_leave_truncation_markers():
    with capture(max_field_chars=10, max_items=3) as traced:
        call("x" * 25, headers=list(range(10)))
    span = traced.one(name="call")
    assert span["input"]["prompt"] == "x" * 10 + "…[truncated 15 chars]"
    assert span["input"]["headers"] == [0, 1, 2, "…[7 more items]"]


class Unprintable:
    def __repr__(self):
        raise ValueError("no repr")


def test_bad_input_is_snapshotted_safely():
    import socket

    cyclic = {"a": 1}
    cyclic["self"] = cyclic
    deep = []
    node = deep
    for _ in range(50):
        node.append([])
        node = node[0]
    with socket.socket() as sock:
        out = snapshot(
            {
                "cycle": cyclic,
                "sock": sock,
                "bytes": b"\xff\xfe",
                "ok": b"hi",
                "bad": Unprintable(),
                "nan": float("nan"),
                "set": {1},
                "deep": deep,
            }
        )
    assert out["cycle"] == {"a": 1, "self": "<cycle dict>"}
    assert out["sock"].startswith("<socket.socket")
    assert out["bytes"] == "<2 bytes, not UTF-8>" and out["ok"] == "hi"
    assert out["bad"] == "<unrepresentable Unprintable>"
    assert out["nan"] == "nan" and out["set"] == [1]
    assert "nested too deep" in str(out["deep"])


def test_lone_surrogates_are_exported_as_valid_json():
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    with capture() as traced:
        call(bad)
    assert traced.one(name="call")["input"]["prompt"] == "caf?"


def test_huge_arguments_are_cut_without_copying_them_whole():
    huge = list(range(2_000_000))
    out = snapshot({"rows": huge, "table": dict.fromkeys(range(5_000), 0)})
    assert len(out["rows"]) == 1_001 and out["rows"][-1] == "…[1999000 more items]"
    assert len(out["table"]) == 1_001 and out["table"]["…"] == "…[4000 more items]"

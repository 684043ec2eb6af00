"""Templates: Langfuse syntax, balanced braces, strict compile, verbatim values."""

from __future__ import annotations

import pytest

from contrail.prompts.content import ContentError, ContentTooLargeError, check_content, compile_content
from contrail.prompts.names import InvalidNameError, check_label, check_prompt_name
from contrail.prompts.template import RenderError, TemplateError, parse


def test_variables_allow_whitespace_and_keep_first_use_order() -> None:
    template = parse("Hi {{ name }}, {{topic}} and {{name}} again")
    assert template.variables == ("name", "topic")
    assert template.render({"name": "Ada", "topic": "maths"}) == "Hi Ada, maths and Ada again"


def test_parsing_is_cached() -> None:
    assert parse("cached {{x}}") is parse("cached {{x}}")


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("Hello {{name", 6, "not closed"),
        ("Hello name}} there", 10, "without a matching"),
        ("a {{x {{y}}", 2, "not closed"),
        ("a {{1x}}", 2, "not a variable name"),
        ("a {{two words}}", 2, "not a variable name"),
        ("{{}}", 0, "not a variable name"),
    ],
)
def test_malformed_templates_name_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert f"position {position}" in str(info.value)


def test_values_are_inserted_verbatim_without_recursive_expansion() -> None:
    content = check_content("text", "Q: {{question}} A: {{answer}}")
    out = compile_content(content, {"question": "{{answer}}", "answer": "<b>42</b>"})
    assert out == "Q: {{answer}} A: <b>42</b>"


def test_missing_and_unknown_variables_are_errors_unless_extra_allowed() -> None:
    content = check_content("text", "Hi {{name}} from {{city}}")
    with pytest.raises(RenderError) as missing:
        compile_content(content, {"name": "Ada"})
    assert missing.value.missing == ["city"]
    assert "missing variables: city" in str(missing.value)
    with pytest.raises(RenderError) as unknown:
        compile_content(content, {"name": "Ada", "city": "X", "mood": "happy"})
    assert unknown.value.unknown == ["mood"]
    assert "allow_extra=True" in str(unknown.value)
    assert (
        compile_content(content, {"name": "A", "city": "B", "mood": "c"}, allow_extra=True) == "Hi A from B"
    )


def test_chat_prompts_fill_messages_and_placeholders() -> None:
    content = check_content(
        "chat",
        [
            {"role": "system", "content": "You help with {{topic}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ],
        {"model": "gpt-4o-mini", "temperature": 0.2},
    )
    assert content.variables == ("topic", "question")
    assert content.placeholders == ("history",)
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    out = compile_content(content, {"topic": "tax", "question": "why?", "history": history})
    assert out == [
        {"role": "system", "content": "You help with tax."},
        *history,
        {"role": "user", "content": "why?"},
    ]
    with pytest.raises(RenderError, match="missing variables: history"):
        compile_content(content, {"topic": "tax", "question": "why?"})
    with pytest.raises(RenderError, match="list of messages"):
        compile_content(content, {"topic": "t", "question": "q", "history": "not a list"})


@pytest.mark.parametrize(
    ("type_", "prompt", "config", "fragment"),
    [
        ("html", "x", None, "type must be"),
        ("text", ["a"], None, "text prompt is a string"),
        ("chat", "hello", None, "non-empty list"),
        ("chat", [{"role": "user"}], None, "message 0: needs a string role"),
        ("chat", [{"role": "user", "content": "{{a"}], None, "message 0: '{{' is not closed"),
        ("chat", [{"type": "placeholder", "name": "bad name"}], None, "placeholder needs a name"),
        ("text", "x", ["not", "an", "object"], "config must be a JSON object"),
    ],
)
def test_malformed_content_is_refused(type_: str, prompt: object, config: object, fragment: str) -> None:
    with pytest.raises(ContentError, match=fragment):
        check_content(type_, prompt, config)


def test_huge_prompts_are_refused() -> None:
    with pytest.raises(ContentTooLargeError, match="at most 1,000,000"):
        check_content("text", "x" * 1_000_001)


@pytest.mark.parametrize("name", ["support/triage", "a", "v1.2_final-x", "x" * 200])
def test_valid_prompt_names(name: str) -> None:
    assert check_prompt_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 201, "has space", "semi;colon", "/abs", "a//b", "a/../b", "trailing/", "a/versions", "é"],
)
def test_invalid_prompt_names(name: str) -> None:
    with pytest.raises(InvalidNameError):
        check_prompt_name(name)


@pytest.mark.parametrize("label", ["", "Production", "with space", "x" * 37, "a/b"])
def test_invalid_labels(label: str) -> None:
    with pytest.raises(InvalidNameError):
        check_label(label)

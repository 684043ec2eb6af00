"""Rendering building blocks without a browser: safe markdown, content shapes, waterfall layout, and the
static files and templates themselves (vendored checksums, no inline script or style)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from contrail.server.ui import content, replay, waterfall
from contrail.server.ui.markdown import render_markdown
from contrail.server.ui.templating import STATIC_DIR, UI_DIR

VENDOR = STATIC_DIR / "vendor"


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[x](javascript:alert(1))", "href"),
        ("[x](JaVaScRiPt:alert(1))", "href"),
        ("[x](java\tscript:alert(1))", "href"),
        ("[x](&#106;avascript:alert(1))", "href"),
        ("[x](data:text/html,<b>hi</b>)", "href"),
        ("[x](vbscript:msgbox)", "href"),
        ("![i](https://tracker.example/pixel.gif)", "<img"),
        ('<a href="https://e.com" onclick="x()">a</a>', "<a"),
    ],
)
def test_markdown_escapes_html_and_drops_unsafe_links(text: str, forbidden: str) -> None:
    assert forbidden not in render_markdown(text)


def test_markdown_keeps_formatting_and_safe_links() -> None:
    html = render_markdown("**bold** `code` [docs](https://example.com/a?b=1) [rel](/traces)")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow">docs</a>' in html
    assert '<a href="/traces"' in html
    image = render_markdown("![chart](https://example.com/c.png)")
    assert (
        '<a href="https://example.com/c.png" rel="noopener noreferrer nofollow">[image: chart]</a>' in image
    )


def test_content_recognises_chats_text_and_json() -> None:
    chat = content.show({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    assert chat.kind == "chat" and chat.messages[0].html is not None and "hi" in chat.messages[0].html
    anthropic = content.message(
        {"role": "assistant", "content": [{"type": "tool_use", "name": "search", "input": {"q": "x"}}]}
    )
    assert anthropic.tool_calls[0].name == "search" and '"q": "x"' in anthropic.tool_calls[0].arguments
    assert content.show("# Title").kind == "text"
    shown = content.show({"a": 1, "nested": {"b": [1, 2]}})
    assert shown.kind == "json" and [f.short for f in shown.fields] == [True, False]
    assert content.show([]).kind == "empty"
    huge = content.pretty("x" * (content.MAX_JSON_CHARS + 10))
    assert huge.endswith("10 more characters")


def test_replay_shows_only_the_new_messages_of_each_turn() -> None:
    traces = [
        {"trace_id": "t1", "input_preview": None, "output_preview": None},
        {"trace_id": "t2", "input_preview": "fallback question", "output_preview": "fallback answer"},
    ]
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "1"}]
    documents = {"t1": ([history[0]], "1"), "t2": ([*history, {"role": "user", "content": "two"}], "2")}
    turns = replay.turns(traces, documents)
    assert [m.role for m in turns[0].asked] == ["user"]
    assert [m.html for m in turns[1].asked] == [render_markdown("two")]
    fallback = replay.turns(traces[1:], {})
    assert fallback[0].asked[0].html == render_markdown("fallback question")


def test_waterfall_walks_deep_trees_without_recursion() -> None:
    depth = 5_000
    rows = [
        {
            "span_id": f"{i:016x}",
            "parent_span_id": f"{i - 1:016x}" if i else None,
            "name": f"s{i}",
            "type": "span",
            "start_us": 1_000 + i,
            "end_us": 1_000 + 2 * depth - i,
            "duration_us": 2 * depth - 2 * i,
            "level": "default",
            "is_error": False,
            "model": None,
            "total_tokens": None,
            "total_cost_nanos": None,
            "ttft_us": None,
        }
        for i in range(depth)
    ]
    layout = waterfall.layout(rows)
    assert [r.depth for r in layout.rows[:3]] == [0, 1, 2]
    assert layout.rows[-1].depth == depth - 1 and layout.rows[-1].indent == waterfall.MAX_INDENT
    assert layout.rows[0].bar_x == 0 and layout.rows[0].bar_width == waterfall.VIEW_WIDTH
    assert all(r.bar_x >= 0 and r.bar_x + r.bar_width <= waterfall.VIEW_WIDTH + 0.01 for r in layout.rows)
    assert [r.hidden for r in layout.rows[:4]] == [False, False, True, True]  # big: root and its children
    orphan = waterfall.layout([{**rows[3], "parent_span_id": "f" * 16}])
    assert orphan.rows[0].depth == 0  # a missing parent makes a root, never a lost span


def test_vendored_files_match_their_recorded_checksums() -> None:
    record = json.loads((VENDOR / "VERSIONS.json").read_text())
    assert set(record) == {"htmx.org", "uplot"}
    for package in record.values():
        for name, digest in package["files"].items():
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_templates_and_scripts_have_no_inline_script_style_or_handlers() -> None:
    templates = list((UI_DIR / "templates").glob("*.html"))
    assert len(templates) >= 15
    for path in templates:
        text = path.read_text()
        # Scripts come from files; a JSON data block (never executed, filled with |tojson, which
        # escapes <, > and &) is the one inline form allowed.
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", text), path.name
        for data_block in re.findall(r"<script[^>]*application/json[^>]*>(.*?)</script>", text, re.S):
            assert re.fullmatch(r"\s*\{\{[^}]*\|\s*tojson\s*\}\}\s*", data_block), path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "|safe" not in text and "Markup(" not in text, path.name
        assert "hx-on" not in text, path.name
    for script in ("app.js", "theme.js"):
        code = (STATIC_DIR / script).read_text()
        assert "innerHTML" not in code and "eval(" not in code and ".style." not in code, script


def test_no_template_renders_observations_by_recursion() -> None:
    tree = (UI_DIR / "templates" / "trace.html").read_text()
    assert "{% include" not in tree.split('id="tree"', 1)[1].split("</div>\n  </section>", 1)[0]
    assert "recursive" not in tree


def test_big_trace_template_row_is_one_line_per_observation() -> None:
    assert Path(UI_DIR / "templates" / "trace.html").read_text().count("{% for r in layout.rows %}") == 1

"""Markdown for untrusted text: raw HTML is escaped, only http(s)/mailto/relative links survive.

Images are shown as links (never loaded: a trace must not make the browser fetch anything), and
links open without a referrer. The output is safe to insert as HTML because every character of the
input reaches it escaped by markdown-it, which this module configures with ``html`` off.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

MAX_MARKDOWN_CHARS = 100_000
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _valid_link(url: str) -> bool:
    lowered = "".join(url.split()).lower()
    if lowered.startswith(_SAFE_SCHEMES):
        return True
    # Relative links have no scheme: nothing before the first ':' may come before a '/', '?' or '#'.
    head = lowered.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return ":" not in head and not lowered.startswith("//")


def _image_as_link(
    _renderer: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = escape(token.content or "image")
    if not _valid_link(src):
        return f"[image: {alt}]"
    return f'<a href="{escape(src)}" rel="noopener noreferrer nofollow">[image: {alt}]</a>'


def _link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return renderer.renderToken(tokens, idx, options, env)


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.validateLink = _valid_link  # type: ignore[method-assign]
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("link_open", _link_open)
    return md


_md = _build()


def render_markdown(text: str) -> Markup:
    """HTML for ``text`` as markdown (very long text is shown preformatted instead)."""
    if len(text) > MAX_MARKDOWN_CHARS:
        return Markup("<pre>") + escape(text) + Markup("</pre>")
    return Markup(_md.render(text))  # noqa: S704  (markdown-it escapes all input; html is off)

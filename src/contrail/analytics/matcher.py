"""Model-name matching: turn whatever name a trace carries into one catalogue entry, and say why.

Rules, tried in this order for each candidate name (first hit wins, see docs/pricing.md):

1. Normalise: trim, lower-case, inner whitespace to '-'.
2. Fine-tunes: ``ft:<base>:<org>::<id>`` (OpenAI), ``<base>.ft-<id>`` (Azure) and ``<base>:ft-...``
   are priced as their base model, with the fine-tune rates when the entry lists them.
3. Provider prefixes: ``openai/``, ``azure/``, ``bedrock/``, ``vertex_ai/``, ``groq/``, ``together_ai/``,
   OpenRouter-style ``vendor/model``... are peeled off one segment at a time (the full name is tried
   first, so catalogue names that contain '/' such as ``meta-llama/llama-3.3-70b-instruct-turbo`` match);
   a known host in the prefix, or the observation's provider, picks among entries with the same name.
4. Bedrock ids: ``[region.]vendor.model[-vN][:N]`` (``us.anthropic.claude-...-v1:0``) are tried as the
   Bedrock id, then as the vendor's own model name.
5. Exact name or alias.
6. Snapshot suffixes: the longest catalogue name that is a prefix of the candidate, when everything cut
   off is version-like: dates (``-2024-08-06``, ``-20241022``, ``-0125``, ``@20240620``), ``-latest``,
   ``-preview``, ``-exp``, ``-vN``. Anything else cut off (``-audio-preview``, ``-6`` in
   ``claude-opus-4-6``) is *not* a match: an unknown model stays unpriced rather than wrongly priced.
7. Dotted versions as a last resort: ``claude-3.5-sonnet`` → ``claude-3-5-sonnet``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from contrail.analytics.price_file import normalize_name
from contrail.analytics.prices import PriceEntry

MAX_NAME_LENGTH = 256

# Prefix segments and observation providers (OTel gen_ai.provider.name, LiteLLM, SDK names) → host.
_HOSTS: dict[str, str] = {
    **dict.fromkeys(("openai", "openai_compatible", "text-completion-openai"), "openai"),
    **dict.fromkeys(("azure", "azure_ai", "azure-openai", "azure.ai.openai", "azure.ai.inference"), "azure"),
    **dict.fromkeys(("anthropic", "claude"), "anthropic"),
    **dict.fromkeys(("bedrock", "bedrock_converse", "aws.bedrock", "aws_bedrock", "aws"), "bedrock"),
    **dict.fromkeys(("vertex_ai", "vertex_ai_beta", "vertex", "vertexai", "gcp.vertex_ai"), "vertex"),
    **dict.fromkeys(("gemini", "google", "google_genai", "gcp.gemini", "gcp.gen_ai"), "google"),
    **dict.fromkeys(("groq",), "groq"),
    **dict.fromkeys(("together_ai", "together", "togetherai", "together.ai"), "together"),
    **dict.fromkeys(("mistral", "mistralai", "mistral_ai", "codestral"), "mistral"),
    **dict.fromkeys(("cohere", "cohere_chat"), "cohere"),
    **dict.fromkeys(("deepseek", "deepseek-ai"), "deepseek"),
    **dict.fromkeys(("xai", "x-ai", "x_ai", "grok"), "xai"),
    **dict.fromkeys(("openrouter",), "openrouter"),
}
# A host whose list prices are another provider's: Azure OpenAI (global deployments) charges OpenAI's
# prices; Vertex AI charges Google's for Gemini and Anthropic's for Claude; Bedrock Anthropic's for Claude.
_SAME_PRICES_AS: dict[str, tuple[str, ...]] = {
    "azure": ("openai",),
    "vertex": ("google", "anthropic", "mistral"),
    "bedrock": ("bedrock", "anthropic"),
}
# Which entry wins when several providers list the same name and nothing hints at the host: the model's
# own vendor first, then hosts.
_PROVIDER_ORDER = ("openai", "anthropic", "google", "mistral", "cohere", "deepseek", "xai")
_BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|ap|ca|sa|me|af|jp|au|us-gov|global)\.)?"
    r"(anthropic|meta|amazon|cohere|mistral|ai21|deepseek|openai|qwen|writer)\.([a-z0-9].*?)(?::[0-9a-z]+)*$"
)
_VERSION_TOKEN = re.compile(
    r"^(?:\d{2}|\d{3,}|v\d+(?:\.\d+)?|latest|preview|exp|experimental|beta|thinking)$"
)
_DOTTED = re.compile(r"(?<=\d)\.(?=\d)")


@dataclasses.dataclass(frozen=True, slots=True)
class ModelMatch:
    """The entry a model name resolved to, and how."""

    entry: PriceEntry
    name: str
    candidate: str
    key: str
    rule: str
    suffix: str = ""
    fine_tune: bool = False
    host: str | None = None
    layer: str = "builtin"
    ambiguous: tuple[str, ...] = ()

    def explain(self) -> str:
        """One sentence saying which entry matched and why (used by ``contrail prices show``)."""
        parts = [f"{self.name!r} matched {self.entry.key} ({self.layer}) by {self.rule}"]
        if self.candidate != self.key or self.suffix:
            parts.append(f"candidate {self.candidate!r} → catalogue name {self.key!r}")
        if self.suffix:
            parts.append(f"version suffix {self.suffix!r} ignored")
        if self.fine_tune:
            parts.append("fine-tune of this base model")
        if self.host:
            parts.append(f"host hint {self.host!r}")
        if self.ambiguous:
            parts.append(f"also listed by {', '.join(self.ambiguous)}; pass the provider to choose")
        return "; ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class _Candidate:
    text: str
    rule: str
    host: str | None
    fine_tune: bool


class ModelIndex:
    """Entries indexed by normalised model name and alias; ``resolve`` applies the matching rules."""

    def __init__(self, entries: Iterable[PriceEntry], layer: str = "builtin") -> None:
        self.layer = layer
        self.entries: tuple[PriceEntry, ...] = tuple(entries)
        self._by_name: dict[str, list[PriceEntry]] = {}
        self._aliases: set[tuple[str, str]] = set()
        for entry in self.entries:
            self._by_name.setdefault(entry.model, []).append(entry)
            for alias in entry.aliases:
                self._by_name.setdefault(alias, []).append(entry)
                self._aliases.add((alias, entry.key))

    def resolve(
        self, name: str, provider: str | None = None, trace: list[str] | None = None
    ) -> ModelMatch | None:
        """The best entry for ``name`` (optionally hinted by the observation's ``provider``), or None."""
        normalized = normalize_name(name)
        if not normalized or len(normalized) > MAX_NAME_LENGTH:
            _note(trace, f"name {name!r} is empty or longer than {MAX_NAME_LENGTH} characters")
            return None
        hint = _HOSTS.get(normalize_name(provider)) if provider else None
        for dotted in _dotted_variants(normalized):
            for candidate in _candidates(dotted, hint):
                found = self._lookup(candidate, name, trace)
                if found is not None:
                    if dotted != normalized:
                        found = dataclasses.replace(found, rule=f"{found.rule} (dotted version)")
                    return found
        return None

    def _lookup(self, candidate: _Candidate, name: str, trace: list[str] | None) -> ModelMatch | None:
        key, suffix = self._longest_key(candidate.text)
        if key is None:
            _note(trace, f"{candidate.rule}: {candidate.text!r} — no catalogue name")
            return None
        entries = self._by_name[key]
        entry = _choose(entries, candidate.host)
        rule = candidate.rule
        if suffix:
            rule += " + snapshot suffix"
        elif (key, entry.key) in self._aliases:
            rule += " + alias"
        others = tuple(e.key for e in entries if e is not entry) if candidate.host is None else ()
        _note(trace, f"{candidate.rule}: {candidate.text!r} → {entry.key}")
        return ModelMatch(
            entry,
            name,
            candidate.text,
            key,
            rule,
            suffix,
            candidate.fine_tune,
            candidate.host,
            self.layer,
            others,
        )

    def _longest_key(self, text: str) -> tuple[str | None, str]:
        if text in self._by_name:
            return text, ""
        end = len(text)
        while True:
            cut = max(text.rfind("-", 0, end), text.rfind("@", 0, end), text.rfind(":", 0, end))
            if cut <= 0 or not _VERSION_TOKEN.match(text[cut + 1 : end]):
                return None, ""
            end = cut
            if text[:end] in self._by_name:
                return text[:end], text[end:]


def _candidates(name: str, hint: str | None) -> Iterable[_Candidate]:
    """Candidate names, most specific first: the full name, then with prefixes peeled, then Bedrock forms."""
    segments = name.split("/")
    # A host named in the prefix (groq/, azure/...) says more than the observation's provider field.
    prefix_hosts = [_HOSTS[s] for s in segments[:-1] if _HOSTS.get(s, "openrouter") != "openrouter"]
    host = prefix_hosts[0] if prefix_hosts else hint
    for start in range(len(segments)):
        text = "/".join(segments[start:])
        if not text:
            continue
        rule = "exact name" if start == 0 else f"prefix {'/'.join(segments[:start])}/ removed"
        text, fine_tune = _base_of_fine_tune(text)
        if fine_tune:
            rule += ", fine-tune"
        yield _Candidate(text, rule, host, fine_tune)
        bedrock = _BEDROCK_ID.match(text)
        if bedrock:
            vendor, model = bedrock.groups()
            yield _Candidate(f"{vendor}.{model}", "Bedrock id", "bedrock", fine_tune)
            yield _Candidate(model, f"Bedrock id → {vendor} model", "bedrock", fine_tune)


def _base_of_fine_tune(text: str) -> tuple[str, bool]:
    if text.startswith("ft:"):
        return text[3:].split(":", 1)[0], True
    for marker in (".ft-", ":ft-", ":ft:"):
        if marker in text:
            return text.split(marker, 1)[0], True
    return text, False


def _dotted_variants(name: str) -> tuple[str, ...]:
    dashed = _DOTTED.sub("-", name)
    return (name,) if dashed == name else (name, dashed)


def _choose(entries: list[PriceEntry], host: str | None) -> PriceEntry:
    if len(entries) == 1:
        return entries[0]
    preferred = (host, *_SAME_PRICES_AS.get(host, ())) if host else ()
    for provider in (*preferred, *_PROVIDER_ORDER):
        for entry in entries:
            if entry.provider == provider:
                return entry
    return entries[0]


def _note(trace: list[str] | None, line: str) -> None:
    if trace is not None:
        trace.append(line)

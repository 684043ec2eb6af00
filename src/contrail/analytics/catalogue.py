"""The price catalogue: built-in prices shipped with Contrail, optionally layered under overrides.

``default_catalogue()`` is the built-in catalogue (loaded once). Project overrides (later: rows in the
database; today: a JSON file, see ``contrail prices check``) are layered on top with
``with_overrides``: a name that matches an override is priced by it, whatever the built-in list says.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from pathlib import Path

from contrail.analytics.matcher import ModelIndex, ModelMatch
from contrail.analytics.price_file import load_price_file, normalize_name, parse_price_json
from contrail.analytics.prices import PriceEntry

_DATA_PACKAGE = "contrail.analytics.data"
MATCH_CACHE_SIZE = 8192


class PriceCatalogue:
    """Entries in layers (overrides first, built-in last) with a cached name → entry matcher.

    Immutable: ``with_overrides`` returns a new catalogue, so a cached catalogue can be shared by threads.
    """

    def __init__(self, entries: Iterable[PriceEntry], *, layer: str = "builtin") -> None:
        self._layers: tuple[ModelIndex, ...] = (ModelIndex(entries, layer),)
        self._cached_match = functools.lru_cache(maxsize=MATCH_CACHE_SIZE)(self._match)

    def with_overrides(self, entries: Iterable[PriceEntry], *, layer: str = "overrides") -> PriceCatalogue:
        """A new catalogue where ``entries`` are matched before every entry of this one."""
        catalogue = PriceCatalogue(entries, layer=layer)
        catalogue._layers = (*catalogue._layers, *self._layers)
        return catalogue

    @property
    def entries(self) -> list[PriceEntry]:
        """Every entry, overrides first."""
        return [entry for index in self._layers for entry in index.entries]

    def match(self, model: str, provider: str | None = None) -> ModelMatch | None:
        """The entry pricing ``model`` (hinted by the observation's ``provider``), or None if unknown.

        Cached (LRU) on the exact (model, provider) strings, so a hot path pays one dict lookup.
        """
        return self._cached_match(model, provider)

    def explain(self, model: str, provider: str | None = None) -> tuple[ModelMatch | None, list[str]]:
        """Like ``match``, plus every candidate name tried, in order (for ``contrail prices show``)."""
        trace: list[str] = []
        for index in self._layers:
            trace.append(f"[{index.layer}]")
            found = index.resolve(model, provider, trace)
            if found is not None:
                return found, trace
        return None, trace

    def search(self, provider: str | None = None, text: str | None = None) -> list[PriceEntry]:
        """Entries of ``provider`` whose name or an alias contains ``text`` (both optional)."""
        wanted = normalize_name(text) if text else ""
        found = []
        for entry in self.entries:
            if provider and entry.provider != provider.strip().lower():
                continue
            if wanted and not any(wanted in name for name in (entry.model, *entry.aliases)):
                continue
            found.append(entry)
        return found

    def _match(self, model: str, provider: str | None) -> ModelMatch | None:
        for index in self._layers:
            found = index.resolve(model, provider)
            if found is not None:
                return found
        return None


def builtin_entries() -> list[PriceEntry]:
    """Every entry of the JSON files shipped in ``contrail/analytics/data/prices/`` (validated)."""
    folder = importlib.resources.files(_DATA_PACKAGE).joinpath("prices")
    entries: list[PriceEntry] = []
    for item in sorted(folder.iterdir(), key=lambda item: item.name):
        if item.name.endswith(".json"):
            entries.extend(parse_price_json(item.read_bytes(), origin=f"builtin:{item.name}"))
    return entries


@functools.lru_cache(maxsize=1)
def default_catalogue() -> PriceCatalogue:
    """The built-in catalogue, loaded and validated once per process."""
    return PriceCatalogue(builtin_entries())


def load_catalogue_file(path: str | Path, base: PriceCatalogue | None = None) -> PriceCatalogue:
    """``base`` (default: the built-in catalogue) with the entries of an override file on top.

    Raises PriceFileError listing every problem; nothing is applied unless the whole file is valid.
    """
    entries = load_price_file(path)
    return (base or default_catalogue()).with_overrides(entries, layer=f"file:{Path(path).name}")

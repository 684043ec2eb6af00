"""Flattened attribute trees (``llm.input_messages.0.message.role``) back into lists and dicts."""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T")


def pop_prefixed(attrs: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Consume every attribute whose key starts with one of ``prefixes``, in one pass.

    Returns ``{prefix: {rest_of_key: value}}`` for the prefixes that matched; a key matching several
    prefixes goes to the first listed.
    """
    memo = _memo(prefixes)
    matched = []
    for key in attrs:
        split = memo.get(key, _UNSEEN)
        if split is _UNSEEN:
            split = _remember(memo, key, _split_prefix(key, prefixes))
        if split is not None:
            matched.append((key, split))
    found: dict[str, dict[str, Any]] = {}
    for key, (prefix, rest) in matched:
        group = found.get(prefix)
        if group is None:
            group = found[prefix] = {}
        group[rest] = attrs.pop(key)
    return found


def _split_prefix(key: str, prefixes: tuple[str, ...]) -> tuple[str, str] | None:
    if key.startswith(prefixes):
        for prefix in prefixes:
            if key.startswith(prefix):
                return prefix, key[len(prefix) :]
    return None


def indexed_records(flat: dict[str, Any], infix: str) -> list[dict[str, Any]] | None:
    """The common case of :func:`unflatten`, fast: keys ``<index><infix><field>`` (``0.message.role``).

    Returns ``[{field: value}]`` ordered by index, or None when ``flat`` is empty or any key or
    value has another shape (dotted field, non-decimal index, dict value): use :func:`unflatten`.
    """
    records: dict[str, dict[str, Any]] = {}
    memo = _memo(infix)
    for key, value in flat.items():
        split = memo.get(key, _UNSEEN)
        if split is _UNSEEN:
            split = _remember(memo, key, _split_indexed(key, infix))
        if split is None or isinstance(value, dict):
            return None
        index, field = split
        record = records.get(index)
        if record is None:
            record = records[index] = {}
        record[field] = value
    return _as_list(records) if records else None


def _split_indexed(key: str, infix: str) -> tuple[str, str] | None:
    index, found, field = key.partition(infix)
    if not found or "." in field or not _is_index(index):
        return None
    return index, field


# How keys split, memoised: attribute keys repeat from span to span, and splitting one takes many
# Python steps. Bounded in entries and key length, so hostile keys cannot grow it without limit.
_MEMOS: dict[object, dict[str, Any]] = {}
_MEMO_ENTRIES = 4096
_MEMO_KEY_CHARS = 256
_UNSEEN = object()


def _memo(kind: object) -> dict[str, Any]:
    memo = _MEMOS.get(kind)
    if memo is None:
        memo = _MEMOS[kind] = {}
    return memo


def _remember(memo: dict[str, Any], key: str, split: _T) -> _T:
    if len(key) <= _MEMO_KEY_CHARS:
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[key] = split
    return split


def unflatten(flat: dict[str, Any]) -> Any:
    """Rebuild ``{"0.message.role": "user"}`` as ``[{"message": {"role": "user"}}]``.

    Dotted segments become nested dicts; a dict whose keys are all decimal indices becomes a list
    ordered by index (gaps are closed). A key that is both a leaf and a parent keeps the leaf under
    ``""`` so neither value is lost. Dict values in ``flat`` are consumed (converted in place).
    """
    root: dict[str, Any] = {}
    created: list[tuple[dict[str, Any], str, dict[str, Any]]] = []  # (parent, key, node)
    leaf_dicts = False
    for key, value in flat.items():
        node = root
        parts = key.split(".")
        last = parts.pop()
        for part in parts:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"": child}
                node[part] = child
                created.append((node, part, child))
            node = child
        if isinstance(value, dict):
            leaf_dicts = True
        if isinstance(node.get(last), dict):
            node[last][""] = value
        else:
            node[last] = value
    if leaf_dicts:
        return _listify(root)
    # Only the dicts made here can turn into lists; children were created after their parents.
    for parent, key, node in reversed(created):
        if all(map(_is_index, node)):
            parent[key] = _as_list(node)
    return _as_list(root) if root and all(map(_is_index, root)) else root


def _listify(node: dict[str, Any]) -> Any:
    # Values may be dicts themselves (kvlist attributes): convert them too, in place.
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _listify(value)
    return _as_list(node) if node and all(map(_is_index, node)) else node


def _as_list(node: dict[str, Any]) -> list[Any]:
    if len(node) <= len(_INDICES) and list(node) == _INDICES[: len(node)]:
        return list(node.values())  # already "0", "1", ... in order: no sort needed
    return [node[key] for key in sorted(node, key=int)]


_INDICES = [str(index) for index in range(32)]


def _is_index(text: str) -> bool:
    """ASCII digits only: "²".isdigit() is True, but int("²") raises."""
    return text.isascii() and text.isdigit()

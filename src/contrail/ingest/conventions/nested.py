"""Flattened attribute trees (``llm.input_messages.0.message.role``) back into lists and dicts."""

from __future__ import annotations

from typing import Any


def pop_prefixed(attrs: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Consume every attribute whose key starts with one of ``prefixes``, in one pass.

    Returns ``{prefix: {rest_of_key: value}}`` for the prefixes that matched; a key matching several
    prefixes goes to the first listed.
    """
    found: dict[str, dict[str, Any]] = {}
    matched = [key for key in attrs if key.startswith(prefixes)]
    for key in matched:
        for prefix in prefixes:
            if key.startswith(prefix):
                found.setdefault(prefix, {})[key[len(prefix) :]] = attrs.pop(key)
                break
    return found


def indexed_records(flat: dict[str, Any], infix: str) -> list[dict[str, Any]] | None:
    """The common case of :func:`unflatten`, fast: keys ``<index><infix><field>`` (``0.message.role``).

    Returns ``[{field: value}]`` ordered by index, or None when ``flat`` is empty or any key or
    value has another shape (dotted field, non-decimal index, dict value): use :func:`unflatten`.
    """
    records: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        index, found, field = key.partition(infix)
        if not found or "." in field or not _is_index(index) or isinstance(value, dict):
            return None
        record = records.get(index)
        if record is None:
            record = records[index] = {}
        record[field] = value
    return _as_list(records) if records else None


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

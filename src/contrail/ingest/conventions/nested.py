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


def unflatten(flat: dict[str, Any]) -> Any:
    """Rebuild ``{"0.message.role": "user"}`` as ``[{"message": {"role": "user"}}]``.

    Dotted segments become nested dicts; a dict whose keys are all decimal indices becomes a list
    ordered by index (gaps are closed). A key that is both a leaf and a parent keeps the leaf under
    ``""`` so neither value is lost. Dict values in ``flat`` are consumed (converted in place).
    """
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node = root
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"": child}
                node[part] = child
            node = child
        if isinstance(node.get(last), dict):
            node[last][""] = value
        else:
            node[last] = value
    return _listify(root)


def _listify(node: dict[str, Any]) -> Any:
    # In place and without comprehensions: this runs for every message of every span.
    indexed = True
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _listify(value)
        if indexed and not key.isdigit():
            indexed = False
    if indexed and node:
        return [node[key] for key in sorted(node, key=int)]
    return node

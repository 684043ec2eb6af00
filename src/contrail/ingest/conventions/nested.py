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
    ``""`` so neither value is lost.
    """
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"": child}
                node[part] = child
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict):
            node[last][""] = value
        else:
            node[last] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted

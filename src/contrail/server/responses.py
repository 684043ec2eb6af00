"""JSON responses encoded with orjson (fast, and handles Decimal via ``default``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # "0.00000012", never "1.2E-7"
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)

"""Provider errors: one exception for the handlers, rendered in the OpenAI or Anthropic error shape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["openai", "anthropic"]

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}
_OPENAI_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_ANTHROPIC_MESSAGES = {
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of requests has exceeded your rate limit.",
    500: "Internal server error",
    503: "Overloaded",
    529: "Overloaded",
}


@dataclass
class ProviderError(Exception):
    """An error the fake answers with, as the real provider would (status, message, type, code)."""

    status: int
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None

    def body(self, dialect: Dialect, request_id: str) -> dict[str, Any]:
        """The JSON error body in ``dialect``'s shape."""
        if dialect == "anthropic":
            kind = self.error_type or _ANTHROPIC_TYPES.get(self.status, "api_error")
            text = self.message or _ANTHROPIC_MESSAGES.get(self.status, kind.replace("_", " "))
            return {"type": "error", "error": {"type": kind, "message": text}, "request_id": request_id}
        kind = self.error_type or _OPENAI_TYPES.get(self.status, "server_error")
        text = self.message or _OPENAI_MESSAGES.get(self.status, f"Error {self.status}.")
        return {"error": {"message": text, "type": kind, "param": self.param, "code": self.code}}

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``retry-after`` (whole seconds, as HTTP requires) and ``retry-after-ms`` when set."""
        if self.retry_after is None:
            return []
        return [
            (b"retry-after", str(math.ceil(self.retry_after)).encode()),
            (b"retry-after-ms", str(round(self.retry_after * 1000)).encode()),
        ]


def missing_field(dialect: Dialect, name: str) -> ProviderError:
    """The 400 a provider answers when a required body field is absent."""
    if dialect == "anthropic":
        return ProviderError(400, f"{name}: Field required")
    return ProviderError(
        400, f"Missing required parameter: '{name}'.", code="missing_required_parameter", param=name
    )


def invalid_field(dialect: Dialect, name: str, problem: str) -> ProviderError:
    """The 400 a provider answers when a body field has the wrong type or value."""
    if dialect == "anthropic":
        return ProviderError(400, f"{name}: {problem}")
    return ProviderError(400, f"Invalid value for '{name}': {problem}", code="invalid_value", param=name)


def unknown_model(dialect: Dialect, model: str) -> ProviderError:
    """The 404 for a model the fake was not configured to serve."""
    if dialect == "anthropic":
        return ProviderError(404, f"model: {model}")
    return ProviderError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def context_exceeded(dialect: Dialect, tokens: int, window: int) -> ProviderError:
    """The 400 for a prompt longer than the context window."""
    if dialect == "anthropic":
        return ProviderError(400, f"prompt is too long: {tokens} tokens > {window} maximum")
    return ProviderError(
        400,
        f"This model's maximum context length is {window} tokens. However, your messages resulted in "
        f"{tokens} tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
        param="messages",
    )


def malformed_json(dialect: Dialect) -> ProviderError:
    """The 400 for a body that is not JSON."""
    if dialect == "anthropic":
        return ProviderError(400, "There was an error parsing the body of your request: invalid JSON.")
    return ProviderError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
        "valid JSON.)",
    )


def body_too_large(dialect: Dialect, limit: int) -> ProviderError:
    """The 413 for a body above the configured byte limit."""
    if dialect == "anthropic":
        return ProviderError(413)
    return ProviderError(413, f"Request too large: the body exceeds {limit} bytes.", code="request_too_large")

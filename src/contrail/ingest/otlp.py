"""OTLP trace export requests: decoding (protobuf or JSON) and mapping spans to observations.

Contract
--------
:func:`decode_export_request` turns a decompressed body into an ``ExportTraceServiceRequest`` or
raises :class:`OtlpDecodeError` (400) / :class:`UnsupportedContentType` (415) with a message fit for
the client. Invalid UTF-8 in a protobuf string field fails the whole request (upb refuses to parse
it; OTLP requires valid UTF-8), as does JSON nested deeper than the protobuf mapping allows. An
empty body is an empty request.

:func:`map_export_request` maps every span independently; a bad span becomes a
:class:`SpanRejection` (reported as OTLP ``partial_success``) and never affects the others. A span
is rejected when its trace id is not 16 bytes or is all zero, its span id is not 8 bytes or is all
zero, its parent span id is neither empty, all zero (taken as "no parent") nor 8 bytes, its start
time is missing, more than ``limits.max_future_skew_us`` ahead of ``now_us`` or before
``limits.min_start_us``, its end time is before its start, or the request holds more than
``limits.max_spans_per_request`` spans (the excess is rejected). A span without a name is kept and
named ``"(unnamed)"``.

Where values go
---------------
* Conventions (:mod:`contrail.ingest.conventions`) map known attributes and events into fields.
* Attributes no convention consumed: ``metadata["attributes"]``; events no convention consumed:
  ``metadata["events"]`` as ``{"name", "time_us", "attributes"}``; links: ``metadata["links"]``.
* ``metadata["resource"]`` holds the resource attributes (the same dict object for every span of
  one resource: treat it as read-only), ``metadata["scope"]`` ``{"name", "version"}``,
  ``metadata["span_kind"]`` (``"internal"``, ``"client"``...), ``metadata["dropped"]`` the OTLP
  dropped counts when non-zero. These keys are reserved: user metadata from a convention that
  uses one of them is kept under ``"user.<key>"``. Other user metadata (Langfuse
  ``langfuse.observation.metadata.*``, OpenInference ``metadata``, Traceloop association
  properties) sits at the top level of ``metadata``.
* Status code ERROR gives ``Status.ERROR`` and ``Level.ERROR``; the status message goes to
  ``status_message``. ``environment`` falls back to the resource's ``langfuse.environment``,
  ``deployment.environment.name`` or ``deployment.environment``; ``release`` to the resource's
  ``langfuse.release`` or ``service.version``.
* Sizes and depths are bounded as :mod:`contrail.ingest.truncation` describes; each marker counts
  in :attr:`MappedBatch.truncated_values`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from contrail.ingest.attributes import attributes_to_dict
from contrail.ingest.conventions import apply_conventions
from contrail.ingest.conventions.span import SpanEvent, SpanInput
from contrail.ingest.limits import IngestLimits
from contrail.ingest.otlp_json import OtlpJsonError, parse_otlp_json
from contrail.ingest.truncation import Truncator
from contrail.schema.observation import Level, Observation, Status

__all__ = [
    "MappedBatch",
    "OtlpDecodeError",
    "SpanRejection",
    "UnsupportedContentType",
    "decode_export_request",
    "map_export_request",
]

UNNAMED_SPAN = "(unnamed)"
_PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
_JSON_TYPES = frozenset({"application/json"})
_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS = (Status.UNSET, Status.OK, Status.ERROR)
_ZERO_SPAN_ID = bytes(8)
_ZERO_TRACE_ID = bytes(16)
_NUL = "\x00"
RESERVED_METADATA_KEYS = frozenset(
    {"attributes", "events", "links", "resource", "scope", "span_kind", "dropped"}
)


class OtlpDecodeError(ValueError):
    """The request body cannot be decoded; ``str(error)`` is a client-facing message (HTTP 400)."""


class UnsupportedContentType(OtlpDecodeError):
    """The content type is neither OTLP protobuf nor OTLP JSON (HTTP 415)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SpanRejection:
    """One span that was not accepted; ids are hex as received (possibly empty or malformed)."""

    trace_id: str
    span_id: str
    reason: str


@dataclasses.dataclass(slots=True)
class MappedBatch:
    """The result of mapping one export request."""

    observations: list[Observation]
    rejected: list[SpanRejection]
    truncated_values: int

    def partial_success_message(self) -> str:
        """A short message for OTLP ``partial_success.error_message`` (empty when nothing failed)."""
        if not self.rejected:
            return ""
        first = self.rejected[0]
        more = f" (and {len(self.rejected) - 1} more)" if len(self.rejected) > 1 else ""
        return f"{len(self.rejected)} span(s) rejected; first: span {first.span_id!r}: {first.reason}{more}"


def decode_export_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Decode a decompressed OTLP/HTTP body of the given ``Content-Type`` header value.

    Raises :class:`UnsupportedContentType` for anything but ``application/x-protobuf``
    (``application/protobuf``) or ``application/json`` (parameters such as charset are ignored),
    and :class:`OtlpDecodeError` for a body that does not decode.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _PROTOBUF_TYPES:
        return _decode_protobuf(body)
    if media_type in _JSON_TYPES:
        if not body.strip():
            return ExportTraceServiceRequest()
        try:
            return parse_otlp_json(body)
        except OtlpJsonError as exc:
            raise OtlpDecodeError(str(exc)) from None
    raise UnsupportedContentType(
        f"Unsupported Content-Type {content_type!r} for OTLP traces; "
        "send application/x-protobuf or application/json"
    )


def _decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    try:
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(_protobuf_error_message(str(exc))) from None
    return request


def _protobuf_error_message(error: str) -> str:
    detail = error.rsplit(": ", 1)[-1]
    if "UTF-8" in detail:
        reason = "a string field holds invalid UTF-8 (OTLP requires valid UTF-8 strings)"
    elif "depth" in detail.lower():
        reason = "attribute values nest too deeply"
    else:
        reason = detail
    return f"Body is not a valid OTLP protobuf ExportTraceServiceRequest: {reason}"


def map_export_request(request: ExportTraceServiceRequest, limits: IngestLimits, now_us: int) -> MappedBatch:
    """Map every span of ``request`` to an :class:`Observation`, rejecting bad spans individually.

    ``now_us`` is the server clock (microseconds since the epoch) used for the future-skew check.
    Never raises for span content.
    """
    truncator = Truncator(limits)
    mapper = _SpanMapper(limits, now_us, truncator)
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes, truncator)
        mapper.set_resource(resource)
        for scope_spans in resource_spans.scope_spans:
            mapper.set_scope(scope_spans.scope)
            for span in scope_spans.spans:
                mapper.map(span)
    return MappedBatch(mapper.observations, mapper.rejected, truncator.count)


class _SpanMapper:
    """Maps the spans of one request; holds the current resource and scope between spans."""

    def __init__(self, limits: IngestLimits, now_us: int, truncator: Truncator) -> None:
        self.observations: list[Observation] = []
        self.rejected: list[SpanRejection] = []
        self._truncator = truncator
        self._max_start_us = now_us + limits.max_future_skew_us
        self._min_start_us = limits.min_start_us
        self._spans_left = limits.max_spans_per_request
        self._max_spans = limits.max_spans_per_request
        self._resource: dict[str, Any] = {}
        self._environment: str | None = None
        self._release: str | None = None
        self._scope: dict[str, Any] = {}
        # One SpanInput, refilled for each span: the conventions never keep it.
        self._span_input = SpanInput({}, [], self._resource, "", 0, truncator)

    def set_resource(self, resource: dict[str, Any]) -> None:
        self._resource = resource
        self._span_input.resource = resource
        self._environment = _first_str(
            resource, "langfuse.environment", "deployment.environment.name", "deployment.environment"
        )
        self._release = _first_str(resource, "langfuse.release", "service.version")

    def set_scope(self, scope: Any) -> None:
        text = self._truncator.text
        name = text(scope.name)
        self._span_input.scope_name = name
        self._scope = {"name": name, "version": text(scope.version)}
        if len(scope.attributes):
            self._scope["attributes"] = attributes_to_dict(scope.attributes, self._truncator)

    def map(self, span: Any) -> None:
        # Each field is read once: every upb field access builds a Python object.
        trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
        start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
        self._spans_left -= 1
        start_us = start_ns // 1000
        # The common case in one expression; _rejection says why when it fails.
        if not (
            len(trace_id) == 16
            and len(span_id) == 8
            and self._min_start_us <= start_us <= self._max_start_us
            and end_ns >= start_ns
            and self._spans_left >= 0
            and (not parent or len(parent) == 8)
            and trace_id != _ZERO_TRACE_ID
            and span_id != _ZERO_SPAN_ID
        ):
            reason = self._rejection(trace_id, span_id, parent, start_ns, end_ns)
            if reason is not None:
                self.rejected.append(SpanRejection(trace_id.hex(), span_id.hex(), reason))
                return
        obs = Observation(
            trace_id=trace_id.hex(),
            span_id=span_id.hex(),
            name=self._name(span.name),
            start_us=start_us,
            parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN_ID else None,
            end_us=end_ns // 1000 if end_ns else None,
        )
        self._map_fields(span, obs)
        self.observations.append(obs)

    def _rejection(
        self, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int
    ) -> str | None:
        if self._spans_left < 0:
            return f"more than {self._max_spans} spans in one request"
        return _check_ids(trace_id, span_id, parent) or self._check_times(start_ns, end_ns)

    def _name(self, name: str) -> str:
        if not name:
            return UNNAMED_SPAN
        if len(name) > self._truncator.max_chars_fast or _NUL in name:
            return self._truncator.text(name)
        return name

    def _check_times(self, start_ns: int, end_ns: int) -> str | None:
        start_us = start_ns // 1000
        if start_ns == 0:
            return "start_time_unix_nano is missing"
        if start_us > self._max_start_us:
            return "start time is too far in the future (check the client clock)"
        if start_us < self._min_start_us:
            return "start time is too far in the past"
        if end_ns and end_ns < start_ns:
            return "end time is before start time"
        return None

    def _map_fields(self, span: Any, obs: Observation) -> None:
        status = span.status
        code = status.code
        if code:
            obs.status = _STATUS[code] if code < 3 else Status.UNSET
            if obs.status is Status.ERROR:
                obs.level = Level.ERROR
        message = status.message
        if message:
            obs.status_message = self._truncator.text(message)
        events = span.events
        span_input = self._span_input
        span_input.attributes = attributes_to_dict(span.attributes, self._truncator)
        span_input.events = self._events(events) if events else []
        span_input.start_us = obs.start_us
        apply_conventions(span_input, obs)
        self._finish_metadata(obs, span, span_input)
        if obs.environment is None:
            obs.environment = self._environment
        if obs.release is None:
            obs.release = self._release

    def _events(self, events: Any) -> list[SpanEvent]:
        truncator = self._truncator
        return [
            SpanEvent(
                truncator.text(event.name),
                event.time_unix_nano // 1000,
                attributes_to_dict(event.attributes, truncator),
            )
            for event in events
        ]

    def _finish_metadata(self, obs: Observation, span: Any, span_input: SpanInput) -> None:
        metadata = obs.metadata
        if metadata:
            _move_reserved_keys(metadata)
        if span_input.attributes:
            metadata["attributes"] = span_input.attributes
        if span_input.events:
            metadata["events"] = [event.as_metadata() for event in span_input.events]
        links = span.links
        if links:
            metadata["links"] = self._links(links)
        metadata["resource"] = self._resource
        metadata["scope"] = self._scope
        kind = span.kind
        metadata["span_kind"] = _SPAN_KINDS[kind] if kind < len(_SPAN_KINDS) else str(kind)
        dropped_attributes = span.dropped_attributes_count
        dropped_events = span.dropped_events_count
        dropped_links = span.dropped_links_count
        if dropped_attributes or dropped_events or dropped_links:
            metadata["dropped"] = {
                "attributes": dropped_attributes,
                "events": dropped_events,
                "links": dropped_links,
            }

    def _links(self, links: Any) -> list[dict[str, Any]]:
        return [
            {
                "trace_id": link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "attributes": attributes_to_dict(link.attributes, self._truncator),
            }
            for link in links
        ]


def _check_ids(trace_id: bytes, span_id: bytes, parent: bytes) -> str | None:
    if len(trace_id) != 16:
        return f"trace_id must be 16 bytes (32 hex characters), got {len(trace_id)} bytes"
    if trace_id == _ZERO_TRACE_ID:
        return "trace_id is all zero"
    if len(span_id) != 8:
        return f"span_id must be 8 bytes (16 hex characters), got {len(span_id)} bytes"
    if span_id == _ZERO_SPAN_ID:
        return "span_id is all zero"
    if parent and len(parent) != 8:
        return f"parent_span_id must be empty or 8 bytes, got {len(parent)} bytes"
    return None


def _move_reserved_keys(metadata: dict[str, Any]) -> None:
    # User metadata (from a convention) that uses a reserved key is kept under "user.<key>".
    for key in RESERVED_METADATA_KEYS.intersection(metadata):
        metadata[f"user.{key}"] = metadata.pop(key)


def _first_str(values: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return None

"""The datasets and experiments HTTP API, as the experiment runner and the CLI use it.

:class:`EvalsClient` speaks the API documented in docs/evals.md (async ``httpx``; 429/5xx and
connection errors retried with backoff). :class:`MemoryBackend` keeps the same operations in memory
for running evaluations without a server (unit tests, benchmarks of the runner itself).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from contrail._version import __version__
from contrail.evals.targets import RetryPolicy, retry_after_seconds

if TYPE_CHECKING:
    import httpx

    from contrail.sdk.config import Config

_log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_PAGE = 500


class EvalsApiError(Exception):
    """The server refused a request; ``code`` and ``details`` come from its error envelope."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ServerUnreachableError(EvalsApiError):
    """No answer from the server at all (refused, DNS, timeout)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DatasetItem:
    id: str
    input: Any
    expected_output: Any = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DatasetItem:
        return cls(str(raw["id"]), raw.get("input"), raw.get("expected_output"), raw.get("metadata") or {})


class ExperimentBackend(Protocol):
    """Where the runner reads a dataset and records an experiment."""

    async def dataset_items(self, dataset: str, version: int | None = None) -> list[DatasetItem]: ...

    async def create_experiment(self, body: Mapping[str, Any], *, resume: bool) -> dict[str, Any]: ...

    async def experiment_results(self, experiment_id: str) -> list[dict[str, Any]]: ...

    async def write_results(self, experiment_id: str, results: Sequence[Mapping[str, Any]]) -> None: ...

    async def set_status(self, experiment_id: str, status: str) -> dict[str, Any]: ...


class EvalsClient:
    """Async client for ``/api/v1/datasets`` and ``/api/v1/experiments``; use ``async with``."""

    def __init__(
        self,
        host: str,
        *,
        secret_key: str | None = None,
        public_key: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self._auth = _auth_header(public_key, secret_key)
        self._timeout = timeout_s
        self._retry = retry or RetryPolicy(max_retries=3, base_delay_s=0.2)
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_config(cls, config: Config | None = None, **overrides: Any) -> EvalsClient:
        """A client for the server the SDK exports to (``CONTRAIL_HOST`` and the project keys)."""
        from contrail.sdk.config import resolve

        config = config or resolve()
        options: dict[str, Any] = {"secret_key": config.secret_key, "public_key": config.public_key}
        options.update({k: v for k, v in overrides.items() if v is not None})
        host = options.pop("host", None) or config.host
        return cls(host, **options)

    async def __aenter__(self) -> EvalsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # --- datasets -----------------------------------------------------------------------------

    async def get_dataset(self, name: str) -> dict[str, Any]:
        return await self._json("GET", f"/api/v1/datasets/{_segment(name)}")

    async def create_dataset(self, name: str, **fields: Any) -> dict[str, Any]:
        return await self._json("POST", "/api/v1/datasets", json={"name": name, **fields})

    async def upsert_items(self, dataset: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        path = f"/api/v1/datasets/{_segment(dataset)}/items"
        return await self._json("POST", path, json={"items": list(items)})

    async def dataset_items(self, dataset: str, version: int | None = None) -> list[DatasetItem]:
        params: dict[str, Any] = {"status": "active"}
        if version is not None:
            params["version"] = version
        rows = await self._all(f"/api/v1/datasets/{_segment(dataset)}/items", params)
        return [DatasetItem.from_json(row) for row in rows]

    # --- experiments --------------------------------------------------------------------------

    async def create_experiment(self, body: Mapping[str, Any], *, resume: bool) -> dict[str, Any]:
        return await self._json("POST", "/api/v1/experiments", json={**body, "resume": resume})

    async def get_experiment(self, experiment_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/api/v1/experiments/{_segment(experiment_id)}")

    async def list_experiments(self, dataset: str | None = None) -> list[dict[str, Any]]:
        return await self._all("/api/v1/experiments", {"dataset": dataset} if dataset else {})

    async def find_experiment(self, ref: str, dataset: str | None = None) -> dict[str, Any]:
        """An experiment by id, or by name within ``dataset``; EvalsApiError 404 when neither."""
        try:
            return await self.get_experiment(ref)
        except EvalsApiError as exc:
            if exc.status not in (404, 422) or isinstance(exc, ServerUnreachableError):
                raise
        if dataset:
            for experiment in await self.list_experiments(dataset):
                if experiment.get("name") == ref:
                    return experiment
        where = f" on dataset {dataset!r}" if dataset else " (pass a dataset to look it up by name)"
        raise EvalsApiError(404, "not_found", f"No experiment {ref!r}{where}.")

    async def experiment_results(self, experiment_id: str) -> list[dict[str, Any]]:
        return await self._all(f"/api/v1/experiments/{_segment(experiment_id)}/results", {})

    async def write_results(self, experiment_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        path = f"/api/v1/experiments/{_segment(experiment_id)}/results"
        await self._json("POST", path, json={"results": list(results)})

    async def set_status(self, experiment_id: str, status: str) -> dict[str, Any]:
        path = f"/api/v1/experiments/{_segment(experiment_id)}"
        return await self._json("PATCH", path, json={"status": status})

    async def compare(self, baseline: str, candidate: str, metric: str | None = None) -> dict[str, Any]:
        params = {"baseline": baseline, "candidate": candidate}
        if metric:
            params["metric"] = metric
        return await self._json("GET", "/api/v1/experiments/compare", params=params)

    # --- plumbing -----------------------------------------------------------------------------

    async def _all(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page_params = {**params, "limit": _PAGE, **({"cursor": cursor} if cursor else {})}
            page = await self._json("GET", path, params=page_params)
            rows.extend(page.get("data") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return rows

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        body = response.json()
        if not isinstance(body, dict):
            raise EvalsApiError(response.status_code, "bad_response", f"{path} did not answer a JSON object")
        return body

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        for attempt in itertools.count():
            try:
                response = await self._client().request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self._retry.max_retries:
                    raise self._unreachable(exc) from exc
                await asyncio.sleep(self._retry.delay(attempt, 0.0))
                continue
            if response.status_code in _RETRY_STATUS and attempt < self._retry.max_retries:
                await asyncio.sleep(self._retry.delay(attempt, retry_after_seconds(response.headers)))
                continue
            if response.status_code >= 400:
                raise _api_error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends

    def _unreachable(self, exc: Exception) -> ServerUnreachableError:
        return ServerUnreachableError(
            0,
            "unreachable",
            f"Cannot reach Contrail at {self.host} ({type(exc).__name__}: {exc}). Start it with "
            "`contrail server`, or point CONTRAIL_HOST at a running server.",
        )

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            headers = {"User-Agent": f"contrail-evals/{__version__}"}
            if self._auth:
                headers["Authorization"] = self._auth
            self._http = httpx.AsyncClient(base_url=self.host, headers=headers, timeout=self._timeout)
        return self._http


def _segment(value: str) -> str:
    """A path parameter, URL-encoded ("/" included: dataset names may contain it)."""
    return quote(value, safe="")


def _auth_header(public_key: str | None, secret_key: str | None) -> str | None:
    import base64

    if public_key and secret_key:
        return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
    return f"Bearer {secret_key}" if secret_key else None


def _api_error(response: httpx.Response) -> EvalsApiError:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    message = error.get("message") or f"HTTP {response.status_code}: {response.text[:200]}"
    return EvalsApiError(
        response.status_code, str(error.get("code") or "http_error"), message, error.get("details")
    )


class MemoryBackend:
    """Datasets and experiments held in this process (same semantics as the server's upserts)."""

    def __init__(self, datasets: Mapping[str, Sequence[DatasetItem]] | None = None) -> None:
        self.datasets: dict[str, list[DatasetItem]] = {k: list(v) for k, v in (datasets or {}).items()}
        self.experiments: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self.writes = 0

    async def dataset_items(self, dataset: str, version: int | None = None) -> list[DatasetItem]:
        if dataset not in self.datasets:
            raise EvalsApiError(404, "not_found", f"Dataset {dataset!r} not found.")
        return list(self.datasets[dataset])

    async def create_experiment(self, body: Mapping[str, Any], *, resume: bool) -> dict[str, Any]:
        await self.dataset_items(str(body["dataset"]))
        for experiment in self.experiments.values():
            if experiment["name"] == body["name"] and experiment["dataset"] == body["dataset"]:
                if not resume:
                    raise EvalsApiError(409, "conflict", f"Experiment {body['name']!r} exists.")
                return experiment
        experiment_id = f"exp-{len(self.experiments) + 1}"
        experiment = {**body, "id": experiment_id, "status": "running"}
        self.experiments[experiment_id] = experiment
        self.results[experiment_id] = {}
        return experiment

    async def experiment_results(self, experiment_id: str) -> list[dict[str, Any]]:
        return list(self.results[experiment_id].values())

    async def write_results(self, experiment_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        self.writes += 1
        known = {item.id for item in self.datasets[self.experiments[experiment_id]["dataset"]]}
        unknown = [r["item_id"] for r in results if r["item_id"] not in known]
        if unknown:
            raise EvalsApiError(422, "unknown_items", f"Unknown item ids: {unknown}")
        for result in results:
            self.results[experiment_id][str(result["item_id"])] = dict(result)

    async def set_status(self, experiment_id: str, status: str) -> dict[str, Any]:
        self.experiments[experiment_id]["status"] = status
        return self.experiments[experiment_id]

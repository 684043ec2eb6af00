"""``eval.yaml``: what ``contrail eval run`` evaluates and when it fails (schema in docs/evals.md).

    dataset: qa-golden
    target: {kind: python, function: "myapp.rag:answer"}
    scorers: [exact_match, {type: contains, value: "Paris"}]
    thresholds: ["exact_match.mean >= 0.8"]
    baseline: main-nightly
    matrix: [{model: gpt-4o-mini}, {model: gpt-4o, name: big}]   # optional: one experiment per variant

Errors name the file and line: :class:`ConfigError` for bad YAML, unknown fields and bad values.
"""

from __future__ import annotations

import dataclasses
import importlib
import operator
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contrail.evals.targets import HttpTarget, ModelTarget, Target

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_THRESHOLD = re.compile(r"^\s*([A-Za-z0-9_.\-/]+)\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


class ConfigError(ValueError):
    """A problem in an eval file, located (``path:line: message``)."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class Threshold:
    """``metric op value``, e.g. ``exact_match.mean >= 0.8`` (metrics: ExperimentRun.metrics())."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if match is None:
            raise ValueError(
                f"threshold {text!r} is not '<metric> <op> <number>' (e.g. 'exact_match.mean >= 0.8'; "
                "ops: >=, >, <=, <, ==)"
            )
        return cls(match[1], match[2], float(match[3]))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def check(self, metrics: Mapping[str, float]) -> ThresholdResult:
        actual = metrics.get(self.metric)
        passed = actual is not None and _OPS[self.op](actual, self.value)
        return ThresholdResult(self, actual, passed)


@dataclasses.dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None
    passed: bool


def _threshold_text(text: str) -> str:
    Threshold.parse(text)
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PythonTargetConfig(_Strict):
    kind: Literal["python"]
    function: str = Field(description="module:attribute, importable from the eval file's directory")
    cache: bool = False


class HttpTargetConfig(_Strict):
    kind: Literal["http"]
    url: str
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = {}
    headers_env: dict[str, str] = Field(
        default={}, description="header name -> environment variable holding its value (secrets stay out)"
    )
    input_field: str | None = None
    output_path: str = ""


class PromptTargetConfig(_Strict):
    kind: Literal["prompt"]
    model: str
    prompt: str | None = Field(default=None, description="prompt name in the registry")
    version: int | None = None
    label: str | None = None
    messages: list[dict[str, Any]] | None = None
    base_url: str | None = None
    params: dict[str, Any] = {}


TargetConfig = Annotated[
    PythonTargetConfig | HttpTargetConfig | PromptTargetConfig, Field(discriminator="kind")
]


class RegressionGate(_Strict):
    """How the baseline comparison judges one metric: which way is better, and the significance level."""

    direction: Literal["higher", "lower"] = "higher"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)


class EvalConfig(_Strict):
    dataset: str = Field(min_length=1)
    target: TargetConfig
    name: str | None = None
    description: str | None = None
    dataset_version: int | None = Field(default=None, ge=1)
    scorers: list[str | dict[str, Any]] = []
    thresholds: list[Annotated[str, AfterValidator(_threshold_text)]] = []
    max_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    baseline: str | None = None
    regression: dict[str, RegressionGate] = {}
    concurrency: int = Field(default=8, ge=1, le=512)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=50)
    cache: bool | str = True
    matrix: list[dict[str, Any]] | None = Field(
        default=None, description="target variants (overrides of target fields), each run as an experiment"
    )
    matrix_quality: str | None = Field(default=None, description="scorer whose mean is the matrix's quality")

    def parsed_thresholds(self) -> list[Threshold]:
        return [Threshold.parse(text) for text in self.thresholds]


def load_config(path: str | Path) -> EvalConfig:
    """Read and validate an eval file; ConfigError with the line of the first problem."""
    import yaml  # type: ignore[import-untyped,unused-ignore]

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, mark.line + 1 if mark else None, f"invalid YAML: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "an eval file is a mapping (dataset:, target:, scorers: ...)")
    try:
        config = EvalConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        field = ".".join(str(part) for part in loc if not _is_union_tag(part)) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(path, _line(root, loc), f"{field}: {message}") from exc
    try:
        matrix_variants(config)
    except MatrixError as exc:
        raise ConfigError(path, _line(root, exc.loc), str(exc)) from exc
    return config


def _is_union_tag(part: Any) -> bool:
    return part in ("python", "http", "prompt", "str", "dict[str,any]")


def _line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (the deepest one that exists)."""
    import yaml  # type: ignore[import-untyped,unused-ignore]

    if node is None:
        return None
    line = int(node.start_mark.line) + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return int(key.start_mark.line) + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = int(node.start_mark.line) + 1
    return line


# --- matrix: one experiment per target variant ------------------------------------------------


_TARGET_ADAPTER: TypeAdapter[Any] = TypeAdapter(TargetConfig)
_SELECTORS = ("version", "label")  # a prompt is picked by one of these: a variant's choice replaces the other


class MatrixError(ValueError):
    """A bad ``matrix:`` entry; ``loc`` is its path in the file (for the line number)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclasses.dataclass(frozen=True, slots=True)
class Variant:
    """One column of a matrix: its name, the target fields it changes, and the resulting target."""

    name: str
    overrides: dict[str, Any]
    target: PythonTargetConfig | HttpTargetConfig | PromptTargetConfig


def matrix_variants(config: EvalConfig) -> list[Variant]:
    """The variants of ``config.matrix`` (empty without one); MatrixError for an empty matrix, a
    variant that changes the target's kind or sets a field the target does not have, a bad value,
    or two variants with the same name."""
    if config.matrix is None:
        return []
    if not config.matrix:
        raise MatrixError(
            ("matrix",), "matrix: is empty; list at least one variant (e.g. `- {model: gpt-4o}`)"
        )
    variants: list[Variant] = []
    for index, entry in enumerate(config.matrix):
        variant = _variant(config, index, entry)
        if any(v.name == variant.name for v in variants):
            raise MatrixError(
                ("matrix", index),
                f"matrix[{index}]: two variants are named {variant.name!r}; names must differ",
            )
        variants.append(variant)
    return variants


def _variant(config: EvalConfig, index: int, entry: dict[str, Any]) -> Variant:
    where = f"matrix[{index}]"
    overrides = {key: value for key, value in entry.items() if key != "name"}
    kind = config.target.kind
    if overrides.get("kind", kind) != kind:
        raise MatrixError(
            ("matrix", index, "kind"),
            f"{where}: a variant cannot change the target's kind ({kind} -> {overrides['kind']}); "
            "compare different kinds with separate eval files",
        )
    overrides.pop("kind", None)
    if not overrides:
        raise MatrixError(("matrix", index), f"{where}: changes nothing; set a target field (e.g. model:)")
    base = config.target.model_dump(exclude_unset=True)
    if kind == "prompt" and any(key in overrides for key in _SELECTORS):
        base = {key: value for key, value in base.items() if key not in _SELECTORS}
    try:
        target = _TARGET_ADAPTER.validate_python({**base, **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        field = ".".join(str(part) for part in loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"a {kind} target has no field {field!r}"
        raise MatrixError(("matrix", index, *loc), f"{where}.{field}: {message}") from exc
    return Variant(_variant_name(index, entry, overrides), overrides, target)


def _variant_name(index: int, entry: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    """The ``name:`` given, else the changed scalar values (``gpt-4o``, ``v3``, ``staging``)."""
    name = entry.get("name")
    if name is None:
        parts = [f"v{value}" if key == "version" else str(value) for key, value in overrides.items()]
        if any(not isinstance(value, (str, int, float)) for value in overrides.values()):
            raise MatrixError(("matrix", index), f"matrix[{index}]: give this variant a `name:`")
        name = "-".join(parts)
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
        raise MatrixError(
            ("matrix", index, "name"), f"matrix[{index}].name: {name!r} is not a short one-line name"
        )
    return name.strip()


def build_target(
    config: EvalConfig, base_dir: Path, prompt: Any = None, *, target: Any = None
) -> Target | Callable[[Any], Any]:
    """The target an eval file describes (or ``target``, one of its matrix variants); ``prompt`` is the
    fetched prompt for ``kind: prompt``."""
    from contrail.evals.targets import CallableTarget

    target = config.target if target is None else target
    if isinstance(target, PythonTargetConfig):
        return CallableTarget(import_function(target.function, base_dir), cacheable=target.cache)
    if isinstance(target, HttpTargetConfig):
        return HttpTarget(
            target.url,
            method=target.method,
            headers={**target.headers, **_env_headers(target.headers_env)},
            input_field=target.input_field,
            output_path=target.output_path,
            timeout_s=config.timeout_s,
        )
    return ModelTarget(
        model=target.model,
        messages=target.messages,
        prompt=prompt,
        base_url=target.base_url,
        params=target.params,
    )


def _env_headers(names: Mapping[str, str]) -> dict[str, str]:
    """Header values read from the environment; ValueError naming an unset variable."""
    headers = {}
    for header, variable in names.items():
        value = os.environ.get(variable)
        if not value:
            raise ValueError(f"headers_env: environment variable {variable} (for header {header}) is not set")
        headers[header] = value
    return headers


def gated(comparisons: Sequence[Any], gates: Mapping[str, RegressionGate]) -> list[Any]:
    """The server's comparison rows re-judged with each gated metric's direction and alpha: a metric
    regressed when its p-value is below ``alpha`` and the mean moved the wrong way."""
    out = []
    for row in comparisons:
        gate = gates.get(row.metric)
        if gate is None:
            out.append(row)
            continue
        significant = row.p_value is not None and row.p_value < gate.alpha
        worse = row.diff is not None and (row.diff < 0 if gate.direction == "higher" else row.diff > 0)
        items = row.regressed_items if gate.direction == "higher" else ()
        out.append(
            dataclasses.replace(
                row, significant=significant, regressed=significant and worse, regressed_items=items
            )
        )
    return out


def import_function(spec: str, base_dir: Path) -> Callable[[Any], Any]:
    """``module:attribute`` (dots allowed in both), importable from ``base_dir`` or sys.path."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"target function {spec!r} is not 'module:function'")
    if str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for target {spec!r}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ValueError(f"{module_name!r} has no attribute {attribute!r} (target {spec!r})")
        value = getattr(value, part)
    if not callable(value):
        raise ValueError(f"target {spec!r} is not callable")
    return value  # type: ignore[no-any-return]


async def run_eval_file(
    path: str | Path,
    *,
    client: Any,
    name: str | None = None,
    resume: bool = False,
    cache: bool | None = None,
    concurrency: int | None = None,
    progress: bool | None = None,
) -> Any:
    """Load ``path``, run its experiment through ``client`` (an EvalsClient), compare it with the
    baseline when one is named, and return the :class:`~contrail.evals.reports.Verdict`; with a
    ``matrix:``, run one experiment per variant (``<name>-<variant>``, one after the other so their
    latencies compare) and return the :class:`~contrail.evals.reports.MatrixVerdict`.

    Raises ConfigError (bad file, target or scorer spec; every variant's target is built before
    anything runs) and EvalsApiError (unknown dataset, unreachable server, ...).
    """
    from contrail.evals.reports import VariantVerdict, matrix_verdict
    from contrail.evals.runner import _as_scorers, _default_name

    path = Path(path)
    config = load_config(path)
    try:
        scorers = _as_scorers(config.scorers)
    except (ValueError, TypeError) as exc:
        raise ConfigError(path, _field_line(path, "scorers"), f"scorers: {exc}") from exc
    options = {"resume": resume, "cache": cache, "concurrency": concurrency, "progress": progress}
    variants = matrix_variants(config)
    if not variants:
        target = await _built_target(config, config.target, path, client, ("target",))
        return await _run_one(config, path, client, target, scorers, name or config.name, {}, options)
    quality = config.matrix_quality or (scorers[0].name if scorers else None)
    if quality is not None and quality not in {s.name for s in scorers}:
        line = _field_line(path, "matrix_quality")
        raise ConfigError(path, line, f"matrix_quality: {quality!r} is not the name of a scorer")
    targets = [
        await _built_target(config, v.target, path, client, ("matrix", i)) for i, v in enumerate(variants)
    ]
    base = name or config.name or _default_name(config.dataset)
    verdicts = []
    for variant, target in zip(variants, targets, strict=True):
        meta = {"matrix_variant": variant.name}
        verdict = await _run_one(
            config, path, client, target, scorers, f"{base}-{variant.name}", meta, options
        )
        verdicts.append(VariantVerdict(variant.name, variant.overrides, verdict))
    return matrix_verdict(config.dataset, verdicts, quality=quality)


async def _built_target(
    config: EvalConfig, target: Any, path: Path, client: Any, loc: tuple[Any, ...]
) -> Target | Callable[[Any], Any]:
    """The runnable target for ``target`` (the file's, or a variant's); ConfigError located at ``loc``."""
    where = "target" if loc == ("target",) else f"matrix[{loc[1]}]"
    try:
        return build_target(config, path.resolve().parent, await _prompt(target), target=target)
    except ValueError as exc:
        raise ConfigError(path, _field_line(path, *loc), f"{where}: {exc}") from exc


async def _run_one(
    config: EvalConfig,
    path: Path,
    client: Any,
    target: Target | Callable[[Any], Any],
    scorers: Sequence[Any],
    name: str | None,
    metadata: Mapping[str, Any],
    options: Mapping[str, Any],
) -> Any:
    """Run one experiment and judge it (thresholds, error rate, baseline comparison)."""
    from contrail.evals.cache import ResultCache
    from contrail.evals.reports import comparisons_from, judge
    from contrail.evals.runner import arun_experiment
    from contrail.evals.targets import RetryPolicy

    use_cache: ResultCache | bool | None = options["cache"]
    if use_cache is None and isinstance(config.cache, str):
        use_cache = ResultCache(Path(config.cache).expanduser())
    elif use_cache is None and config.cache is False:
        use_cache = False
    run = await arun_experiment(
        config.dataset,
        target,
        scorers,
        name=name,
        backend=client,
        dataset_version=config.dataset_version,
        description=config.description,
        metadata={"eval_file": path.name, **metadata},
        concurrency=options["concurrency"] or config.concurrency,
        timeout_s=config.timeout_s,
        retry=RetryPolicy(max_retries=config.max_retries),
        resume=options["resume"],
        cache=use_cache,
        progress=options["progress"],
    )
    comparisons, baseline = [], None
    if config.baseline:
        baseline = await client.find_experiment(config.baseline, config.dataset)
        comparisons = gated(
            comparisons_from(await client.compare(str(baseline["id"]), run.id)), config.regression
        )
    return judge(
        run,
        config.parsed_thresholds(),
        max_error_rate=config.max_error_rate,
        comparisons=comparisons,
        baseline=baseline,
    )


async def _prompt(target: Any) -> Any:
    if not isinstance(target, PromptTargetConfig) or target.prompt is None:
        if isinstance(target, PromptTargetConfig) and target.messages is None:
            raise ValueError("a prompt target needs `prompt:` (a registry name) or `messages:`")
        return None
    from contrail.sdk.prompts import PromptUnavailableError, get_prompt

    if target.version is not None and target.label is not None:
        raise ValueError("give the prompt's `version:` or its `label:`, not both")
    label = None if target.version is not None else (target.label or "production")
    try:
        return get_prompt(target.prompt, version=target.version, label=label, cache_ttl_seconds=0)
    except PromptUnavailableError as exc:
        raise ValueError(str(exc)) from exc


def _field_line(path: Path, *loc: Any) -> int | None:
    """Line of the node at ``loc`` (e.g. ``"scorers"``, or ``"matrix", 2``) in an already validated file."""
    import yaml  # type: ignore[import-untyped,unused-ignore]

    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    return _line(root, loc)

"""Evaluations: datasets and their items, experiments and their results, the comparison of two runs,
and the online evaluation rules with their recent errors.

Everyone in the project reads; members and admins create and switch rules (CSRF-checked by the UI
router). Every query goes through the evals domain functions, scoped to the signed-in project.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from contrail.evals import calibration_data, datasets, experiments, online, online_jobs
from contrail.evals.datasets import DatasetError
from contrail.server.state import server_state
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render
from contrail.store.accounts import Action
from contrail.store.pagination import CursorError

router = APIRouter()
Who = Annotated[SignedIn, Depends(signed_in)]
T = TypeVar("T")
_EDIT: Action = "manage_keys"  # members and admins
_PAGE = 50


def _fetch(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A domain call whose refusals become the UI's error page (404 / 422), never a 500."""
    try:
        return function(*args, **kwargs)
    except DatasetError as exc:
        raise UiError(404 if exc.kind == "not_found" else 422, exc.message) from exc
    except online.RuleError as exc:
        raise UiError(404 if exc.kind == "not_found" else 422, exc.message) from exc
    except (CursorError, ValueError) as exc:
        raise UiError(422, str(exc)) from exc


def pretty(value: Any) -> str:
    """A JSON value as readable text for <pre> blocks (the template escapes it)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


# --- datasets -----------------------------------------------------------------------------------------


@router.get("/datasets")
def datasets_page(request: Request, who: Who, cursor: str | None = None) -> Response:
    engine = server_state(request).engine
    page = _fetch(datasets.list_datasets, engine, who.project_id, limit=_PAGE, cursor=cursor)
    return render(request, "datasets.html", who, page=page)


@router.get("/evaluations/dataset-options")
def dataset_options(request: Request, who: Who) -> Response:
    """<option>s of the project's dataset names, for the trace page's "Add to dataset" form."""
    page = _fetch(datasets.list_datasets, server_state(request).engine, who.project_id, limit=500)
    return render(request, "evals_dataset_options.html", who, names=[d["name"] for d in page.items])


@router.post("/traces/{trace_id}/add-to-dataset")
def add_trace_to_dataset(
    request: Request,
    who: Who,
    trace_id: str,
    dataset: Annotated[str, Form(min_length=1, max_length=200)],
    create: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """The trace's root input and output as an item of ``dataset`` (created first when asked);
    a trace already in the dataset updates its item. Members and admins only."""
    project = who.require(_EDIT)
    engine = server_state(request).engine
    name = dataset.strip()
    if create == "true" and not _dataset_exists(engine, project.project_id, name):
        _fetch(datasets.create_dataset, engine, project.project_id, name, None, None)
    result = _fetch(datasets.items_from_traces, engine, project.project_id, name, trace_ids=[trace_id])
    if not result.items:
        raise UiError(422, "This trace has no root observation with an input or output to add.")
    item = quote(result.items[0], safe="")
    return RedirectResponse(
        f"/datasets/{quote(name, safe='')}/items/{item}?project={project.project_id}", status_code=303
    )


def _dataset_exists(engine: Any, project_id: str, name: str) -> bool:
    try:
        datasets.get_dataset(engine, project_id, name)
    except DatasetError as exc:
        if exc.kind != "not_found":
            raise UiError(422, exc.message) from exc
        return False
    return True


@router.get("/datasets/{name:path}/items/{item_id:path}")
def item_page(request: Request, who: Who, name: str, item_id: str) -> Response:
    engine = server_state(request).engine
    item = _fetch(datasets.get_item, engine, who.project_id, name, item_id)
    history = _fetch(datasets.item_history, engine, who.project_id, name, item_id)
    return render(request, "dataset_item.html", who, name=name, item=item, history=history, pretty=pretty)


@router.get("/datasets/{name:path}")
def dataset_page(
    request: Request, who: Who, name: str, version: int | None = None, cursor: str | None = None
) -> Response:
    engine = server_state(request).engine
    dataset = _fetch(datasets.get_dataset, engine, who.project_id, name)
    items = _fetch(
        datasets.list_items, engine, who.project_id, name, version=version, limit=_PAGE, cursor=cursor
    )
    runs = _fetch(experiments.list_experiments, engine, who.project_id, dataset=name, limit=_PAGE)
    return render(
        request,
        "dataset.html",
        who,
        dataset=dataset,
        items=items,
        version=version or dataset["version"],
        experiments=runs.items,
        pretty=pretty,
    )


# --- experiments ----------------------------------------------------------------------------------------


@router.get("/experiments")
def experiments_page(request: Request, who: Who, dataset: str | None = None) -> Response:
    engine = server_state(request).engine
    page = _fetch(experiments.list_experiments, engine, who.project_id, dataset=dataset or None, limit=_PAGE)
    summaries = [_fetch(experiments.get_experiment, engine, who.project_id, e["id"]) for e in page.items]
    metrics = sorted({name for e in summaries for name in (e["summary"] or {}).get("scores", {})})
    return render(
        request,
        "experiments.html",
        who,
        experiments=summaries,
        metrics=metrics,
        dataset=dataset or "",
        pareto=_pareto(summaries, metrics) if dataset else [],
    )


def _pareto(summaries: list[dict[str, Any]], metrics: list[str]) -> list[dict[str, Any]]:
    """Per experiment: cost, p95 latency, each metric's mean and whether it is on that metric's
    quality/cost Pareto front (for the chart; uPlot draws it, the table above holds the numbers)."""
    from contrail.evals.stats import pareto_front  # numpy: only on this page

    rows = []
    for e in summaries:
        s = e["summary"] or {}
        means = {m: (s.get("scores", {}).get(m) or {}).get("mean") for m in metrics}
        cost = s.get("cost_usd_total")
        rows.append({"name": e["name"], "cost": None if cost is None else float(cost), "means": means})
    for m in metrics:
        table = {r["name"]: {"quality": r["means"][m], "cost": r["cost"]} for r in rows}
        front = set(pareto_front(table, {"quality": "max", "cost": "min"}).front)
        for r in rows:
            r.setdefault("front", {})[m] = r["name"] in front
    return rows


@router.get("/experiments/compare")
def compare_page(request: Request, who: Who, baseline: str = "", candidate: str = "") -> Response:
    engine = server_state(request).engine
    if not baseline or not candidate:
        raise UiError(422, "Pick two experiments to compare (baseline and candidate).")
    base = _fetch(experiments.get_experiment, engine, who.project_id, baseline)
    cand = _fetch(experiments.get_experiment, engine, who.project_id, candidate)
    comparison = _fetch(experiments.compare_experiments, engine, who.project_id, baseline, candidate)
    outputs = _outputs(engine, who.project_id, baseline, candidate, comparison)
    return render(
        request,
        "experiment_compare.html",
        who,
        base=base,
        cand=cand,
        comparison=comparison,
        outputs=outputs,
        pretty=pretty,
    )


def _outputs(
    engine: Any, project_id: str, baseline: str, candidate: str, comparison: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Both outputs and a line diff for each regressed item (the first 20 per metric)."""
    wanted = {c["item_id"] for m in comparison["metrics"] for c in m["regressed_items"][:20]}
    if not wanted:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for side, experiment_id in (("baseline", baseline), ("candidate", candidate)):
        for row in _all_results(engine, project_id, experiment_id):
            if row["item_id"] in wanted:
                found.setdefault(row["item_id"], {"input": row["input"]})[side] = pretty(row["output"])
    for entry in found.values():
        before, after = entry.get("baseline", ""), entry.get("candidate", "")
        entry["diff"] = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2))[
            2:
        ]
    return found


def _all_results(engine: Any, project_id: str, experiment_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = experiments.list_results(engine, project_id, experiment_id, limit=500, cursor=cursor)
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or len(rows) >= 5000:
            return rows


@router.get("/experiments/{experiment_id}/calibration")
def calibration_page(
    request: Request, who: Who, experiment_id: str, judge: str = "", human: str = ""
) -> Response:
    """Pick a judge score and a human-label score; show their agreement and worst disagreements."""
    engine = server_state(request).engine
    experiment = _fetch(experiments.get_experiment, engine, who.project_id, experiment_id)
    names = _fetch(calibration_data.score_names, engine, who.project_id, experiment_id)
    report, problem = None, None
    if judge and human:
        try:
            report = _fetch(calibration_data.calibration, engine, who.project_id, experiment_id, judge, human)
        except UiError as exc:  # too few pairs or an unknown name: explain on the page, keep the pickers
            problem = exc.message
    return render(
        request,
        "experiment_calibration.html",
        who,
        experiment=experiment,
        names=names,
        judge=judge,
        human=human,
        report=report,
        problem=problem,
        status=422 if problem else 200,
    )


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, who: Who, experiment_id: str, cursor: str | None = None) -> Response:
    engine = server_state(request).engine
    experiment = _fetch(experiments.get_experiment, engine, who.project_id, experiment_id)
    results = _fetch(
        experiments.list_results, engine, who.project_id, experiment_id, limit=_PAGE, cursor=cursor
    )
    siblings = _fetch(
        experiments.list_experiments, engine, who.project_id, dataset=experiment["dataset"], limit=_PAGE
    )
    return render(
        request,
        "experiment.html",
        who,
        experiment=experiment,
        results=results,
        siblings=[e for e in siblings.items if e["id"] != experiment_id],
        pretty=pretty,
    )


# --- online evaluation rules -------------------------------------------------------------------------------


@router.get("/evaluations/rules")
def rules_page(request: Request, who: Who) -> Response:
    return _rules(request, who)


def _rules(
    request: Request, who: Who, *, error: str | None = None, form: Any = None, status: int = 200
) -> Response:
    engine = server_state(request).engine
    rules = online.list_rules(engine, who.project_id)
    counts = online_jobs.job_counts(engine, who.project_id)
    failures = {
        r.id: online_jobs.list_jobs(engine, who.project_id, r.id, status="failed", limit=5) for r in rules
    }
    return render(
        request,
        "eval_rules.html",
        who,
        rules=rules,
        counts=counts,
        failures=failures,
        error=error,
        form=form or {},
        status=status,
    )


@router.post("/evaluations/rules")
def create_rule(
    request: Request,
    who: Who,
    name: Annotated[str, Form(max_length=200)],
    sampling_percent: Annotated[str, Form(max_length=20)],
    scorer: Annotated[str, Form(max_length=20_000)],
    filter_json: Annotated[str, Form(alias="filter", max_length=20_000)] = "",
    target: Annotated[str, Form(max_length=20)] = "trace",
) -> Response:
    project = who.require(_EDIT)
    form = {"name": name, "sampling_percent": sampling_percent, "scorer": scorer, "filter": filter_json}
    try:
        body = online.RuleIn.model_validate(
            {
                "name": name,
                "sampling_percent": sampling_percent,
                "scorer": json.loads(scorer),
                "filter": json.loads(filter_json) if filter_json.strip() else {},
                "target": target,
            }
        )
        online.create_rule(server_state(request).engine, project.project_id, body)
    except json.JSONDecodeError as exc:
        return _rules(
            request, who, error=f"Scorer and filter must be JSON objects ({exc.msg}).", form=form, status=422
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in exc.errors())
        return _rules(request, who, error=problems, form=form, status=422)
    except online.RuleError as exc:
        return _rules(request, who, error=exc.message, form=form, status=422)
    return RedirectResponse(f"/evaluations/rules?project={project.project_id}", status_code=303)


@router.post("/evaluations/rules/{rule_id}/enabled")
def switch_rule(
    request: Request, who: Who, rule_id: str, enabled: Annotated[str, Form(max_length=5)]
) -> Response:
    project = who.require(_EDIT)
    patch = online.RulePatch(enabled=enabled == "true")
    _fetch(online.update_rule, server_state(request).engine, project.project_id, rule_id, patch)
    return RedirectResponse(f"/evaluations/rules?project={project.project_id}", status_code=303)

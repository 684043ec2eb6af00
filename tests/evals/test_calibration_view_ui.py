"""The judge calibration page: pickers, the headline figure, the confusion matrix and the disagreements
with links to traces; hostile labels are shown as text; too few pairs is explained on the page."""

from __future__ import annotations

import uuid

from contrail.store import accounts
from tests.conftest import LiveContrail
from tests.evals.test_calibration_view import HUMAN, JUDGE, _experiment, _kappa
from tests.ui.conftest import PASSWORD, Site, signed_in_client

HOSTILE = '<script>alert("xss")</script>'


def _site(live: LiveContrail) -> Site:
    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    user = accounts.create_user(engine, "viewer@example.com", PASSWORD)
    accounts.set_role(engine, user.id, live.project_id, "viewer")
    return Site(live, {"viewer": user.email})


def test_calibration_page_shows_kappa_matrix_and_escaped_disagreements(sqlite_contrail: LiveContrail) -> None:
    judge = [HOSTILE if label == "meh" else label for label in JUDGE]
    human = [HOSTILE if label == "meh" else label for label in HUMAN]
    traces = [uuid.uuid4().hex for _ in judge]
    results = [
        {
            "item_id": f"item-{i}",
            "trace_id": t,
            "scores": [{"name": "judge", "label": j}, {"name": "human", "label": h}],
        }
        for i, (t, j, h) in enumerate(zip(traces, judge, human, strict=True))
    ]
    with sqlite_contrail.client() as client:
        experiment_id = _experiment(client, "cal-ui", len(results), results)
        few_id = _experiment(
            client, "cal-ui-few", 1, [{"item_id": "item-0", "scores": [{"name": "judge", "value": 1}]}]
        )
    site = _site(sqlite_contrail)
    url = f"/experiments/{experiment_id}/calibration"
    with signed_in_client(site, "viewer") as ui:
        picker = ui.get(url)
        page = ui.get(url, params={"judge": "judge", "human": "human"})
        few = ui.get(f"/experiments/{few_id}/calibration", params={"judge": "judge", "human": "human"})
        experiment = ui.get(f"/experiments/{experiment_id}")
    assert picker.status_code == 200 and '<option value="human">' in picker.text
    assert 'id="calibration-report"' not in picker.text
    assert page.status_code == 200, page.text
    assert f"{_kappa(judge, human):.3f}" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in page.text
    # item-8: judge said the hostile label, humans "bad"; its row links to its trace.
    assert 'data-item="item-8"' in page.text and f"/traces/{traces[8]}?" in page.text
    assert 'id="confusion"' in page.text
    assert few.status_code == 422 and "at least 3 items" in few.text
    assert f'href="/experiments/{experiment_id}/calibration?' in experiment.text

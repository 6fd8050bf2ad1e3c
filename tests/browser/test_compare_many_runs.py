"""Real Chromium on the compare page with more curves than a legend can show: drawn as few traces, each run still named."""

import pytest

from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Playwright page fixture)
from tests.browser.test_team_pages import log_in
from tests.compare.factories import make_run

pytestmark = [pytest.mark.browser]
DRAWN = "document.getElementById('compare-meta').textContent.includes('points drawn')"


def test_it_draws_a_colour_of_runs_as_one_trace_and_names_the_run_under_the_mouse(page, live_server, team_and_user):  # noqa: F811
    team, alice, experiment = team_and_user
    runs = [make_run(experiment, epochs=4, steps_per_epoch=5, name=f"seed {i}", seed=i) for i in range(13)]
    log_in(page, live_server)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/compare/?runs={','.join(str(r.pk) for r in runs)}")
    page.wait_for_function(DRAWN)
    # 13 runs × train and val loss = 26 curves: the 12 colours × 2 metrics, runs 0 and 12 sharing the first colour
    traces = page.eval_on_selector("#chart-compare", "el => el.data.map((t) => [t.name, t.x.length])")
    assert len(traces) == 24 and page.eval_on_selector("#chart-compare", "el => el.layout.showlegend") is False
    assert traces[0] == ["2 runs · train_loss", 4 + 1 + 4]  # each run's 4 epochs, a gap between them
    assert sum(n for _, n in traces) == 26 * 4 + 2
    assert "104 points drawn" in page.inner_text("#compare-meta")
    # the point after the gap is run 12's: hovering it names that run, not run 0
    page.evaluate("Plotly.Fx.hover('chart-compare', [{curveNumber: 0, pointNumber: 5}])")
    label = page.eval_on_selector("#chart-compare .hoverlayer", "g => g.textContent")
    assert "seed 12" in label and "seed 0" not in label and "train_loss" in label
    # smoothing and log scale still redraw the merged traces
    raw = page.eval_on_selector("#chart-compare", "el => el.data[0].y.slice()")
    page.fill("#smoothing", "0.8")
    page.dispatch_event("#smoothing", "input")
    smoothed = page.eval_on_selector("#chart-compare", "el => el.data[0].y")
    assert smoothed[4] is None and smoothed[5] == raw[5] and smoothed[6] != raw[6]  # each run smoothed on its own
    page.check("#log-scale")
    assert page.eval_on_selector("#chart-compare", "el => el.layout.yaxis.type") == "log"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare_many_runs.png"), full_page=True)

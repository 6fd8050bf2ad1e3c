"""Real Chromium: run names told apart in the compare page, rename from the run page, one date wording in JS too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.test_launch_flow import page  # noqa: F401  (the Playwright page fixture)
from tests.browser.test_team_pages import log_in
from webapp.templatetags.losslab import exact_time, relative_time
from workers.training.presets import PRESETS

pytestmark = [pytest.mark.browser]


def tutorial(**sections) -> dict:
    data = PRESETS["tutorial_mlp"][1].model_dump(mode="json")
    data["epochs"] = 2
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return data


def test_names_dates_and_rename_in_the_browser(page, live_server, team_and_user):  # noqa: F811
    from experiments import metric_store, services
    from experiments.models import Run

    team, alice, experiment = team_and_user
    variants = [tutorial(), tutorial(loss={"label_smoothing": 0.1}), tutorial(regularization={"l2": 0.1})]
    runs = [services.run_launch(experiment=experiment, user=alice, config=c, preset="tutorial_mlp") for c in variants]
    assert [r.name for r in runs] == ["tutorial mlp · epochs 2 · seed 0", "ls 0.1 · seed 0", "l2 0.1 · seed 0"]
    finished = timezone.now() - timedelta(minutes=5, seconds=10)
    for run in runs:
        metric_store.write_points(run.pk, [(s, "train_loss", 1.0 / (s + 1), float(s)) for s in range(4)])
        Run.objects.filter(pk=run.pk).update(status="succeeded", finished_at=finished, epoch=2)
    log_in(page, live_server)

    # the dashboard's script writes a time as the template filter does, exact time on hover
    recent = page.locator("[data-section=recent] time").first
    recent.wait_for()
    assert recent.inner_text() == "5 min ago" and recent.get_attribute("title") == exact_time(finished)
    seconds = [0, 59, 60, 3599, 3600, 86399, 86400, 9 * 86400, -600, -7200]
    assert page.evaluate("(xs) => xs.map(LossLab.relativeTime)", seconds) == [relative_time(s) for s in seconds]

    # the compare page: one legend entry and one config-diff column per run, under its whole name
    ids = ",".join(str(r.pk) for r in runs)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/compare/?runs={ids}&keys=train_loss")
    page.wait_for_function("document.getElementById('chart-compare').data")
    legend = page.eval_on_selector("#chart-compare", "el => el.data.map((t) => t.name)")
    assert legend == [f"{r.name} · train_loss" for r in runs]
    heads = page.locator("#config-diff th.run-name")
    assert heads.all_inner_texts() == [r.name for r in runs]  # not upper-cased, not cut
    assert heads.first.evaluate("th => getComputedStyle(th).textTransform") == "none"
    assert "loss.label_smoothing = 0.1" in heads.nth(1).locator("a").get_attribute("title")

    # rename and tag from the run page; the tag filters the experiment page
    page.goto(f"{live_server.url}/runs/{runs[2].pk}/")
    page.click("#rename summary")
    page.fill("#rename input[name=name]", "strong l2")
    page.fill("#rename input[name=tags]", "Regularised, keep")
    page.click("#rename button[type=submit]")
    page.wait_for_selector("h1:text('strong l2')")
    page.click("#rename a.chip:text('keep')")
    page.wait_for_selector("#tag-filtered")
    assert page.locator("#runs tbody tr").all_inner_texts()[0].strip().startswith("strong l2 regularised keep")
    assert page.locator("#runs tbody tr").count() == 1

"""Real Chromium on the compare, leaderboard and sweep pages, fed by synthetic histories in the real metric store."""

from pathlib import Path

import pytest

from experiments.models import Run, SavedComparison
from tests.compare.factories import make_run

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def overfits(e):
    return 0.6 / e + 0.02 * max(0, e - 8) + 0.2


def test_compare_page_overlays_chosen_runs_and_saves_the_view(browser_page, live_server, team_and_user):
    team, alice, experiment = team_and_user
    a = make_run(experiment, epochs=20, steps_per_epoch=40, name="adam lr 0.01", verdict="good_fit")
    b = make_run(
        experiment,
        epochs=20,
        steps_per_epoch=40,
        name="adam lr 0.1",
        optimizer={"lr": 0.1},
        val_curve=overfits,
        verdict="overfitting",
    )
    c = make_run(experiment, epochs=20, steps_per_epoch=40, name="focal lr 0.01", loss={"name": "focal"}, score=0.8)
    page = browser_page
    page.login(alice)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/")
    page.wait_for_selector("#leaderboard-top")
    page.fill(".picker-filter", "lr 0.01")  # the filter hides the lr 0.1 run
    assert page.is_hidden(f'tr[data-run="{b.pk}"]')
    page.click(".picker-all")
    assert page.inner_text(".picker-count") == "2 selected"
    shot(page, "experiment_page_selection.png")
    page.click(".picker-submit")
    page.wait_for_selector("#chart-compare .scatterlayer .trace")
    assert "trained with different losses" in page.inner_text("#loss-notice")
    # different losses: the default axis is the shared metric, one curve per run
    assert sorted(page.eval_on_selector("#chart-compare", "el => el.data.map(t => t.name)")) == [
        "adam lr 0.01 · val_accuracy",
        "focal lr 0.01 · val_accuracy",
    ]
    assert sorted(page.inner_text('#config-diff tr[data-field="loss.name"]').split()) == [
        "cross_entropy",
        "focal",
        "loss.name",
    ]
    page.wait_for_selector("#chart-parcoords .parcoords")

    # train and val loss by epoch, smoothed, log scale: redrawn without a reload
    page.uncheck('#key-choices input[value="val_accuracy"]')
    page.check('#key-choices input[value="val_loss"]')
    page.wait_for_function(
        "document.querySelector('#chart-compare').data.length === 2 && "
        "document.querySelector('#chart-compare').data[0].name.endsWith('val_loss')"
    )
    page.select_option("#x-axis", "epoch")
    page.wait_for_function(
        "document.querySelector('#chart-compare').data[0].x.length === 20 && "
        "document.querySelector('#chart-compare').data[0].x[19] === 20"
    )
    raw = page.eval_on_selector("#chart-compare", "el => el.data[0].y.slice()")
    page.fill("#smoothing", "0.8")
    page.dispatch_event("#smoothing", "input")
    smoothed = page.eval_on_selector("#chart-compare", "el => el.data[0].y")
    assert smoothed[0] == raw[0] and smoothed[10] != raw[10]
    page.check("#log-scale")
    assert page.eval_on_selector("#chart-compare", "el => el.layout.yaxis.type") == "log"
    assert "x=epoch" in page.url and "smoothing=0.8" in page.url  # shareable as it stands
    shot(page, "compare_page.png")

    page.fill('#save-form input[name="name"]', "does focal help?")
    page.click('#save-form button[type="submit"]')
    page.wait_for_selector("#chart-compare .scatterlayer .trace")
    saved = SavedComparison.objects.get()
    assert page.url.endswith(f"/comparisons/{saved.pk}/")
    assert saved.options["x"] == "epoch" and saved.options["log"] is True and saved.options["keys"] == ["val_loss"]
    assert page.input_value("#x-axis") == "epoch" and page.is_checked("#log-scale")
    assert c.pk in saved.run_ids and a.pk in saved.run_ids


def test_leaderboard_ranks_groups_and_compares_to_a_baseline(browser_page, live_server, team_and_user):
    team, alice, experiment = team_and_user
    for seed, score in enumerate([0.95, 0.96, 0.955]):
        make_run(experiment, seed=seed, score=score, history=False, optimizer={"name": "adam"})
    for seed, score in enumerate([0.80, 0.82, 0.81]):
        make_run(experiment, seed=seed, score=score, history=False, optimizer={"name": "sgd"})
    for seed, score in enumerate([0.70, 0.72]):
        make_run(experiment, seed=seed, score=score, history=False, optimizer={"name": "rmsprop"})
    make_run(
        experiment, seed=9, status="diverged", score=None, history=False, optimizer={"name": "sgd"}, verdict="diverged"
    )
    make_run(experiment, seed=0, score=0.5, history=False, optimizer={"name": "adagrad"})  # one seed: no interval
    page = browser_page
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.login(alice)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/leaderboard/")
    page.wait_for_selector("#chart-ranking .scatterlayer .point")
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 4 and page.locator("#chart-ranking .scatterlayer .point").count() == 4
    assert not errors
    assert rows.nth(0).locator("td").nth(1).inner_text().strip() == "adam"
    assert "clearly ahead" in rows.nth(0).inner_text()
    # The verdict cell is laid out as a cell, not as a diagnosis chip (a shared class once made it an inline box).
    verdict_cells = rows.locator("td[data-verdict]")
    displays = verdict_cells.evaluate_all("cells => cells.map(c => getComputedStyle(c).display)")
    assert displays == ["table-cell"] * 4, displays
    assert "optimizer.name = adam" in rows.nth(0).locator("td").nth(1).get_attribute("title")
    assert "needs 2 seeds" in rows.nth(3).inner_text() and "Queue 2 missing seeds" in rows.nth(3).inner_text()
    assert "1 more seed needed" in page.inner_text("#ranking")
    assert "Queue 1 missing seed" in page.inner_text("#ranking")
    assert "1 diverged" in page.inner_text("#ranking")
    # No sweep here: the effects of ad-hoc runs are never pooled; the page says how to get them.
    assert page.locator("#effects table").count() == 0 and "launch a sweep" in page.inner_text("#effects")
    sgd = Run.objects.filter(config__optimizer__name="sgd").first().group_hash
    page.select_option('select[name="baseline"]', sgd)
    page.wait_for_selector("text=P(beats baseline)")
    assert "baseline" in page.inner_text(f'#ranking tr[data-group="{sgd}"]')
    shot(page, "leaderboard_page.png")
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/")
    assert page.locator("#leaderboard-top tbody tr").first.locator("td").nth(1).inner_text().strip() == "adam"
    shot(page, "experiment_page_leaderboard.png")


def test_sweep_form_counts_runs_before_submit_and_launches_them(browser_page, live_server, team_and_user):
    team, alice, experiment = team_and_user
    page = browser_page
    page.login(alice)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/sweeps/new/")
    page.check('input[name="optimizer"][value="adam"]')
    page.check('input[name="optimizer"][value="sgd"]')
    page.fill('input[name="lr"]', "0.1, 0.01")
    page.fill('input[name="seeds"]', "3")
    page.fill('input[name="epochs"]', "2")
    assert page.inner_text("#sweep-count") == "12"
    assert "2 optimizer × 2 lr × 3 seeds" in page.inner_text("#sweep-formula")
    page.fill('input[name="seeds"]', "20")
    page.fill('input[name="l2"]', "0, 0.001, 0.01")
    assert page.inner_text("#sweep-count") == "240" and page.is_visible("#sweep-over")
    assert page.is_disabled("#sweep-submit")
    shot(page, "sweep_form_over_cap.png")
    page.fill('input[name="seeds"]', "2")
    assert not page.is_disabled("#sweep-submit")
    page.click("#sweep-submit")
    page.wait_for_selector("text=Sweep queued: 24 runs.")
    assert Run.objects.filter(experiment=experiment).count() == 24
    shot(page, "sweep_launched.png")


def test_run_page_shows_the_diagnosis_and_marks_best_epoch_and_overfitting(browser_page, live_server, team_and_user):
    from workers.runner import summarize

    team, alice, experiment = team_and_user
    run = make_run(experiment, epochs=20, steps_per_epoch=40, val_curve=overfits)
    history = {e: {"train_loss": 1.0 / e, "val_loss": overfits(e)} for e in range(1, 21)}
    history[1]["baseline_val_loss"] = 1.1
    summary, verdict = summarize(history, task="classification", finished=True)
    assert verdict == "overfitting"
    Run.objects.filter(pk=run.pk).update(summary=summary, verdict=verdict)
    page = browser_page
    page.login(alice)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.wait_for_selector("dl.evidence")
    evidence = page.inner_text("dl.evidence")
    assert "best epoch" in evidence and "overfitting from epoch" in evidence
    assert page.inner_text('[data-field="verdict"]') == "overfitting"
    page.wait_for_function("document.querySelector('#chart-loss').layout.shapes.length === 2")
    xs = page.eval_on_selector("#chart-loss", "el => el.layout.shapes.map(s => s.x0)")
    ev = summary["diagnosis"]["evidence"]
    assert xs == [ev["best_epoch"], ev["overfit_onset_epoch"]]
    # This history has no learning-rate series: no empty log-scale chart is drawn for it.
    assert page.eval_on_selector("#chart-lr", "el => el.hidden && !el.data")
    shot(page, "run_page_diagnosis.png")

"""Real Chromium on issue 15's pages: a form that shows what applies, an honest run page, offline API docs."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments import metric_store, services
from experiments.models import Run
from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Playwright page fixture)
from tests.browser.test_team_pages import log_in
from tests.compare.factories import epoch_points, make_run
from tests.helpers import tiny_config

pytestmark = [pytest.mark.browser]


def visible(page, name: str) -> bool:  # noqa: F811
    return page.is_visible(f'[data-field="{name}"]')


def test_the_launch_form_shows_only_the_settings_that_apply(page, live_server, team_and_user):  # noqa: F811
    _, _, experiment = team_and_user
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server)
    page.goto(live_server.url + reverse("run_new", args=[experiment.pk]))
    # The tutorial preset: an MLP on digits, Adam, a constant rate, cross-entropy.
    assert visible(page, "model__hidden") and visible(page, "loss__label_smoothing")
    hidden = ["model__heads", "schedule__gamma", "schedule__step_size", "loss__focal_gamma", "loss__huber_delta"]
    hidden += ["dataset__upload", "dataset__n_features", "optimizer__momentum"]
    assert not any(visible(page, n) for n in hidden), [n for n in hidden if visible(page, n)]
    assert page.is_visible("text=8×8 handwritten digits")  # what the chosen dataset is, under its select
    launch = page.locator("button:has-text('Launch run')").bounding_box()
    assert launch["y"] + launch["height"] <= 900, "the Launch button is in view without scrolling"

    page.select_option("#id_schedule__name", "step")
    assert visible(page, "schedule__gamma") and visible(page, "schedule__step_size")
    assert not visible(page, "schedule__patience")
    page.select_option("#id_loss__name", "focal")
    assert visible(page, "loss__focal_gamma") and not visible(page, "loss__label_smoothing")
    page.select_option("#id_model__arch", "transformer")
    assert visible(page, "model__heads") and not visible(page, "model__batchnorm")
    # A regression dataset: the classification losses are not offered, the chosen one moves to one that fits.
    page.select_option("#id_model__arch", "mlp")
    page.select_option("#id_dataset__name", "diabetes")
    disabled = page.eval_on_selector_all("#id_loss__name option:disabled", "os => os.map((o) => o.value)")
    assert disabled == ["cross_entropy", "bce", "focal"] and page.input_value("#id_loss__name") == "mse"
    archs = page.eval_on_selector_all("#id_model__arch option", "os => os.length")
    assert page.eval_on_selector_all("#id_model__arch option:disabled", "os => os.length") == archs - 1  # mlp only
    assert not visible(page, "loss__huber_delta") and not visible(page, "loss__focal_gamma")
    page.select_option("#id_optimizer__name", "gd")
    assert not visible(page, "batch_size")
    page.select_option("#id_dataset__name", "csv")
    assert visible(page, "dataset__upload") and visible(page, "dataset__target")
    # What the user changed is marked, with the preset's value beside it.
    assert page.inner_text('[data-field="schedule__name"] .preset-value') == "preset: constant"
    assert "changed from the preset" in page.inner_text("#changed-count")
    page.screenshot(path=str(ARTIFACTS / "form_disclosed.png"), full_page=True)


def test_a_refused_submit_shows_a_summary_in_view_worded_as_the_help_and_the_hint(page, live_server, team_and_user):  # noqa: F811
    _, _, experiment = team_and_user
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server)
    page.goto(live_server.url + reverse("run_new", args=[experiment.pk]))
    help_text = page.inner_text('[data-field="optimizer__lr"] .help:not(.choice-help):not(.preset-value)')
    assert help_text.endswith("Allowed: 0 < value ≤ 10.")
    page.fill("#id_optimizer__lr", "-1")
    hint = page.inner_text('[data-field="optimizer__lr"] [data-error]')
    assert hint == "Allowed: 0 < value ≤ 10."
    page.fill("#id_optimizer__lr", "0")  # the other side of the same bound reads the same
    assert page.inner_text('[data-field="optimizer__lr"] [data-error]') == hint
    page.fill("#id_dataset__val_fraction", "0.9")
    page.click("text=Launch run")
    page.wait_for_selector("#error-summary")
    assert not Run.objects.exists()
    box = page.locator("#error-summary").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 900, box
    summary = page.inner_text("#error-summary")
    assert "Nothing was launched" in summary and "Lr: Allowed: 0 < value ≤ 10." in summary, summary
    assert "Val fraction: Allowed: 0.05 ≤ value ≤ 0.5." in summary
    assert page.inner_text('[data-field="optimizer__lr"] [data-error]') == hint  # the server says what the hint said
    page.click("#error-summary a[href='#id_optimizer__lr']")
    assert page.evaluate("document.activeElement.id") == "id_optimizer__lr"
    page.screenshot(path=str(ARTIFACTS / "form_refused.png"))


def test_the_run_page_waits_for_the_first_epoch_then_follows_the_run(page, live_server, team_and_user):  # noqa: F811
    _, alice, experiment = team_and_user
    cfg = tiny_config(dataset={"name": "diabetes"}, loss={"name": "mse"}, epochs=10)
    run = services.run_launch(experiment=experiment, user=alice, config=cfg, name="regression")
    log_in(page, live_server)
    page.goto(live_server.url + reverse("run_detail", args=[run.pk]))
    page.wait_for_selector(".banner-queued")
    assert page.is_visible("text=Waiting for the first epoch") and not page.is_visible(".charts")
    assert page.eval_on_selector_all(".js-plotly-plot", "els => els.length") == 0, "no empty axes"
    assert page.inner_text('[data-field="metric-title"]') == "RMSE and R²"  # the run's task, not "Accuracy"

    Run.objects.filter(pk=run.pk).update(status="running", epoch=0, started_at=timezone.now())
    page.wait_for_selector(".banner-running")
    assert "after the first epoch" in page.inner_text('[data-field="eta"]')
    started = timezone.now() - timezone.timedelta(seconds=30)
    points = [(10, "epoch", 1.0, 1.0), (10, "train_loss", 2.0, 1.0), (10, "val_loss", 2.5, 1.0)]
    points += [(10, "val_rmse", 50.0, 1.0), (10, "val_r2", 0.1, 1.0)]
    metric_store.write_points(run.pk, points)
    Run.objects.filter(pk=run.pk).update(epoch=1, step=10, started_at=started)
    page.wait_for_selector("#chart-loss .scatterlayer .trace")
    assert not page.is_visible("text=Waiting for the first epoch")
    assert "left" in page.inner_text('[data-field="eta"]')  # an ETA from the first epoch on
    Run.objects.filter(pk=run.pk).update(status="succeeded", epoch=10, finished_at=timezone.now())
    page.wait_for_selector(".banner-succeeded")
    assert "Queued" not in page.inner_text('[data-field="banner"]')
    assert "queued" not in page.inner_text("main").lower(), "no banner says queued once the run has finished"


def test_a_diverged_run_says_so_once_and_draws_its_blow_up_on_a_log_scale(page, live_server, team_and_user):  # noqa: F811
    _, alice, experiment = team_and_user
    run = services.run_launch(
        experiment=experiment, user=alice, config=tiny_config(optimizer={"lr": 5.0}), name="too fast"
    )
    points = [(s, "train_loss_step", 10.0 ** (s / 4), 1.0 + s) for s in range(1, 150)]
    points += [p for p in epoch_points(3, 50) if p[1] != "train_loss_step"]
    metric_store.write_points(run.pk, points)
    Run.objects.filter(pk=run.pk).update(status="diverged", verdict="diverged", epoch=3, finished_at=timezone.now())
    log_in(page, live_server)
    page.goto(live_server.url + reverse("run_detail", args=[run.pk]))
    page.wait_for_selector("#chart-step .scatterlayer .trace")
    assert page.inner_text("#run > div:first-child").split().count("diverged") == 1, "not 'diverged diverged'"
    assert page.eval_on_selector("#chart-step", "el => el.layout.yaxis.type") == "log"
    # What matters in its config: the one setting that differs from the closest preset, the full JSON folded away.
    rows = page.eval_on_selector_all("#config-differences tbody tr", "trs => trs.map((tr) => tr.dataset.field)")
    assert "optimizer.lr" in rows
    assert not page.is_visible("details.full-config pre")


def test_the_compare_picker_keeps_training_health_series_under_more(page, live_server, team_and_user):  # noqa: F811
    _, _, experiment = team_and_user
    runs = [make_run(experiment, epochs=3, steps_per_epoch=2, seed=i) for i in range(2)]
    for run in runs:
        metric_store.write_points(run.pk, [(6, "grad_norm/blocks.0", 0.3, 1.0), (6, "baseline_val_loss", 1.1, 1.0)])
    log_in(page, live_server)
    page.goto(f"{live_server.url}/experiments/{experiment.pk}/compare/?runs={runs[0].pk},{runs[1].pk}")
    page.wait_for_selector('#key-choices [data-group="health"]')

    def group(name):
        return page.eval_on_selector_all(f'#key-choices [data-group="{name}"] input', "els => els.map((e) => e.value)")

    assert group("losses") == ["train_loss", "train_loss_step", "val_loss"]
    assert group("quality") == ["val_accuracy", "val_nll"]  # shared evaluation metrics, whatever the loss
    assert group("health") == ["baseline_val_loss", "grad_norm/blocks.0"]
    assert not page.is_visible('#key-choices input[value="grad_norm/blocks.0"]'), "folded under 'more'"


def test_the_api_docs_render_with_the_network_cut_off(page, live_server, team_and_user):  # noqa: F811
    outside = []

    def only_localhost(route):
        if urlparse(route.request.url).hostname in ("localhost", "127.0.0.1"):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_localhost)
    log_in(page, live_server)
    page.goto(live_server.url + "/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map((e) => e.textContent)")
    assert "/api/runs" in paths and not outside, outside


def test_the_favicon_and_a_new_tokens_copy_button(page, live_server, team_and_user, client):  # noqa: F811
    icon = client.get("/favicon.ico", follow=True)
    body = b"".join(icon.streaming_content) if icon.streaming else icon.content
    assert icon.status_code == 200 and b"<svg" in body, (icon.redirect_chain, body[:200])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server)
    page.goto(live_server.url + reverse("token_list"))
    page.fill("#id_name", "nightly")
    page.click("text=Create token")
    secret = page.inner_text("#new-token-secret").strip()
    page.click("button[data-copy]")
    page.wait_for_selector("text=Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret and len(secret) > 20

"""Real Chromium: the team dashboard updates live, and the upload page reports a bad file then lists a good one."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Playwright page fixture)
from tests.helpers import tiny_config
from tests.teams.conftest import IRIS_CSV

pytestmark = [pytest.mark.browser]


def log_in(page, live_server):  # noqa: F811
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wonderland-pass")
    page.click("button[type=submit]")


def test_the_dashboard_shows_the_team_and_updates_live(page, live_server, team_and_user):  # noqa: F811
    from experiments import services
    from experiments.models import Run

    team, alice, experiment = team_and_user
    services.team_create(name="Audio", owner=alice)
    done = [
        ("mlp 64 · adam · seed 0", 0.93, "good_fit"),
        ("mlp 256 · sgd · seed 0", 0.88, "overfitting"),
        ("mlp 16 · adam · seed 1", 0.71, "underfitting"),
    ]
    for name, acc, verdict in done:
        run = services.run_launch(experiment=experiment, user=alice, config=tiny_config(), name=name)
        Run.objects.filter(pk=run.pk).update(
            status="succeeded",
            finished_at=timezone.now(),
            verdict=verdict,
            epoch=3,
            summary={"best": {"val_accuracy": acc, "val_loss": 1 - acc}},
        )
    live = services.run_launch(experiment=experiment, user=alice, config=tiny_config(epochs=10), name="cnn digits")
    Run.objects.filter(pk=live.pk).update(status="running", epoch=2, epochs=10, started_at=timezone.now())
    services.run_launch(experiment=experiment, user=alice, config=tiny_config(), name="waiting run")
    log_in(page, live_server)
    page.select_option("#team-switch-select", label="Vision")
    page.wait_for_selector("text=cnn digits")
    assert page.locator("[data-section=experiments]").inner_text().count("mlp 64 · adam · seed 0") == 1
    assert "good_fit".replace("_", " ") in page.locator("[data-section=recent]").inner_text()
    Run.objects.filter(pk=live.pk).update(epoch=7)
    page.wait_for_function("document.querySelector('[data-section=live]').innerText.includes('7/10')", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_the_upload_page_reports_problems_and_lists_columns(page, live_server, team_and_user, upload_dir, tmp_path):  # noqa: F811
    log_in(page, live_server)
    page.click("text=Uploads")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n3\n")
    page.set_input_files("#id_file", str(bad))
    page.click("#upload-form button[type=submit]")
    assert "Row 3: 1 cells, but the header has 2 columns" in page.locator("#upload-error").inner_text()
    good = tmp_path / "iris-small.csv"
    good.write_bytes(IRIS_CSV)
    page.set_input_files("#id_file", str(good))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#uploads")
    assert "species" in page.locator("#uploads").inner_text()
    page.screenshot(path=str(ARTIFACTS / "uploads.png"), full_page=True)

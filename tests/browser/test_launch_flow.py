"""Real Chromium: log in, launch the tutorial run from the form, watch its loss chart fill in."""

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def page(live_server):
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs beside the ORM in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        yield page
        browser.close()
        # While Playwright's loop runs, Django keys its connections by that loop: the ones the test opened
        # here are not those pytest-django closes, and would keep the test database from being dropped.
        from django.db import connections

        connections.close_all()


def test_it_launches_a_run_and_draws_its_curves(page, live_server, team_and_user, start_worker):
    from experiments.models import Run

    team, user, experiment = team_and_user
    start_worker("w1")
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wonderland-pass")
    page.click("button[type=submit]")
    page.click(f"text={experiment.name}")
    page.click("text=New run")
    # the tutorial preset, made small enough for CI
    page.fill("#id_epochs", "6")
    page.fill("#id_model__hidden", "64,32")
    page.click("text=Launch run")
    page.wait_for_selector("#chart-loss .scatterlayer .trace", timeout=60000)
    run = Run.objects.get()
    wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=90, message="the run to finish")
    page.wait_for_selector(".status-succeeded", timeout=15000)
    points = page.eval_on_selector_all("#chart-loss .scatterlayer .trace .point", "els => els.length")
    assert points >= 12  # train and val loss, 6 epochs each
    # The page was opened while the run was queued: the footer follows it to its worker, the LR chart fills.
    page.wait_for_function(
        "document.querySelector('[data-field=placement]').textContent === 'attempt 1 · worker w1@test'"
    )
    assert page.eval_on_selector("#chart-lr", "el => !el.hidden && el.data[0].x.length === 6")
    page.wait_for_function(
        "document.querySelector('#chart-step').data[0].x.length >= 6 * 45"  # every sampled step, all epochs
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run_page.png"), full_page=True)
    page.goto(live_server.url + f"/experiments/{experiment.pk}/")
    page.wait_for_selector(".status-succeeded")
    page.screenshot(path=str(ARTIFACTS / "experiment_page.png"), full_page=True)

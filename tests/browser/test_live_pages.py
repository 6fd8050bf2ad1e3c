"""Real Chromium on the live pages: their one poll loop rests while the tab is hidden, and they draw one verdict chip."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tests.browser.test_launch_flow import page  # noqa: F401  (fixture)
from tests.browser.test_team_pages import log_in
from tests.helpers import tiny_config

pytestmark = [pytest.mark.browser]

# Headless Chromium never hides a page: the test plays the browser's part, as a tab switch would.
SET_HIDDEN = """hidden => {
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => (hidden ? "hidden" : "visible")});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture
def running(team_and_user):
    from experiments import services
    from experiments.models import Run

    _, alice, experiment = team_and_user
    run = services.run_launch(experiment=experiment, user=alice, config=tiny_config(epochs=10), name="cnn digits")
    Run.objects.filter(pk=run.pk).update(status="running", epoch=2, epochs=10, started_at=timezone.now())
    return run


def test_it_pauses_the_run_page_poll_while_the_tab_is_hidden(page, live_server, running):  # noqa: F811
    from experiments.models import Run

    api = reverse("api:get_run", args=[running.pk])

    def is_poll(request):
        return urlparse(request.url).path == api

    polls = []
    page.on("request", lambda request: is_poll(request) and polls.append(request.url))
    log_in(page, live_server)
    page.goto(live_server.url + reverse("run_detail", args=[running.pk]))
    page.wait_for_timeout(2500)
    assert len(polls) >= 2, "a running run's page polls every second"

    page.evaluate(SET_HIDDEN, True)
    page.wait_for_timeout(300)
    while_hidden = len(polls)
    page.wait_for_timeout(3500)
    assert len(polls) == while_hidden, f"{len(polls) - while_hidden} polls from a hidden tab"

    with page.expect_request(is_poll, timeout=700):  # at once, not after the next interval
        page.evaluate(SET_HIDDEN, False)
    page.wait_for_timeout(2500)
    assert len(polls) >= while_hidden + 2, "polling every second again"

    Run.objects.filter(pk=running.pk).update(status="succeeded", finished_at=timezone.now())
    page.wait_for_selector("[data-field=status].status-succeeded", timeout=5000)
    page.wait_for_timeout(300)
    at_finish = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == at_finish, "a finished run's page stops polling"


def test_it_draws_the_same_verdict_chip_on_the_run_experiment_and_dashboard_pages(page, live_server, running):  # noqa: F811
    from experiments.models import Run

    server_chip = render_to_string("experiments/_verdict.html", {"verdict": "still_improving"}).strip()
    assert (
        server_chip.startswith('<span class="verdict verdict-still_improving"') and ">still improving<" in server_chip
    )
    log_in(page, live_server)

    def chip_drawn_by_the_poll(url, selector):
        # The page opens without a verdict; the one the chip shows came through its poll.
        Run.objects.filter(pk=running.pk).update(verdict="")
        page.goto(live_server.url + url)
        Run.objects.filter(pk=running.pk).update(verdict="still_improving")
        return page.wait_for_selector(selector + " .verdict", timeout=10000).evaluate("el => el.outerHTML")

    chips = {
        "run": chip_drawn_by_the_poll(reverse("run_detail", args=[running.pk]), "[data-field=verdict]"),
        "experiment": chip_drawn_by_the_poll(
            reverse("experiment_detail", args=[running.experiment_id]),
            f'tr[data-run="{running.pk}"] [data-field=verdict]',
        ),
        "dashboard": chip_drawn_by_the_poll(reverse("home"), "[data-section=live]"),
    }
    assert chips == dict.fromkeys(chips, server_chip)
    # Opened with a verdict, the run page draws the same chip, whether the server's or the poll's is read.
    page.goto(live_server.url + reverse("run_detail", args=[running.pk]))
    assert page.inner_html("[data-field=verdict]").strip() == server_chip

"""Real Chromium opens every page in a seeded state, at 1400×900 and 800 px wide, and fails on a broken layout.

Broken means: an element sticks out of its card, two text boxes of a chart (legend entries, axis titles,
tick labels, annotations) overlap, the console logs an error, or a request fails. Each page's screenshot
is kept under test-artifacts/layout/ (CI keeps that folder as an artifact).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from experiments import metric_store, services
from experiments.models import Run
from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Playwright page fixture)
from tests.browser.test_team_pages import log_in
from tests.compare.factories import epoch_points, make_run
from tests.helpers import tiny_config

pytestmark = [pytest.mark.browser]
SIZES = [(1400, 900), (800, 900)]

# Boxes that overflow their card (a scrolling box may hold wide content: that is what it is for).
OVERFLOW = """() => {
  const out = [];
  const scrolls = (el) => ["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX);
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push("page is " + document.documentElement.scrollWidth + " px wide in a " + window.innerWidth + " px window");
  for (const card of document.querySelectorAll(".card, fieldset, .chart, .notice, .empty, table.table")) {
    if (card.offsetParent === null || scrolls(card)) continue;
    const box = card.getBoundingClientRect();
    for (const el of card.querySelectorAll("*")) {
      if (el.offsetParent === null && el.tagName !== "svg" && !(el instanceof SVGElement)) continue;
      let inScroller = false;
      for (let p = el.parentElement; p && p !== card; p = p.parentElement) if (scrolls(p)) { inScroller = true; break; }
      if (inScroller || el.closest(".hoverlayer, .modebar-container")) continue;
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (r.right > box.right + 2 || r.left < box.left - 2) {
        out.push((card.id || card.className) + " ⊃ " + el.tagName.toLowerCase() + "." + String(el.className.baseVal ?? el.className)
                 + " '" + (el.textContent || "").trim().slice(0, 40) + "' " + Math.round(r.left) + "…" + Math.round(r.right)
                 + " outside " + Math.round(box.left) + "…" + Math.round(box.right));
        break;
      }
    }
  }
  return out;
}"""

# Pairs of chart text boxes that overlap. Plotly draws each text as an SVG <text>.
CHART_TEXT = """() => {
  const out = [];
  const SEL = [".legendtext", ".g-xtitle text", ".g-ytitle text", ".gtitle", ".xtick text", ".ytick text",
               ".annotation-text", ".parcoords .axis-title", ".parcoords .tick text", ".parcoords .axis-extent-top-text",
               ".parcoords .axis-extent-bottom-text"].join(",");
  for (const plot of document.querySelectorAll(".js-plotly-plot")) {
    if (plot.offsetParent === null) continue;
    const boxes = [];
    for (const t of plot.querySelectorAll(SEL)) {
      const text = (t.textContent || "").trim();
      const r = t.getBoundingClientRect();
      if (!text || r.width < 1 || r.height < 1 || getComputedStyle(t).visibility === "hidden" || getComputedStyle(t).opacity === "0") continue;
      boxes.push({text, r});
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i].r, b = boxes[j].r;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5) out.push(plot.id + ": '" + boxes[i].text + "' overlaps '" + boxes[j].text + "'");
    }
  }
  return out;
}"""

# Every chart drawn (or replaced by its waiting note). One drawn when it scrolls into view is brought in.
PLOTS_DRAWN = """() => {
  const undrawn = [...document.querySelectorAll('.chart')].filter((c) => !(c.hidden || c.offsetParent === null
    || c.classList.contains('js-plotly-plot') || c.querySelector('.empty')));
  if (undrawn.length) undrawn[0].scrollIntoView();
  return !undrawn.length;
}"""


def _seed(experiment, alice):
    runs = []
    for i in range(20):  # 5 learning rates × 2 optimizers × 2 seeds
        lr, opt = [0.001, 0.003, 0.01, 0.03, 0.1][i % 5], ["adam", "sgd"][i // 5 % 2]
        curve = lambda e, k=i: 1.0 / e + 0.05 * k
        run = make_run(
            experiment,
            epochs=8,
            steps_per_epoch=5,
            score=0.6 + 0.015 * i,
            val_curve=curve,
            name=f"{opt} lr {lr} s{i // 10}",
            seed=i // 10,
            optimizer={"name": opt, "lr": lr},
        )
        extra = []
        for e in range(1, 9):  # the training-health series a real run logs beside its losses
            step = e * 5
            extra += [
                (step, "lr", lr, 1000.0 + step),
                (step, "grad_norm/blocks.0", 0.5 / e, 1000.0 + step),
                (step, "grad_exploding", 0.0, 1000.0 + step),
                (step, "baseline_val_loss", 1.1, 1000.0 + step),
                (step, "train_accuracy", 0.5 + 0.05 * e, 1000.0 + step),
            ]
        metric_store.write_points(run.pk, extra)
        runs.append(run)
    diverged = services.run_launch(
        experiment=experiment, user=alice, config=tiny_config(epochs=6), name="diverged lr 10"
    )
    points = [(s, "train_loss_step", 10.0 ** (s / 4), 1000.0 + s) for s in range(1, 150)]
    points += [p for p in epoch_points(3, 50, accuracy=0.3) if p[1] != "train_loss_step"]
    metric_store.write_points(diverged.pk, points)
    Run.objects.filter(pk=diverged.pk).update(
        status="diverged",
        verdict="diverged",
        epoch=3,
        step=150,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error="Loss became non-finite at step 150.",
    )
    queued = services.run_launch(experiment=experiment, user=alice, config=tiny_config(epochs=10), name="waiting run")
    running = services.run_launch(experiment=experiment, user=alice, config=tiny_config(epochs=10), name="just started")
    Run.objects.filter(pk=running.pk).update(status="running", epoch=0, started_at=timezone.now())
    services.token_create(user=alice, name="nightly sweep script")
    return runs, diverged, queued, running


@pytest.fixture
def seeded(team_and_user):
    _, alice, experiment = team_and_user
    runs, diverged, queued, running = _seed(experiment, alice)
    ids = ",".join(str(r.pk) for r in runs)
    return {
        "dashboard": reverse("home"),
        "experiments": reverse("experiment_list"),
        "experiment": reverse("experiment_detail", args=[experiment.pk]),
        "run_form": reverse("run_new", args=[experiment.pk]),
        "run_finished": reverse("run_detail", args=[runs[3].pk]),
        "run_diverged": reverse("run_detail", args=[diverged.pk]),
        "run_queued": reverse("run_detail", args=[queued.pk]),
        "run_started": reverse("run_detail", args=[running.pk]),
        "compare": reverse("compare", args=[experiment.pk]) + f"?runs={ids}",
        # 6 runs × 2 losses: 12 curves, each named in the legend (20 runs hide it)
        "compare_6": reverse("compare", args=[experiment.pk]) + "?runs=" + ",".join(str(r.pk) for r in runs[3:9]),
        "leaderboard": reverse("leaderboard", args=[experiment.pk]),
        "sweep_form": reverse("sweep_new", args=[experiment.pk]),
        "team": reverse("team_detail"),
        "uploads": reverse("upload_list"),
        "tokens": reverse("token_list"),
        "api_docs": "/api/docs",
    }


def _problems_on(page, url: str, shot) -> list[str]:  # noqa: F811
    problems: list[str] = []
    page.goto("about:blank")  # the last page's polls end here, not in this page's record
    on_console = lambda m: m.type == "error" and problems.append(f"console error: {m.text}")
    on_error = lambda e: problems.append(f"page error: {e}")
    on_failed = lambda r: problems.append(f"request failed: {r.url} {r.failure}")
    on_response = lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}")
    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    try:
        page.goto(url, wait_until="networkidle")
        try:
            page.wait_for_function(PLOTS_DRAWN, timeout=30000)
        except PlaywrightTimeout:
            problems.append("a chart was neither drawn nor told to wait within 30 s")
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(700)  # the first poll's redraw
        problems += page.evaluate(OVERFLOW)
        problems += page.evaluate(CHART_TEXT)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)
        page.remove_listener("requestfailed", on_failed)
        page.remove_listener("response", on_response)
    return problems


def test_every_page_is_laid_out_cleanly_at_both_widths(page, live_server, seeded):  # noqa: F811
    out = ARTIFACTS / "layout"
    out.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server)
    found = {}
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for name, path in seeded.items():
            problems = _problems_on(page, live_server.url + path, out / f"{name}-{width}.png")
            if problems:
                found[f"{name} @ {width}px"] = problems
    assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(p[:8]) for where, p in found.items())

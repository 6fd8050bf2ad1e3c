"""Listing and ranking with many runs: server time and SQL query count of the pages and API calls.

Two experiments of the same shape, a small one and a big one (10,000 runs in
the full benchmark): a page's query count must be the same for both, i.e. not
grow with the number of runs shown. Runs carry what real ones do: a full
config, a summary of best/final metrics, a verdict; they form a sweep of
configurations × 5 seeds; a tenth are queued, as in the middle of a sweep, so
queue positions have something to compute.

Summaries are of their real size: each finished run stores a copy of the
summary a real tutorial run stored (bench/data/finished_run_summary.json, about
1.7 kB: best and final metrics of every series, the diagnosis with its
evidence and suggestions), with its numbers varied per run. Medians hide
garbage-collection pauses, so every page is timed enough times to give p95 and max.
"""

from __future__ import annotations

import copy
import json
import pathlib
import random
import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

STATUSES = ["succeeded"] * 6 + ["queued", "running", "failed", "diverged"]
VERDICTS = ["good_fit", "overfitting", "underfitting", "unstable", "still_improving", "diverged"]
REAL_SUMMARY = json.loads((pathlib.Path(__file__).parent / "data" / "finished_run_summary.json").read_text())


def real_summary(rng: random.Random) -> dict:
    """A finished run's summary as stored (same keys and size), its numbers varied so runs differ."""
    summary = copy.deepcopy(REAL_SUMMARY)
    for part in ("best", "final"):
        for key, value in summary[part].items():
            # Accuracies only go down (a real run's stay in [0, 1]); other figures either way.
            summary[part][key] = value * (0.5 + rng.random() / (2 if "accuracy" in key else 1))
    return summary


def make_experiment(user, name: str, n_runs: int):
    from experiments.models import Experiment, Run, Team
    from workers.training.config import RunConfig

    team = Team.objects.get(name="bench-harness")
    exp = Experiment.objects.create(team=team, name=name, created_by=user)
    rng = random.Random(n_runs)
    now = timezone.now()
    runs = []
    for i in range(n_runs):
        g = i // 5  # a sweep: configurations of 5 seeds each (2,000 of them in 10,000 runs)
        cfg = RunConfig.model_validate(
            {
                "seed": i % 5,
                "batch_size": [16, 32, 64, 128, 256, 512, 1024][g // 300 % 7],
                "optimizer": {"name": ["adam", "sgd", "adamw"][g // 50 % 3], "lr": round(1e-4 * (1 + g % 50), 6)},
                "loss": {"name": ["cross_entropy", "focal"][g // 150 % 2]},
            }
        )
        status = rng.choice(STATUSES)
        runs.append(
            Run(
                experiment=exp,
                name=f"run {i}",
                created_by=user,
                config=cfg.model_dump(mode="json"),
                config_hash=cfg.config_hash(),
                group_hash=cfg.group_hash(),
                seed=cfg.seed,
                status=status,
                epochs=cfg.epochs,
                epoch=cfg.epochs if status != "queued" else 0,
                queued_at=now,
                summary={} if status == "queued" else real_summary(rng),
                verdict="" if status == "queued" else rng.choice(VERDICTS),
            )
        )
    Run.objects.bulk_create(runs, batch_size=1000)
    return exp


def time_get(client: Client, url: str, repeats: int) -> dict:
    """Median, p95, max and best server time of GET url, its query count and payload size."""
    times = []
    for i in range(repeats + 1):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            r = client.get(url)
            elapsed = time.perf_counter() - t0
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
        if i:  # the first is a warm-up
            times.append(elapsed)
    return {
        "median_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * statistics.quantiles(times, n=20, method="inclusive")[18],
        "max_ms": 1000 * max(times),
        "best_ms": 1000 * min(times),
        "queries": len(ctx.captured_queries),
        "bytes": len(r.content),
    }


def pages(exp_id: int) -> dict[str, str]:
    """The URLs to time for one experiment; the leaderboard and ranking join when they exist."""
    from django.urls import NoReverseMatch, reverse

    urls = {
        "experiment page": reverse("experiment_detail", args=[exp_id]),
        "experiment list": reverse("experiment_list"),
        "API /api/runs (500)": f"/api/runs?experiment={exp_id}&limit=500",
    }
    try:
        urls["leaderboard page"] = reverse("leaderboard", args=[exp_id])
        urls["API ranking"] = f"/api/experiments/{exp_id}/ranking"
    except NoReverseMatch:  # before the leaderboard landed
        pass
    return urls


def bench_listing(user, quick: bool) -> dict:
    small_n, big_n = (10, 120) if quick else (100, 10_000)
    t0 = time.perf_counter()
    small = make_experiment(user, "listing small", small_n)
    big = make_experiment(user, "listing big", big_n)
    create_s = time.perf_counter() - t0
    import webapp.wsgi  # noqa: F401  # the server's own start-up, gc.freeze() included (see freeze_start_up)

    client = Client()
    client.force_login(user)
    repeats = 3 if quick else 30  # enough requests for a p95 that sees collector pauses
    out = {
        "runs_small": small_n,
        "runs_big": big_n,
        "create_s": create_s,
        "pages": {},
        "big_id": big.pk,
        "small_id": small.pk,
    }
    for label, url in pages(big.pk).items():
        small_url = url.replace(f"/{big.pk}/", f"/{small.pk}/").replace(f"={big.pk}&", f"={small.pk}&")
        small_url = small_url.replace(f"/{big.pk}/ranking", f"/{small.pk}/ranking")
        out["pages"][label] = {"big": time_get(client, url, repeats), "small": time_get(client, small_url, repeats)}
    return out

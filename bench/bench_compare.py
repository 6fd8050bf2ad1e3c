"""Comparison read benchmark: LossLab's compare endpoint vs MLflow serving the same histories.

Loads RUNS runs x STEPS steps x 2 metrics (train_loss, val_loss; plus the
`epoch` key a real run logs) into a throwaway SQLite database, flushed the way
a worker flushes (one chunk per key per epoch), then times
`GET /api/experiments/{id}/compare` in-process through the whole Django stack
(middleware, auth, selectors, downsampling, JSON). Prints server time and
payload size.

With `--mlflow PYTHON` (an interpreter of a separate venv that has mlflow;
never an app dependency) it runs `bench/bench_compare_mlflow.py` in that
interpreter on the same histories and prints both side by side.

    .venv/bin/python bench/bench_compare.py [--runs 100] [--steps 10000] [--repeats 7]
        [--mlflow bench/.venv-mlflow/bin/python] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def history(run: int, steps: int):
    """Deterministic noisy decaying curves with a spike, identical for both systems."""
    import numpy as np

    rng = np.random.default_rng(run)
    s = np.arange(1, steps + 1)
    train = np.exp(-s / (steps / 4)) + 0.05 * rng.random(steps) + 0.1
    val = np.exp(-s / (steps / 3)) + 0.03 * rng.random(steps) + 0.15 + run / 1000
    train[rng.integers(steps)] = 5.0
    return s, train, val


def setup_django(db_path: pathlib.Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(runs: int, steps: int, epochs: int) -> tuple[int, list[int], float]:
    """Create the runs and write their points through metric_store; returns experiment id, run ids, write seconds."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from experiments import metric_store
    from experiments.models import Experiment, Membership, Run, Team
    from workers.training.config import RunConfig

    user = User.objects.create_user("bench", password="bench-pass-123")
    team = Team.objects.create(name="bench")
    Membership.objects.create(user=user, team=team)
    exp = Experiment.objects.create(team=team, name="bench", created_by=user)
    cfg = RunConfig()
    objs = [
        Run(
            experiment=exp,
            name=f"run {i}",
            config={**cfg.model_dump(mode="json"), "seed": i},
            config_hash=str(i),
            group_hash="g",
            seed=i,
            status="succeeded",
            queued_at=timezone.now(),
        )
        for i in range(runs)
    ]
    ids = [r.pk for r in Run.objects.bulk_create(objs)]
    per_epoch = steps // epochs
    t0 = time.perf_counter()
    for i, run_id in enumerate(ids):
        s, train, val = history(i, steps)
        for e in range(epochs):  # one flush per epoch, as the worker does at each epoch's end
            lo, hi = e * per_epoch, (e + 1) * per_epoch
            pts = [(int(st), "train_loss", float(v), 1e9 + st) for st, v in zip(s[lo:hi], train[lo:hi])]
            pts += [(int(st), "val_loss", float(v), 1e9 + st) for st, v in zip(s[lo:hi], val[lo:hi])]
            pts.append((int(s[hi - 1]), "epoch", float(e + 1), 1e9 + s[hi - 1]))
            metric_store.write_points(run_id, pts)
    return exp.pk, ids, time.perf_counter() - t0


def compact_all(ids: list[int]) -> float:
    """What the worker does when a run finishes: one chunk per key."""
    from experiments import metric_store

    t0 = time.perf_counter()
    for run_id in ids:
        metric_store.compact(run_id)
    return time.perf_counter() - t0


def time_compare(exp_id: int, ids: list[int], *, x: str, repeats: int, max_points: int) -> dict:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    url = f"/api/experiments/{exp_id}/compare"
    params = {"runs": ",".join(map(str, ids)), "keys": "train_loss,val_loss", "x": x, "max_points": max_points}
    times, cpu, size = [], [], 0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        r = client.get(url, params)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert r.status_code == 200, r.content[:500]
        size = len(r.content)
    body = json.loads(r.content)
    points = sum(len(s["x"]) for by_key in body["series"].values() for s in by_key.values())
    return {
        "median_ms": 1000 * statistics.median(times),
        "min_ms": 1000 * min(times),
        "cpu_ms": 1000 * min(cpu),
        "bytes": size,
        "points": points,
    }


def time_ranking(n_groups: int = 2000, n_seeds: int = 5, repeats: int = 3) -> dict:
    """10,000 finished runs in one experiment: the leaderboard's server time and query count."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from experiments.models import Experiment, Run, Team

    Experiment.objects.filter(name="bench ranking").delete()
    exp = Experiment.objects.create(team=Team.objects.get(name="bench"), name="bench ranking")
    runs = [
        Run(
            experiment=exp,
            name=f"g{g} s{s}",
            config={"optimizer": {"lr": 1e-4 * (g + 1)}, "seed": s},
            config_hash=f"{g}-{s}",
            group_hash=f"{g:06d}",
            seed=s,
            status="succeeded",
            queued_at=timezone.now(),
            summary={"best": {"val_accuracy": 0.5 + g / (4 * n_groups) + s / 1000}, "final": {}},
        )
        for g in range(n_groups)
        for s in range(n_seeds)
    ]
    Run.objects.bulk_create(runs, batch_size=1000)
    client = Client()
    client.force_login(User.objects.get(username="bench"))
    times = []
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            r = client.get(f"/api/experiments/{exp.pk}/ranking")
            times.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.content[:300]
    return {"runs": len(runs), "median_ms": 1000 * statistics.median(times), "queries": len(queries)}


def profile(exp_id: int, ids: list[int]) -> None:
    """cProfile of one whole request (the app venv has no pyinstrument)."""
    import cProfile
    import pstats

    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    params = {"runs": ",".join(map(str, ids)), "keys": "train_loss,val_loss", "x": "step"}
    pr = cProfile.Profile()
    pr.enable()
    client.get(f"/api/experiments/{exp_id}/compare", params)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-points", type=int, default=500)
    ap.add_argument("--mlflow", help="python interpreter of a venv with mlflow installed")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--ranking", action="store_true", help="also time the leaderboard of 10,000 runs")
    ap.add_argument("--keep", help="directory for the throwaway databases; reused (no reload) when it has one")
    args = ap.parse_args()
    tmp = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench-compare-"))
    tmp.mkdir(parents=True, exist_ok=True)
    reuse = (tmp / "losslab.sqlite3").exists()
    setup_django(tmp / "losslab.sqlite3")
    if reuse:  # a kept database from an earlier run: read benchmarks only
        from experiments.models import Experiment

        exp = Experiment.objects.get(name="bench")
        exp_id, ids, write_s = exp.pk, list(exp.runs.order_by("pk").values_list("pk", flat=True)), float("nan")
    else:
        exp_id, ids, write_s = load(args.runs, args.steps, args.epochs)
    n_points = args.runs * args.steps * 2
    if not reuse:
        print(f"LossLab: wrote {n_points:,} points in {write_s:.1f} s ({n_points / write_s:,.0f} points/s)")
    if not reuse:
        before = time_compare(exp_id, ids, x="step", repeats=args.repeats, max_points=args.max_points)
        print(
            f"LossLab compare x=step, one chunk per epoch (a run still training): median {before['median_ms']:.0f} ms "
            f"(CPU {before['cpu_ms']:.0f})"
        )
        print(f"compacting finished runs: {compact_all(ids):.1f} s")
    results = {
        x: time_compare(exp_id, ids, x=x, repeats=args.repeats, max_points=args.max_points) for x in ("step", "epoch")
    }
    for x, r in results.items():
        print(
            f"LossLab compare x={x}: median {r['median_ms']:.0f} ms (min {r['min_ms']:.0f}, CPU {r['cpu_ms']:.0f}), "
            f"{r['bytes'] / 1e6:.2f} MB, {r['points']:,} points drawn"
        )
    if args.ranking:
        rk = time_ranking()
        print(f"LossLab ranking of {rk['runs']:,} runs: median {rk['median_ms']:.0f} ms, {rk['queries']} queries")
    if args.profile:
        profile(exp_id, ids)
    if args.mlflow:
        out = subprocess.run(
            [
                args.mlflow,
                str(ROOT / "bench" / "bench_compare_mlflow.py"),
                "--runs",
                str(args.runs),
                "--steps",
                str(args.steps),
                "--repeats",
                str(args.repeats),
                "--dir",
                str(tmp / "mlflow"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            print("MLflow part failed:\n" + out.stderr[-3000:])
            return
        ml = json.loads(out.stdout.strip().splitlines()[-1])
        table(results["step"], ml, n_points, write_s)


def table(ours: dict, ml: dict, n_points: int, write_s: float) -> None:
    print()
    print(f"{'':44} {'server ms (median)':>18} {'payload MB':>11}")
    print(f"{'LossLab GET /compare (min/max, 500 pts/curve)':44} {ours['median_ms']:18.0f} {ours['bytes'] / 1e6:11.2f}")
    for name, r in ml["reads"].items():
        print(f"{'MLflow ' + name:44} {r['median_ms']:18.0f} {r['bytes'] / 1e6:11.2f}")
    print(
        f"\nwrites: LossLab {n_points / write_s:,.0f} points/s · MLflow {ml['write_points_per_s']:,.0f} points/s "
        f"({ml['write_note']})"
    )


if __name__ == "__main__":
    main()

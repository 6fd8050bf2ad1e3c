"""LossLab's database-backed figures for `make bench`, against one throwaway database.

Run once per backend by bench/__main__.py (a Django process can only be set up
once): `python -m bench.db_side --db URL --out FILE [--quick]`. Writes a JSON
object of figures to FILE. Every timing goes through the code a worker or the
web server really runs: DbReporter and `run_record_metrics` for writes, the
Django test client (middleware, auth, views, templates) for pages.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    import logging

    logging.getLogger("axes").setLevel(logging.WARNING)  # one INFO line per test-client login otherwise
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fixture_user():
    """The benchmark's user, team and an experiment for scratch runs."""
    from django.contrib.auth.models import User

    from experiments.models import Experiment, Membership, Team

    user, _ = User.objects.get_or_create(username="bench-harness")
    user.set_password("bench-harness-pass")
    user.save()
    team, _ = Team.objects.get_or_create(name="bench-harness")
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": "admin"})
    exp = Experiment.objects.create(team=team, name="bench scratch", created_by=user)
    return user, exp


def running_run(exp, name: str):
    """A run in the state a worker holds it in after claiming it (attempt 1, running)."""
    from experiments.models import Run
    from workers.training.config import RunConfig

    cfg = RunConfig()
    return Run.objects.create(
        experiment=exp,
        name=name,
        config=cfg.model_dump(mode="json"),
        config_hash=cfg.config_hash(),
        group_hash=cfg.group_hash(),
        status="running",
        attempt=1,
        epochs=cfg.epochs,
    )


def bench_logging(exp, quick: bool) -> dict:
    """bench/loop.py bare vs the same loop reporting every step through the worker's DbReporter."""
    import loop

    from workers.runner import DbReporter

    X, y = loop.digits()
    if quick:
        X, y = X[:320], y[:320]
    out = {}
    for batch in (32, 256):
        run = running_run(exp, f"logging bs{batch}")
        reporter = DbReporter(run.pk, 1, "classification")
        bare, tracked = loop.Loop(X, y, batch), loop.Loop(X, y, batch)

        def per_epoch(step, epoch, metrics):
            reporter.log_metrics(step, metrics, epoch=epoch)  # writes when METRIC_FLUSH_S has passed, as a worker

        modes = {
            "bare": lambda: bare.epochs(1 if quick else 3),
            "losslab": lambda: tracked.epochs(1 if quick else 3, reporter.log_metrics, per_epoch),
        }
        out[str(batch)] = loop.overhead(modes, 2 if quick else 7)
        out[str(batch)]["losslab"]["points_stored"] = _points(run.pk)
    return out


def _points(run_id: int) -> int:
    from django.db.models import Sum

    from experiments.models import MetricChunk

    return MetricChunk.objects.filter(run_id=run_id).aggregate(n=Sum("count"))["n"] or 0


def bench_engine(exp, quick: bool) -> dict:
    """The database's share of the worker's path: engine.train() with the real DbReporter, vs the same engine
    keeping its points in memory. (The worker path against a hand-written loop: bench/overhead.py.)"""
    from workers.runner import DbReporter
    from workers.training import engine
    from workers.training.config import RunConfig
    from workers.training.data import load_dataset
    from workers.training.reporter import NullReporter

    tiny = {"dataset": {"name": "iris"}, "model": {"hidden": [16]}, "epochs": 1} if quick else {"epochs": 30}
    config = RunConfig.model_validate({"seed": 0, "device": "cpu", **tiny})
    data = load_dataset(config)
    engine.load_dataset = lambda config, data_dir=None: data  # data loading is not what is timed
    from django.conf import settings

    run = running_run(exp, "engine")

    def worker(reporter):
        """As a worker trains: checkpoints at epoch ends, at most every CHECKPOINT_EVERY_S (a fresh directory,
        so that nothing is resumed)."""
        with tempfile.TemporaryDirectory() as ckpt:
            engine.train(
                config, reporter, checkpoint_dir=pathlib.Path(ckpt), checkpoint_every_s=settings.CHECKPOINT_EVERY_S
            )

    modes = {
        "engine_db": lambda: worker(DbReporter(run.pk, 1, "classification")),
        "engine_memory": lambda: worker(NullReporter()),  # the same engine, points kept in memory
    }
    out = _interleave(modes, 2 if quick else 5)
    out["dataset"] = f"{config.dataset.name}, bs {config.batch_size}, {config.epochs} epochs"
    return out


def _interleave(modes: dict, repeats: int) -> dict:
    for fn in modes.values():
        fn()
    times: dict[str, list] = {m: [] for m in modes}
    for _ in range(repeats):
        for name, fn in modes.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - w, time.process_time() - c))
    return {
        m: {
            "best_s": min(t[0] for t in ts),
            "median_s": sorted(t[0] for t in ts)[len(ts) // 2],
            "cpu_s": min(t[1] for t in ts),
        }
        for m, ts in times.items()
    }


def bench_ingestion(exp, quick: bool) -> dict:
    """Points/s through `run_record_metrics`, 1,000 points per call (MLflow's log_batch maximum)."""
    from experiments import queue

    runs, steps = (2, 500) if quick else (20, 2000)
    write_s, points = 0.0, 0
    for i in range(runs):
        run = running_run(exp, f"ingest {i}")
        pts = [(s, key, 1.0 / (s + 1) + 0.001 * i, 1e9 + s) for s in range(steps) for key in ("train_loss", "val_loss")]
        t0 = time.perf_counter()
        for j in range(0, len(pts), 1000):
            batch = pts[j : j + 1000]
            queue.run_record_metrics(run_id=run.pk, attempt=1, points=batch, step=batch[-1][0])
        write_s += time.perf_counter() - t0
        points += len(pts)
    return {"points": points, "write_s": write_s, "points_per_s": points / write_s}


def _join_team(name: str) -> None:
    from django.contrib.auth.models import User

    from experiments.models import Membership, Team

    Membership.objects.get_or_create(user=User.objects.get(username="bench-harness"), team=Team.objects.get(name=name))


def bench_compare_read(quick: bool) -> dict:
    """bench/bench_compare.py's load and timing (the compare engineer's), on this backend."""
    import bench_compare

    runs, steps, epochs = (5, 200, 2) if quick else (100, 10_000, 20)
    exp_id, ids, write_s = bench_compare.load(runs, steps, epochs)
    _join_team("bench")  # so that the browser benchmark, logged in as bench-harness, sees these runs
    compact_s = bench_compare.compact_all(ids)
    repeats = 2 if quick else 7
    read = bench_compare.time_compare(exp_id, ids, x="step", repeats=repeats, max_points=500)
    return {
        "runs": runs,
        "steps": steps,
        "exp_id": exp_id,
        "run_ids": ids,
        "write_s": write_s,
        "compact_s": compact_s,
        "read": read,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated sections")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    setup(args.db)
    import listing

    user, exp = fixture_user()
    sections = {
        "logging": lambda: bench_logging(exp, args.quick),
        "engine": lambda: bench_engine(exp, args.quick),
        "ingestion": lambda: bench_ingestion(exp, args.quick),
        "listing": lambda: listing.bench_listing(user, args.quick),
        "compare": lambda: bench_compare_read(args.quick),
    }
    wanted = [s for s in args.only.split(",") if s] or list(sections)
    out = {}
    for name in wanted:
        t0 = time.perf_counter()
        out[name] = sections[name]()
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

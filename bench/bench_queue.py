"""Queue figures: submit -> running with an idle worker, and runs per minute with instant runs.

    .venv/bin/python bench/bench_queue.py [--latency-runs 15] [--turnover-runs 40]

Starts its own embedded Redis and one real Celery worker against a throwaway
SQLite database, so it measures the whole path: launch service -> ticket on
commit -> Redis -> worker -> claim in the DB. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="losslab-bench-queue-"))
os.environ.update(LOSSLAB_VAR_DIR=str(TMP), DJANGO_SETTINGS_MODULE="webapp.settings", DEBUG="true")
os.environ.pop("DATABASE_URL", None)

from webapp.local_redis import start_embedded  # noqa: E402

REDIS, os.environ["REDIS_URL"] = start_embedded()

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402

from experiments.models import Experiment, Membership, Run, Team  # noqa: E402
from experiments.services import run_launch  # noqa: E402

INSTANT = {"dataset": {"name": "iris"}, "model": {"arch": "mlp", "hidden": [8]}, "batch_size": 32, "epochs": 1}


def start_worker() -> subprocess.Popen:
    log = (TMP / "worker.log").open("wb")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "webapp",
        "worker",
        "-Q",
        "runs",
        "-c",
        "1",
        "--prefetch-multiplier",
        "1",
        "-n",
        "bench@%h",
        "-l",
        "info",
        "--without-mingle",
        "--without-gossip",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    while b"ready." not in (TMP / "worker.log").read_bytes():
        if proc.poll() is not None:
            sys.exit((TMP / "worker.log").read_text())
        time.sleep(0.1)
    return proc


def wait_status(run_id: int, done, poll: float = 0.002) -> float:
    while True:
        status = Run.objects.filter(pk=run_id).values_list("status", flat=True).get()
        if done(status):
            return time.perf_counter()
        time.sleep(poll)


def finished(status: str) -> bool:
    return status in Run.FINISHED


def latency(experiment, user, n: int) -> list[float]:
    """Submit one run to an idle worker and time until it is claimed ("running"); n times."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        run = run_launch(experiment=experiment, user=user, config=INSTANT)
        out.append(wait_status(run.pk, lambda s: s != "queued") - t0)
        wait_status(run.pk, finished, poll=0.02)
        time.sleep(0.3)  # let the worker go idle (ack, heartbeat) before the next submit
    return out


def turnover(experiment, user, n: int) -> float:
    """Submit n instant runs at once; runs per minute until the last one finished."""
    t0 = time.perf_counter()
    runs = [run_launch(experiment=experiment, user=user, config=INSTANT) for _ in range(n)]
    end = max(wait_status(r.pk, finished, poll=0.05) for r in runs)
    return n / (end - t0) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=15)
    parser.add_argument("--turnover-runs", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line (make bench)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    user = User.objects.create_user("bench")
    team = Team.objects.create(name="bench")
    Membership.objects.create(user=user, team=team)
    experiment = Experiment.objects.create(team=team, name="queue bench", created_by=user)
    worker = start_worker()
    try:
        warm = run_launch(experiment=experiment, user=user, config=INSTANT)  # pays torch's one-off imports
        wait_status(warm.pk, finished, poll=0.05)
        lat = sorted(latency(experiment, user, args.latency_runs))
        print(
            f"submit -> running, idle worker ({len(lat)} runs): median {statistics.median(lat) * 1000:.0f} ms, "
            f"p90 {lat[int(0.9 * (len(lat) - 1))] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        )
        per_min = turnover(experiment, user, args.turnover_runs)
        print(
            f"turnover, {args.turnover_runs} instant runs (1 epoch, iris) on 1 worker: {per_min:.0f} runs/min "
            f"({60 / per_min:.2f} s per run, training included)"
        )
        print(f"load average during the bench: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.json:
            print(
                json.dumps(
                    {
                        "latency_s": lat,
                        "median_s": statistics.median(lat),
                        "runs_per_min": per_min,
                        "turnover_runs": args.turnover_runs,
                        "load": os.getloadavg()[0],
                    }
                )
            )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
        REDIS.terminate()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()

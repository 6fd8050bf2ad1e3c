"""MLflow's half of bench_compare.py: the same histories, written to and served from MLflow's own SQLite store.

Runs in a separate venv that has mlflow (never a LossLab dependency):

    python3 -m venv bench/.venv-mlflow && bench/.venv-mlflow/bin/pip install mlflow
    bench/.venv-mlflow/bin/python bench/bench_compare_mlflow.py --runs 100 --steps 10000 --dir /tmp/x

Writes the first --logged-runs runs with `MlflowClient.log_batch` (1,000
points per call, MLflow's limit) to measure its write rate; at about 2,000
points/s here, logging all 2 million points would take a quarter of an hour,
so the other runs' rows are inserted into MLflow's `metrics` and
`latest_metrics` tables directly, exactly as log_batch stores them. Then times, in-process through MLflow's Flask server app (as LossLab's side
goes through Django's stack):
  * `get-history-bulk-interval`: what MLflow's UI charts call, sampled to
    max_results points per run, one call per metric key (at most 100 runs/call);
  * `get-history`: the full histories, one call per run and key; timed on
    --full-sample of the 200 calls and scaled up (each call costs about the same).
Prints one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_compare import history


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-results", type=int, default=500)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--logged-runs", type=int, default=2)
    ap.add_argument("--full-sample", type=int, default=6)
    args = ap.parse_args()
    root = pathlib.Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["_MLFLOW_SERVER_FILE_STORE"] = uri
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = str(root / "artifacts")
    if (root / "mlflow.db").exists():  # a kept store from an earlier run: read benchmarks only
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name("bench")
        run_ids = [r.info.run_id for r in client.search_runs([exp.experiment_id], max_results=args.runs)]
        write_rate = float("nan")
    else:
        run_ids, write_rate = write(uri, root, args.runs, args.steps, args.logged_runs)
    from mlflow.server import app

    client = app.test_client()
    reads = {
        f"get-history-bulk-interval ({args.max_results} pts/run)": time_calls(
            client,
            [
                (
                    "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                    {"run_ids": run_ids, "metric_key": key, "max_results": args.max_results},
                )
                for key in ("train_loss", "val_loss")
            ],
            args.repeats,
        ),
    }
    print(f"mlflow: bulk-interval timed ({time.strftime('%X')})", file=sys.stderr, flush=True)
    full = [
        ("/api/2.0/mlflow/metrics/get-history", {"run_id": rid, "metric_key": key, "max_results": 25000})
        for rid in run_ids
        for key in ("train_loss", "val_loss")
    ]
    sample = time_calls(client, full[: args.full_sample], 1)
    scale = len(full) / args.full_sample
    reads[f"get-history (full; {len(full)} calls, scaled from {args.full_sample})"] = {
        k: v * scale if k in ("median_ms", "min_ms", "bytes") else v for k, v in sample.items()
    }
    print(
        json.dumps(
            {
                "reads": reads,
                "write_points_per_s": write_rate,
                "write_note": f"log_batch, 1,000 points per call, {args.logged_runs} runs",
            }
        )
    )


def write(uri: str, root: pathlib.Path, runs: int, steps: int, logged: int) -> tuple[list[str], float]:
    """Create the runs; returns their ids and log_batch's write rate (points/s)."""
    import sqlite3

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("bench", artifact_location=str(root / "artifacts"))
    run_ids, logged_s = [], 0.0
    for i in range(runs):
        run = client.create_run(exp_id, run_name=f"run {i}")
        rid = run.info.run_id
        run_ids.append(rid)
        s, train, val = history(i, steps)
        rows = [
            (key, float(v), int(1e12 + st), rid, int(st), 0)
            for key, arr in (("train_loss", train), ("val_loss", val))
            for st, v in zip(s, arr)
        ]
        if i < logged:
            t0 = time.perf_counter()
            metrics = [Metric(k, v, ts, st) for k, v, ts, _, st, _ in rows]
            for j in range(0, len(metrics), 1000):
                client.log_batch(rid, metrics=metrics[j : j + 1000])
            logged_s += time.perf_counter() - t0
        else:
            with sqlite3.connect(root / "mlflow.db") as db:
                db.executemany(
                    'INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)',
                    rows,
                )
                db.executemany(
                    'INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid) '
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    [
                        (k, float(a[-1]), int(1e12 + s[-1]), int(s[-1]), rid)
                        for k, a in (("train_loss", train), ("val_loss", val))
                    ],
                )
        client.set_terminated(rid)
    return run_ids, logged * steps * 2 / logged_s if logged else float("nan")


def time_calls(client, calls: list[tuple[str, dict]], repeats: int) -> dict:
    """Total time of all calls (one comparison's worth), median over repeats, and total bytes."""
    totals, size = [], 0
    for _ in range(repeats):
        size = 0
        t0 = time.perf_counter()
        for url, params in calls:
            r = client.get(url, query_string=params)
            assert r.status_code == 200, r.data[:300]
            size += len(r.data)
        totals.append(time.perf_counter() - t0)
    return {
        "median_ms": 1000 * statistics.median(totals),
        "min_ms": 1000 * min(totals),
        "bytes": size,
        "calls": len(calls),
    }


if __name__ == "__main__":
    main()

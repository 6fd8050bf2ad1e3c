"""MLflow's side of `make bench`, run in bench/.venv-mlflow (MLflow is never a LossLab dependency).

Into a fresh local SQLite store, it measures
  logging:   bench/loop.py with `mlflow.log_metric` every step (synchronous, and
             `synchronous=False`), against the same loop without it, interleaved;
  ingestion: `MlflowClient.log_batch` with 1,000 points per call (MLflow's maximum).
Prints one JSON object on its last line of stdout.

    bench/.venv-mlflow/bin/python bench/mlflow_side.py --dir /tmp/x [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import loop

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def logging_overhead(uri: str, batch: int, epochs: int, repeats: int, rows: int | None) -> dict:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-logging")
    X, y = loop.digits()
    X, y = X[:rows], y[:rows]
    loops = {m: loop.Loop(X, y, batch) for m in ("bare", "sync", "async")}

    def per_step(sync: bool):
        key = "train_loss" if sync else "train_loss_async"
        return lambda step, m: mlflow.log_metric(key, m["train_loss"], step=step, synchronous=sync)

    def per_epoch(step, epoch, m):
        mlflow.log_metric("train_loss_epoch", m["train_loss_epoch"], step=step)

    with mlflow.start_run():
        modes = {
            "bare": lambda: loops["bare"].epochs(epochs),
            "log_metric": lambda: loops["sync"].epochs(epochs, per_step(True), per_epoch),
            "log_metric_async": lambda: loops["async"].epochs(epochs, per_step(False), per_epoch),
        }
        result = loop.overhead(modes, repeats)
        t0 = time.perf_counter()
        mlflow.flush_async_logging()
        result["log_metric_async"]["final_flush_s"] = time.perf_counter() - t0
    return result


def ingestion(uri: str, root: pathlib.Path, runs: int, steps: int) -> dict:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("bench-ingest", artifact_location=str(root / "artifacts"))
    write_s, points = 0.0, 0
    for i in range(runs):
        rid = client.create_run(exp_id, run_name=f"run {i}").info.run_id
        metrics = [
            Metric(key, 1.0 / (s + 1) + 0.001 * i, int(1e12) + s, s)
            for s in range(steps)
            for key in ("train_loss", "val_loss")
        ]
        t0 = time.perf_counter()
        for j in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[j : j + 1000])
        write_s += time.perf_counter() - t0
        points += len(metrics)
        client.set_terminated(rid)
    return {"points": points, "write_s": write_s, "points_per_s": points / write_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=0)
    args = ap.parse_args()
    root = pathlib.Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    repeats = args.repeats or (2 if args.quick else 7)
    out = {"mlflow": mlflow.__version__, "logging": {}}
    for batch in (32, 256):
        out["logging"][str(batch)] = logging_overhead(
            uri, batch, 1 if args.quick else 3, repeats, 320 if args.quick else None
        )
    runs, steps = (2, 500) if args.quick else (20, 2000)
    out["ingestion"] = ingestion(uri, root, runs, steps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Tracking overhead as a user would measure it: LossLab's worker path against a loop written by hand.

Each side lives in its own long-lived process, with its own torch threads:
  hand    bench/handloop.py: plain torch.nn modules, nothing from LossLab;
  worker  engine.train() with the worker's DbReporter on a throwaway SQLite database, a fresh run row
          each time, and (in the checkpoint rows) the worker's checkpoint directory and interval.
Both load digits themselves inside the timed call, as a script and a worker would. The parent asks the
two sides in turn to train once (a pair), alternating which goes first; while one trains the other
waits on a pipe. Each side reports its wall and CPU time and how long its threads waited for a CPU
(/proc/self/task/*/schedstat, second field). A pair where either side waited more than `wait_limit` of
its wall time is dropped: another process held a CPU, and that says nothing about LossLab. The figure
is the median of the kept pairs' ratios (worker / hand), with their range.

    .venv/bin/python bench/overhead.py [--quick] [--threads 1,2] [--pairs 7]
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
sys.path.insert(0, str(ROOT / "bench"))

# (batch, epochs, checkpoint): the tutorial preset's 30 epochs with no checkpoint, and runs of about 3.5 s
# here (longer than the worker's 2 s checkpoint interval) that write checkpoints as a worker does.
CASES = [(32, 30, False), (256, 30, False), (32, 50, True), (256, 150, True)]
QUICK_CASES = [(32, 2, False), (256, 2, True)]
WAIT_LIMIT = 0.005  # a pair is dropped when a side spent more than this share of its wall time waiting for a CPU


def cpu_wait_ns() -> int:
    """Nanoseconds this process's threads have spent runnable but waiting for a CPU."""
    total = 0
    for task in pathlib.Path("/proc/self/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError):  # a thread that has just ended
            pass
    return total


def timed(fn) -> dict:
    """Wall, CPU and CPU-wait seconds of fn(), and what fn returned."""
    wait, wall, cpu = cpu_wait_ns(), time.perf_counter(), time.process_time()
    out = fn()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "wait_s": (cpu_wait_ns() - wait) / 1e9,
        "out": out,
    }


# ---- the two sides (child processes) ---------------------------------------------------------------


def hand_side():
    import handloop

    def run(batch: int, epochs: int, checkpoint: bool) -> dict:
        return {"checkpoints": 0, "val_accuracy": handloop.train(batch, epochs)[-1][1]}

    return run


def worker_side(db_url: str, quick: bool):
    """The worker's path minus the queue: engine.train() with DbReporter on a running run of its own."""
    import db_side

    db_side.setup(db_url)
    from django.conf import settings

    from workers.runner import DbReporter
    from workers.training import engine
    from workers.training.config import RunConfig

    class Counting(DbReporter):
        checkpoints = 0

        def on_checkpoint(self, *, epoch: int, step: int) -> None:
            super().on_checkpoint(epoch=epoch, step=step)
            self.checkpoints += 1

    _, exp = db_side.fixture_user()
    every_s = 0.0 if quick else settings.CHECKPOINT_EVERY_S  # quick: checks the path, runs are too short

    def run(batch: int, epochs: int, checkpoint: bool) -> dict:
        config = RunConfig.model_validate({"device": "cpu", "seed": 0, "batch_size": batch, "epochs": epochs})
        row = db_side.running_run(exp, f"overhead bs{batch}")
        reporter = Counting(row.pk, 1, "classification")
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = pathlib.Path(tmp) if checkpoint else None
            out = timed(lambda: engine.train(config, reporter, checkpoint_dir=ckpt, checkpoint_every_s=every_s))
        result = out.pop("out")
        return {**out, "checkpoints": reporter.checkpoints, "val_accuracy": result.final["val_accuracy"]}

    return run


def serve(side: str, threads: int, db_url: str, quick: bool) -> None:
    """Child process: train on request (one JSON line in, one `RESULT {json}` line out) until stdin closes."""
    import torch

    torch.set_num_threads(threads)
    run = hand_side() if side == "hand" else worker_side(db_url, quick)
    print("READY", flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        if side == "hand":
            out = timed(lambda: run(case["batch"], case["epochs"], case["checkpoint"]))
            out.update(out.pop("out"))
        else:
            out = run(case["batch"], case["epochs"], case["checkpoint"])
        print("RESULT " + json.dumps(out), flush=True)


# ---- the parent ------------------------------------------------------------------------------------


class Side:
    """A side's process; `run(case)` asks it to train once and returns its figures."""

    def __init__(self, side: str, threads: int, db_url: str, quick: bool):
        cmd = [sys.executable, __file__, "--side", side, "--threads", str(threads), "--db", db_url]
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.proc = subprocess.Popen(
            cmd + (["--quick"] if quick else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.expect("READY")

    def expect(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise RuntimeError(f"bench side exited (code {self.proc.wait()}) before saying {prefix}")

    def run(self, case: dict) -> dict:
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.expect("RESULT "))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def measure_case(hand: Side, worker: Side, case: dict, pairs: int, max_pairs: int, wait_limit: float) -> dict:
    """Alternating pairs until `pairs` are kept (or `max_pairs` tried); the median ratio and its range."""
    hand.run(case), worker.run(case)  # warm-up: lazy imports, allocator, the first DB writes
    kept, dropped, cpu_all, waits = [], 0, [], []
    for i in range(max_pairs):
        first, second = (hand, worker) if i % 2 == 0 else (worker, hand)
        a, b = first.run(case), second.run(case)
        h, w = (a, b) if first is hand else (b, a)
        cpu_all.append(w["cpu_s"] / h["cpu_s"])
        waits.append(max(h["wait_s"] / h["wall_s"], w["wait_s"] / w["wall_s"]))
        if waits[-1] > wait_limit:
            dropped += 1
            continue
        kept.append((h, w))
        if len(kept) == pairs:
            break
    # On a machine that is never quiet no pair is kept; the CPU-time ratio of every pair is then the only hint.
    case = {**case, "cpu_all_pairs": statistics.median(cpu_all), "wait_share_median": statistics.median(waits)}
    if not kept:
        return {**case, "kept": 0, "dropped": dropped}
    ratios = sorted(w["wall_s"] / h["wall_s"] for h, w in kept)
    return {
        **case,
        "kept": len(kept),
        "dropped": dropped,
        "ratios": ratios,
        "median": statistics.median(ratios),
        "cpu_median": statistics.median(w["cpu_s"] / h["cpu_s"] for h, w in kept),
        "hand_s": statistics.median(h["wall_s"] for h, _ in kept),
        "worker_s": statistics.median(w["wall_s"] for _, w in kept),
        "checkpoints": kept[0][1]["checkpoints"],
        "val_accuracy": [kept[0][0]["val_accuracy"], kept[0][1]["val_accuracy"]],
    }


def measure(threads: list[int], quick: bool, pairs: int, wait_limit: float = WAIT_LIMIT, log=print) -> dict:
    """{threads: [case figures, ...]} for every case, on a throwaway database."""
    out: dict = {}
    if quick:
        wait_limit = float("inf")  # one pair of tiny runs checks the harness; it must not be dropped
    with tempfile.TemporaryDirectory(prefix="losslab-overhead-") as tmp:
        db_url = f"sqlite:///{pathlib.Path(tmp) / 'overhead.sqlite3'}"
        for n in threads:
            hand, worker = Side("hand", n, db_url, quick), Side("worker", n, db_url, quick)
            try:
                out[str(n)] = []
                for batch, epochs, ckpt in QUICK_CASES if quick else CASES:
                    case = {"batch": batch, "epochs": epochs, "checkpoint": ckpt}
                    fig = measure_case(hand, worker, case, pairs, 1 if quick else 4 * pairs, wait_limit)
                    log(
                        f"{n} thread(s), batch {batch}, {epochs} epochs{', checkpoints' if ckpt else ''}: "
                        f"×{fig.get('median', float('nan')):.3f} ({fig['kept']} pairs kept, {fig['dropped']} dropped)"
                    )
                    out[str(n)].append(fig)
            finally:
                hand.close()
                worker.close()
    return out


def train_eval_cost(quick: bool, threads: int = 1) -> dict:
    """What the eval-mode training sample adds to an epoch of the tutorial MLP, measured in this process.

    evaluate() with the sample against evaluate() of val alone on the same model, and a training epoch;
    interleaved, medians of CPU time (steadier than wall time on a shared machine).
    """
    import torch

    from workers.training import engine
    from workers.training.config import RunConfig
    from workers.training.reporter import NullReporter

    torch.set_num_threads(threads)
    out = {}
    for batch in (32, 256):
        config = RunConfig.model_validate({"device": "cpu", "seed": 0, "batch_size": batch})
        run, val_only = engine._Run(config, NullReporter(), None), engine._Run(config, NullReporter(), None)
        val_only.model = run.model
        val_only.use_train_eval_rows(run.train_rows[:0])
        epochs = iter(range(1, 10**6))
        fns = {"epoch": lambda: run.train_epoch(next(epochs)), "evaluate": run.evaluate, "val_only": val_only.evaluate}
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(2 if quick else 15):
            for name, fn in fns.items():
                t = time.process_time()
                fn()
                times[name].append(time.process_time() - t)
        ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
        out[str(batch)] = {
            **ms,
            "rows": len(run.train_rows),
            "val_rows": run.n_val,
            "threads": threads,
            "share": (ms["evaluate"] - ms["val_only"]) / ms["epoch"],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", choices=["hand", "worker"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--threads", default="1,2", help="torch threads to measure with, comma-separated")
    ap.add_argument("--pairs", type=int, default=7, help="pairs to keep per row")
    ap.add_argument("--wait-limit", type=float, default=WAIT_LIMIT, help="CPU-wait share that drops a pair")
    ap.add_argument("--quick", action="store_true", help="tiny runs: checks the harness, not the speed")
    args = ap.parse_args()
    if args.side:
        serve(args.side, int(args.threads), args.db, args.quick)
        return
    figures = measure(
        [int(t) for t in args.threads.split(",")],
        args.quick,
        args.pairs,
        args.wait_limit,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

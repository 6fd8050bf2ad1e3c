"""Tracking overhead as a user would measure it: LossLab's worker path against a loop written by hand.

Each side lives in its own long-lived process, with its own torch threads:
  hand    bench/handloop.py: plain torch.nn modules, nothing from LossLab;
  worker  engine.train() with the worker's DbReporter on a throwaway SQLite database, a fresh run row
          each time, and (in the checkpoint rows) the worker's checkpoint directory and interval.
Both load digits themselves inside the timed call, as a script and a worker would. The parent asks the
two sides in turn to train once (a pair), alternating which goes first; while one trains the other
waits on a pipe. Each side reports its wall and CPU time and how long its threads waited for a CPU
(/proc/self/task/*/schedstat, second field). A pair where either side waited more than `wait_limit` of
its wall time is dropped: another process held a CPU, and that says nothing about LossLab.

One pair of processes is not enough. Identical code runs a few percent faster or slower in one process
than in another for the whole life of the process (where its memory landed: two processes of the *same*
hand-written loop gave medians of ×0.92, ×0.95 and ×1.02 against each other at batch 256). So a row is
measured in `rounds`, each with a fresh process per side (a fresh draw of that luck), and its figure is
the median of every kept pair's ratio (worker / hand) over all rounds, with a 95% bootstrap interval of
that median. The `resolution` row measures the hand-written loop against a second process of itself
the same way: what a ratio of 1.00 looks like on this machine.

    .venv/bin/python bench/overhead.py [--quick] [--threads 1,2] [--rounds 4] [--pairs 4]
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


def pair_ratios(first: Side, second: Side, case: dict, pairs: int, max_pairs: int, wait_limit: float) -> dict:
    """Alternating pairs of `second` against `first` until `pairs` are kept (or `max_pairs` tried)."""
    warm = {**case, "epochs": min(case["epochs"], 3)}
    first.run(warm), second.run(warm)  # warm-up: lazy imports, allocator, the first DB writes
    kept, dropped, cpu_all = [], 0, []
    for i in range(max_pairs):
        one, two = (first, second) if i % 2 == 0 else (second, first)
        x, y = one.run(case), two.run(case)
        a, b = (x, y) if one is first else (y, x)
        cpu_all.append(b["cpu_s"] / a["cpu_s"])
        if max(a["wait_s"] / a["wall_s"], b["wait_s"] / b["wall_s"]) > wait_limit:
            dropped += 1
            continue
        kept.append((a, b))
        if len(kept) == pairs:
            break
    return {"kept": kept, "dropped": dropped, "cpu_all": cpu_all}


def median_interval(ratios: list[float]) -> list[float]:
    """95% percentile-bootstrap interval of the median ratio (the pairs resampled)."""
    if len(ratios) < 3:
        return [min(ratios), max(ratios)]
    import numpy as np
    from scipy import stats

    res = stats.bootstrap(
        (np.asarray(ratios),), np.median, method="percentile", n_resamples=2000, random_state=np.random.default_rng(0)
    )
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def measure_case(
    sides: tuple[str, str],
    threads: int,
    db_url: str,
    quick: bool,
    case: dict,
    rounds: int,
    pairs: int,
    wait_limit: float,
) -> dict:
    """`rounds` rounds, each with a fresh process for each of `sides` (first, second): every kept pair's
    ratio second / first, pooled; their median, its interval and range, and each round's median."""
    kept, dropped, cpu_all, round_medians = [], 0, [], []
    for _ in range(rounds):
        first, second = (Side(side, threads, db_url, quick) for side in sides)
        try:
            got = pair_ratios(first, second, case, pairs, 3 * pairs, wait_limit)
        finally:
            first.close()
            second.close()
        kept += got["kept"]
        dropped += got["dropped"]
        cpu_all += got["cpu_all"]
        if got["kept"]:
            round_medians.append(statistics.median(b["wall_s"] / a["wall_s"] for a, b in got["kept"]))
    # On a machine that is never quiet no pair is kept; the CPU-time ratio of every pair is then the only hint.
    case = {**case, "rounds": rounds, "cpu_all_pairs": statistics.median(cpu_all) if cpu_all else None}
    if not kept:
        return {**case, "kept": 0, "dropped": dropped}
    ratios = sorted(b["wall_s"] / a["wall_s"] for a, b in kept)
    return {
        **case,
        "kept": len(kept),
        "dropped": dropped,
        "ratios": ratios,
        "median": statistics.median(ratios),
        "interval": median_interval(ratios),
        "round_medians": round_medians,
        "cpu_median": statistics.median(b["cpu_s"] / a["cpu_s"] for a, b in kept),
        "hand_s": statistics.median(a["wall_s"] for a, _ in kept),
        "worker_s": statistics.median(b["wall_s"] for _, b in kept),
        "checkpoints": kept[0][1]["checkpoints"],
        "val_accuracy": [kept[0][0]["val_accuracy"], kept[0][1]["val_accuracy"]],
    }


RESOLUTION_CASE = (256, 30, False)  # the shortest runs: where process luck weighs most


def measure(
    threads: list[int], quick: bool, rounds: int, pairs: int, wait_limit: float = WAIT_LIMIT, log=print
) -> dict:
    """{threads: [case figures, ...], "resolution": {threads: figures}} on a throwaway database."""
    out: dict = {"resolution": {}}
    if quick:
        wait_limit, rounds, pairs = float("inf"), 1, 1  # tiny runs check the harness; no pair may be dropped
    with tempfile.TemporaryDirectory(prefix="losslab-overhead-") as tmp:
        db_url = f"sqlite:///{pathlib.Path(tmp) / 'overhead.sqlite3'}"
        for n in threads:
            out[str(n)] = []
            for batch, epochs, ckpt in QUICK_CASES if quick else CASES:
                case = {"batch": batch, "epochs": epochs, "checkpoint": ckpt}
                fig = measure_case(("hand", "worker"), n, db_url, quick, case, rounds, pairs, wait_limit)
                log(f"{n} thread(s), {describe(fig)}")
                out[str(n)].append(fig)
            batch, epochs, ckpt = QUICK_CASES[0] if quick else RESOLUTION_CASE
            case = {"batch": batch, "epochs": epochs, "checkpoint": ckpt}
            fig = measure_case(("hand", "hand"), n, db_url, quick, case, rounds, pairs, wait_limit)
            log(f"{n} thread(s), resolution (hand against hand): {describe(fig)}")
            out["resolution"][str(n)] = fig
    return out


def describe(fig: dict) -> str:
    where = f"batch {fig['batch']}, {fig['epochs']} epochs{', checkpoints' if fig['checkpoint'] else ''}"
    if not fig["kept"]:
        return f"{where}: no pair kept ({fig['dropped']} dropped)"
    lo, hi = fig["interval"]
    return (
        f"{where}: ×{fig['median']:.3f} [{lo:.3f}, {hi:.3f}] "
        f"({fig['kept']} pairs in {fig['rounds']} rounds kept, {fig['dropped']} dropped)"
    )


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
    ap.add_argument("--rounds", type=int, default=4, help="fresh process pairs per row")
    ap.add_argument("--pairs", type=int, default=4, help="pairs to keep per round")
    ap.add_argument("--wait-limit", type=float, default=WAIT_LIMIT, help="CPU-wait share that drops a pair")
    ap.add_argument("--quick", action="store_true", help="tiny runs: checks the harness, not the speed")
    args = ap.parse_args()
    if args.side:
        serve(args.side, int(args.threads), args.db, args.quick)
        return
    figures = measure(
        [int(t) for t in args.threads.split(",")],
        args.quick,
        args.rounds,
        args.pairs,
        args.wait_limit,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

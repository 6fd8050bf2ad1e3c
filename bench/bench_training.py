"""Data-path benchmark (and a quick in-process engine check). Prints figures; never asserts on timing.

`make bench` takes only the data-path rows from here (bare against DataLoader); its overhead rows come
from bench/overhead.py, against a loop written by hand with plain torch.nn modules in its own process.
The "engine" column below runs in the same process against a loop built from LossLab's own model and
loss code, with data loading patched out: a quick check while iterating, not the figure to quote.

Compares, on the same tensors and the same model/optimizer:
  engine      train() with full tracking (a reporter that buffers points like the real one),
  bare        a plain PyTorch loop on the same tensor-indexed data path (randperm + index),
  dataloader  the plain loop fed by DataLoader(TensorDataset) with per-sample collation,
at batch 32 and 256, on digits and on a 60,000 × 784 synthetic set. Data loading is
excluded from every timing (the engine is handed the already-loaded dataset).

Each figure is the best of N interleaved repeats, in wall time and in process CPU
time. On a shared machine the CPU time is the steadier of the two: other
processes stretch wall time but not the CPU this process itself burns.

    .venv/bin/python bench/bench_training.py [--quick] [--device cpu|cuda|auto] [--repeats N]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from workers.training import engine
from workers.training.config import RunConfig
from workers.training.data import load_dataset
from workers.training.losses import build_loss, n_outputs
from workers.training.models import build_model
from workers.training.optim import build_optimizer


class BufferingReporter:
    """Buffers points in memory and flushes them in bulk every second, as the worker's reporter does."""

    def __init__(self) -> None:
        self.buffer: list[tuple[int, str, float, int | None]] = []
        self.flushed = 0
        self.last_flush = time.monotonic()

    def log_metrics(self, step, metrics, *, epoch=None):
        self.buffer.extend((step, k, float(v), epoch) for k, v in metrics.items())

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_flush > 1.0:  # the real one writes to the DB here, off the hot path
            self.flushed += len(self.buffer)
            self.buffer.clear()
            self.last_flush = now
        return False

    def before_checkpoint(self, *, epoch, step):
        pass

    def on_checkpoint(self, *, epoch, step):
        pass

    def on_resume(self, *, epoch, step):
        pass


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of fn(*args)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_engine(config: RunConfig, data) -> None:
    engine.load_dataset = lambda config, data_dir=None: data  # hand over the loaded tensors
    engine.train(config, BufferingReporter())
    sync(engine.resolve_device(config.device))


def run_bare(config: RunConfig, data, dataloader: bool) -> None:
    """The loop a careful engineer writes by hand: train, then val loss and accuracy per epoch."""
    device = engine.resolve_device(config.device)
    torch.manual_seed(config.seed)
    loss_fn = build_loss(config.loss, data.task, data.n_classes)
    model = build_model(config.model, data.input_shape, n_outputs(config.loss.name, data.task, data.n_classes))
    model = model.to(device)
    opt = build_optimizer(model.parameters(), config.optimizer)
    X, y, Xv, yv = (t.to(device) for t in (data.X_train, data.y_train, data.X_val, data.y_val))
    bs = config.batch_size
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=True) if dataloader else None
    for epoch in range(config.epochs):
        model.train()
        if loader is not None:
            batches = iter(loader)
        else:
            perm = torch.randperm(len(X), device=device)
            batches = ((X[perm[i : i + bs]], y[perm[i : i + bs]]) for i in range(0, len(X) - 1, bs))
        for xb, yb in batches:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(Xv)
            val_loss, acc = float(loss_fn(out, yv)), float((out.argmax(1) == yv).float().mean())
    sync(device)


def measure_case(config: RunConfig, repeats: int, with_engine: bool = True) -> dict[int, dict[str, dict[str, float]]]:
    """{batch: {"wall"|"cpu": {"engine"|"bare"|"dataloader": best seconds}}} at batch 32 and 256."""
    data = load_dataset(config)
    result = {}
    for batch in (32, 256):
        cfg = config.model_copy(update={"batch_size": batch})
        times: dict[str, list[tuple[float, float]]] = {"bare": [], "dataloader": []}
        if with_engine:
            times["engine"] = []
        run_bare(cfg, data, False)  # warm-up: lazy imports, allocator, kernels
        for _ in range(repeats):  # interleaved, so load changes on the machine hit all three alike
            if with_engine:
                times["engine"].append(timed(run_engine, cfg, data))
            times["bare"].append(timed(run_bare, cfg, data, False))
            times["dataloader"].append(timed(run_bare, cfg, data, True))
        result[batch] = {
            kind: {k: min(t[i] for t in v) for k, v in times.items()} for kind, i in (("wall", 0), ("cpu", 1))
        }
    return result


def bench_case(name: str, config: RunConfig, repeats: int) -> None:
    for batch, by_kind in measure_case(config, repeats).items():
        for kind, best in by_kind.items():
            print(
                f"{name:>14} batch {batch:>3} {kind:>4}: engine {best['engine']:7.3f}s  bare {best['bare']:7.3f}s  "
                f"dataloader {best['dataloader']:7.3f}s | engine/bare {best['engine'] / best['bare']:.3f}  "
                f"dataloader/bare {best['dataloader'] / best['bare']:.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer rows and epochs (a smoke run)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--only", choices=["digits", "large"], help="run one of the two datasets")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    common = {"device": args.device, "seed": 0}
    digits = RunConfig.model_validate({**common, "epochs": 3 if args.quick else 10})
    large = RunConfig.model_validate(
        {
            **common,
            "epochs": 1 if args.quick else 2,
            "dataset": {
                "name": "synthetic_classification",
                "n_samples": 6000 if args.quick else 60000,
                "n_features": 784,
            },
        }
    )
    print(
        f"device {engine.resolve_device(args.device)}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"best of {args.repeats}; MLP 256-128 with batch norm and dropout, Adam"
    )
    if args.only != "large":
        bench_case("digits", digits, args.repeats)
    if args.only != "digits":
        bench_case("synthetic 784", large, args.repeats)


if __name__ == "__main__":
    main()

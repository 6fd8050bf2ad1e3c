"""The training loop: `train(config, reporter) -> TrainResult`.

Pure PyTorch. Data lives on the device as tensors and batches are drawn by
indexing with a permutation that depends only on (seed, epoch), so a run
resumed from a checkpoint replays the uninterrupted run exactly. The loop
avoids a device sync per step: step losses are read back in bulk every
READ_BACK_EVERY steps or more, which is where divergence is seen; about 50 of
them per epoch are reported. `should_stop` is asked before every step.

`train_loss` is the running mean over the epoch in training mode (dropout on,
weights moving); it is not comparable with `val_loss`. Each epoch the model is
also evaluated like validation (eval mode, no_grad) on a fixed sample of the
training split, reported as `train_eval_loss` and `train_eval_<metric>`: the
train–val gap is read from that pair.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

import numpy as np
import torch

from . import checkpoint
from .augment import Augmenter
from .batches import TrainBatches
from .config import RunConfig
from .data import baseline_loss, load_dataset
from .health import GradHealth
from .losses import build_loss, classification_metrics, n_outputs, predictions, regression_metrics, weight_penalty
from .models import build_model, layer_groups, penalized_weights
from .optim import GroupNorms, Schedule, build_optimizer
from .reporter import Reporter

EVAL_CHUNK = 8192  # rows per forward pass when evaluating; bounds memory on large sets
STEP_SAMPLES = 50  # per-step train loss points per epoch (at most)
GRAD_SAMPLES = 5  # gradient-norm samples per epoch, at most (each costs two small kernels)
READ_BACK_EVERY = 16  # steps between reads of the step losses (a device sync, and where divergence is seen)
# The training sample evaluated like val every epoch: as many rows as val, capped at 1/TRAIN_EVAL_SHARE of the
# training split but never below TRAIN_EVAL_MIN. Measured on the tutorial MLP (one CPU thread), a row evaluated
# costs ~1/8 of a row trained at batch 256 and far less at batch 32: 1/32 of the split is ~0.4 % of an epoch.
# The floor sets the cost on small sets; on digits at batch 256 (epochs of 22 ms, one thread) 256 rows added
# 0.47 ms (2 %), 128 rows 0.3 ms (1.35 %), 96 rows ~0.2 ms (under 1 %). The rows are the same every epoch,
# so a small sample's error is a fixed offset on the curve, not jitter from epoch to epoch.
TRAIN_EVAL_SHARE = 32
TRAIN_EVAL_MIN = 96


class OutOfMemory(torch.OutOfMemoryError):
    """The device ran out of memory; the message says what to change (still a torch.OutOfMemoryError)."""


@dataclass
class TrainResult:
    status: Literal["completed", "stopped", "diverged"]
    epochs_run: int
    steps: int
    best_epoch: Optional[int]
    best_val_loss: Optional[float]
    final: dict[str, float]
    best: dict[str, float]
    diverged_step: Optional[int]
    message: str
    grad_health: Literal["ok", "vanishing", "exploding"]
    steps_per_epoch: int
    task: str
    # The trained model (best weights when early stopping restored them). A class-level default, set per
    # instance, so dataclasses.asdict() and JSON serialisation of the result never see it.
    model: ClassVar[Optional[torch.nn.Module]] = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but this worker has no GPU")
    return torch.device(name)


def train_eval_rows(n_train: int, n_val: int, seed: int) -> torch.Tensor:
    """Indices of the training rows evaluated like val every epoch: chosen from the seed alone, sorted.

    A CPU generator of its own, so the sample is the same on any device and draws nothing from the
    training RNG streams (the run's shuffles and dropout masks stay as they were without it).
    """
    size = min(n_val, n_train, max(TRAIN_EVAL_MIN, n_train // TRAIN_EVAL_SHARE))
    g = torch.Generator().manual_seed(seed * 1_000_003)  # "epoch 0" of the permutation streams: never trained on
    return torch.randperm(n_train, generator=g)[:size].sort().values


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


@dataclass
class LoopState:
    """Everything besides model/optimizer/schedule that a checkpoint must carry."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_val: Optional[float] = None
    best_epoch: Optional[int] = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    bad_epochs: int = 0
    early_stopped: bool = False
    # Where a stop left the unfinished epoch (empty at epoch ends): see _Run.pause_epoch.
    in_epoch: dict[str, Any] = field(default_factory=dict)


class _Run:
    """One training run's objects; `train()` drives it epoch by epoch."""

    owner: Optional[checkpoint.Owner] = None  # stamped on this run's checkpoints

    def __init__(self, config: RunConfig, reporter: Reporter, data_dir: Optional[pathlib.Path]):
        self.config, self.reporter = config, reporter
        self.device = resolve_device(config.device)
        seed_everything(config.seed)
        data = load_dataset(config, data_dir)
        self.data, self.task = data, data.task
        dev = self.device
        self.X, self.y = data.X_train.to(dev), data.y_train.to(dev)
        self.Xv, self.yv = data.X_val.to(dev), data.y_val.to(dev)
        # Draws (and for images normalises, augments, or streams from the host) each training batch.
        self.batches = TrainBatches(self.X, Augmenter(config.dataset.augment, config.seed))
        self.use_train_eval_rows(train_eval_rows(len(self.X), len(data.X_val), config.seed))
        self.loss_fn = build_loss(config.loss, data.task, data.n_classes)
        n_out = n_outputs(config.loss.name, data.task, data.n_classes)
        self.baseline = baseline_loss(self.loss_fn, data.y_train, data.y_val, n_out, data.task)
        self.model = build_model(config.model, data.input_shape, n_out, data.vocab_size).to(dev)
        self.grad_norms = GroupNorms(layer_groups(self.model))
        self.weights = penalized_weights(self.model)
        self.opt = build_optimizer(self.model.parameters(), config.optimizer)
        self.sched = Schedule(self.opt, config.schedule, config.epochs, config.optimizer.lr)
        amp = dev.type == "cuda" and config.precision != "fp32"
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision) if amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and config.precision == "fp16")
        self.state = LoopState()
        self.best_weights: Optional[dict[str, torch.Tensor]] = None
        self.health = GradHealth()
        n = len(self.X)
        self.batch_size = n if config.optimizer.name == "gd" else min(config.batch_size, n)
        # A trailing batch of one row is dropped: batch norm cannot train on it (it is reshuffled next epoch).
        full, rest = divmod(n, self.batch_size)
        self.steps_per_epoch = full + (1 if rest > 1 else 0)
        # The plain step skips autocast, the loss scaler, the penalty and clipping when all are off (~3 µs a step).
        self.plain = not (
            amp or config.regularization.l1 or config.regularization.l2 or config.regularization.grad_clip_norm
        )

    def use_train_eval_rows(self, rows: torch.Tensor) -> None:
        """Evaluate val and these training rows together: `y_eval` is val's targets, then the sample's.

        Tensors are joined once (`X_eval`), so one forward pass serves both; images stay uint8 and are
        normalised chunk by chunk at evaluation (a float copy of a large validation split would not fit).
        """
        data, dev = self.data, self.device
        self.train_rows, self.n_val = rows, len(data.X_val)
        tensors = isinstance(data.X_val, torch.Tensor)
        self.X_eval = torch.cat([data.X_val, data.X_train[rows]]).to(dev) if tensors else None
        self.y_eval = torch.cat([data.y_val, data.y_train[rows]]).to(dev)

    def eval_inputs(self):
        """The evaluation inputs in chunks of EVAL_CHUNK rows: val's, then the training sample's."""
        if self.X_eval is not None:
            yield from (self.X_eval[i : i + EVAL_CHUNK] for i in range(0, len(self.X_eval), EVAL_CHUNK))
            return
        yield from (self.Xv[i : i + EVAL_CHUNK] for i in range(0, len(self.Xv), EVAL_CHUNK))
        rows = self.train_rows.to(self.device)
        yield from (self.X[rows[i : i + EVAL_CHUNK]] for i in range(0, len(rows), EVAL_CHUNK))

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.autocast_dtype)

    def permutation(self, epoch: int) -> torch.Tensor:
        """Shuffle order of `epoch`: a function of (seed, epoch) only, so resuming replays it."""
        g = torch.Generator(device=self.device).manual_seed(self.config.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.X), generator=g, device=self.device)

    # ---- one epoch -------------------------------------------------------------------------

    def train_epoch(self, epoch: int) -> tuple[Optional[str], dict[str, float]]:
        """Train one epoch. Returns (outcome, metrics); outcome is None, "stopped" or "diverged"."""
        self.model.train()
        perm, steps = self.permutation(epoch), self.steps_per_epoch
        log_every = max(1, steps // STEP_SAMPLES)
        read_every = max(log_every, READ_BACK_EVERY)
        grad_every = max(4, steps // GRAD_SAMPLES)  # every 4th step at most: short epochs spend little on it
        outs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (outputs, targets): accuracy counted once per epoch
        self.grad_norms.reset()
        start, losses, correct, order = self.resume_epoch(epoch)
        perm = perm if order is None else order.to(self.device)
        classify = self.task == "classification"
        bs, pending = self.batch_size, []  # step losses not yet read back
        for i in range(start, steps):
            if self.reporter.should_stop():
                if pending:
                    finite, bad = self.report_steps(pending, i - len(pending), steps, log_every)
                    losses.extend(finite)
                    if bad is not None:
                        return "diverged", self.grad_norms.means()
                self.pause_epoch(epoch, perm, i, losses, correct + (self.count_correct(outs) if outs else 0))
                return "stopped", {}
            idx = perm[i * bs : (i + 1) * bs]
            yb = self.y[idx]
            out, loss = self.step(self.batches(perm, i, bs, epoch), yb, sample_grads=i % grad_every == 0)
            pending.append(loss)
            if classify:
                outs.append((out, yb))
            if len(pending) == read_every or i + 1 == steps:
                finite, bad = self.report_steps(pending, i + 1 - len(pending), steps, log_every)
                if bad is not None:
                    # The gradients sampled on the way to the blow-up say whether they exploded.
                    return "diverged", self.grad_norms.means()
                losses.extend(finite)
        # Summed from the step values, not per read-back: a resumed epoch adds them in the same order.
        metrics = {"train_loss": sum(losses) / steps}
        if classify:
            metrics["train_accuracy"] = (correct + self.count_correct(outs)) / min(steps * bs, len(self.X))
        metrics.update(self.grad_norms.means())
        return None, metrics

    def report_steps(self, pending: list[torch.Tensor], first: int, steps: int, log_every: int) -> tuple:
        """Read back the pending step losses (the epoch's steps `first`, `first` + 1, ...; one sync) and report
        the sampled ones up to the first non-finite one, which is recorded as where the run diverged.

        Returns the finite losses and the position of the non-finite one (None: all finite).
        """
        values = torch.stack(pending).tolist()
        pending.clear()
        bad = next((j for j, v in enumerate(values) if not math.isfinite(v)), None)
        finite = values if bad is None else values[:bad]
        before = self.state.step - first - len(values)  # steps taken before this epoch
        for k in range(first, first + len(finite)):
            if (k + 1) % log_every == 0 or k + 1 == steps:
                self.reporter.log_metrics(before + k + 1, {"train_loss_step": finite[k - first]})
        if bad is not None:
            self.diverged_step = before + first + bad + 1
            self.diverged_value = values[bad]
        return finite, bad

    # ---- stopping and resuming inside an epoch (a warm shutdown loses no step) ----------------

    def pause_epoch(self, epoch: int, perm: torch.Tensor, position: int, losses: list[float], correct: int) -> None:
        """Record the unfinished epoch so a checkpoint taken now resumes at exactly this step: the data order
        (kept, not recomputed: a resume on another kind of device would draw another one), the next batch
        position, the step losses, the correct count and the gradient-norm samples so far. The RNG state
        is in the checkpoint already."""
        samples = self.grad_norms.samples
        self.state.in_epoch = {
            "epoch": epoch,
            "order": perm.cpu(),
            "position": position,
            "losses": list(losses),
            "correct": int(correct),
            "grad_samples": torch.stack(samples).cpu() if samples else None,
        }

    def resume_epoch(self, epoch: int) -> tuple[int, list[float], int, Optional[torch.Tensor]]:
        """(first batch position, step losses, correct count, data order or None) of `epoch`: where a pause
        left it, or a fresh start."""
        paused, self.state.in_epoch = self.state.in_epoch, {}
        if paused.get("epoch") != epoch:
            return 0, [], 0, None
        if paused["grad_samples"] is not None:
            self.grad_norms.samples = list(paused["grad_samples"].to(self.device).unbind(0))
        return paused["position"], list(paused["losses"]), paused["correct"], paused["order"]

    def step(self, xb: torch.Tensor, yb: torch.Tensor, *, sample_grads: bool) -> tuple:
        """One optimizer step; returns the detached outputs and data loss (no sync)."""
        if not self.plain:
            return self.step_amp(xb, yb, sample_grads=sample_grads)
        out = self.model(xb)
        loss = self.loss_fn(out, yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if sample_grads:
            self.grad_norms.sample()
        self.opt.step()
        self.state.step += 1
        return out.detach(), loss.detach()

    def step_amp(self, xb: torch.Tensor, yb: torch.Tensor, *, sample_grads: bool) -> tuple:
        """`step` with mixed precision, a weight penalty or gradient clipping."""
        with self.autocast():
            out = self.model(xb)
            loss = self.loss_fn(out, yb)
        penalty = weight_penalty(self.weights, self.config.regularization.l1, self.config.regularization.l2)
        objective = loss if penalty is None else loss + penalty
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(objective).backward()
        clip = self.config.regularization.grad_clip_norm
        if sample_grads or clip:
            self.scaler.unscale_(self.opt)
        if sample_grads:
            self.grad_norms.sample()
        if clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.state.step += 1
        return out.detach(), loss.detach()

    def count_correct(self, outs: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
        out = torch.cat([o for o, _ in outs])
        y = torch.cat([t for _, t in outs])
        return int((predictions(out, self.config.loss.name) == y).sum())

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and the shared metrics, and the same on the fixed training sample (`train_eval_*`),
        under eval() and no_grad. One forward pass over both: a second one would cost its fixed overhead again."""
        self.model.eval()
        with self.autocast():
            chunks = [self.model(x) for x in self.eval_inputs()]
        out = (chunks[0] if len(chunks) == 1 else torch.cat(chunks)).float()
        nv = self.n_val
        metrics = self.split_metrics("val", out[:nv], self.y_eval[:nv])
        if len(out) > nv:
            metrics.update(self.split_metrics("train_eval", out[nv:], self.y_eval[nv:]))
        return metrics

    def split_metrics(self, prefix: str, out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """`<prefix>_loss` under the run's loss and the shared metrics (`<prefix>_accuracy`, `<prefix>_rmse`...)."""
        loss = self.loss_fn(out, y)
        if self.task == "classification":
            # Plain cross-entropy is the NLL already: not computed twice.
            nll = loss if self.config.loss.name == "cross_entropy" and not self.config.loss.label_smoothing else None
            shared = classification_metrics(out, y, self.config.loss.name, nll=nll)
        else:
            shared = regression_metrics(out, y, self.data.y_scale)
        return {f"{prefix}_loss": float(loss), **{prefix + k.removeprefix("val"): v for k, v in shared.items()}}

    # ---- bookkeeping between epochs ---------------------------------------------------------

    def end_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Track the best epoch, early stopping, gradient health and the schedule."""
        s = self.state
        s.epoch = epoch
        val = metrics["val_loss"]
        patience = self.config.regularization.early_stopping_patience
        if math.isfinite(val) and (s.best_val is None or val < s.best_val):
            s.best_val, s.best_epoch, s.best_metrics, s.bad_epochs = val, epoch, dict(metrics), 0
            if patience:
                self.best_weights = checkpoint.cpu_state(self.model.state_dict())
        else:
            s.bad_epochs += 1
            s.early_stopped = bool(patience and s.bad_epochs >= patience)
        s.final = dict(metrics)
        self.sched.step(val)

    def checkpoint_state(self) -> dict[str, Any]:
        s = self.state
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "schedule": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": checkpoint.rng_state(),
            "loop": {**vars(s)},
            "health": self.health.state_dict(),
            "best_weights": self.best_weights,
            "train_eval_rows": self.train_rows,
            "config": self.config.canonical_json(),
            "owner": self.owner,
        }

    def restore(self, ckpt: dict[str, Any]) -> None:
        if ckpt["config"] != self.config.canonical_json():
            raise ValueError("checkpoint_dir: the checkpoint there belongs to a different run config")
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["schedule"])
        if ckpt["scaler"]:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = LoopState(**ckpt["loop"])
        self.health.load_state_dict(ckpt["health"])
        self.best_weights = ckpt["best_weights"]
        if "train_eval_rows" in ckpt:  # the rows the run started with, even if the choice of rows has changed since
            self.use_train_eval_rows(ckpt["train_eval_rows"])
        checkpoint.set_rng_state(ckpt["rng"])


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    """Drop NaN/inf values: a metric store should only hold numbers."""
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def train(
    config: RunConfig,
    reporter: Reporter,
    *,
    checkpoint_dir: Optional[pathlib.Path] = None,
    data_dir: Optional[pathlib.Path] = None,
    checkpoint_every_s: float = 0.0,
    owner: Optional[checkpoint.Owner] = None,
) -> TrainResult:
    """Train the configured model, reporting metrics to `reporter`; resume from `checkpoint_dir` if it holds one.

    A checkpoint is taken at the end of an epoch once `checkpoint_every_s` seconds have passed since
    the last one (0: after every epoch), so that epochs of a few milliseconds do not spend their time
    saving; a resumed run redoes at most that much work plus the unfinished epoch. A stop (the reporter
    asked) writes one at that very step, mid-epoch, so a handed-back run redoes nothing.

    `owner` (run uid, attempt, config hash) is stamped on every checkpoint, and only a checkpoint of the same
    run and config from an older attempt is resumed (see checkpoint.refusal); others are ignored.
    The file is written in the background while training goes on, and is on disk when this returns.

    Ends "completed" (all epochs, or early stopping), "stopped" (the reporter
    asked, checked every batch) or "diverged" (a NaN/inf training loss).
    Raises ValueError for a config that cannot train (bad data, arch/dataset
    or loss/task mismatch) and OutOfMemory when the device runs out.
    """
    try:
        return _train(config, reporter, checkpoint_dir, data_dir, checkpoint_every_s, owner)
    except torch.OutOfMemoryError as exc:
        raise OutOfMemory(
            f"out of memory on the device with batch_size={config.batch_size} and hidden={config.model.hidden}: "
            "lower the batch size or the model width"
        ) from exc


def _train(config, reporter, checkpoint_dir, data_dir, checkpoint_every_s, owner=None) -> TrainResult:
    run = _Run(config, reporter, data_dir)
    run.owner = owner
    ckpt = checkpoint.load(checkpoint_dir, owner)
    if ckpt is not None:
        run.restore(ckpt)
        reporter.on_resume(epoch=run.state.epoch, step=run.state.step)
    checkpoints = checkpoint.Checkpointer(reporter, checkpoint_dir, checkpoint_every_s)
    try:
        status, message = _epochs(run, checkpoints)
    except BaseException:
        checkpoints.abandon()
        raise
    checkpoints.close()
    return _result(run, status, message)


def _epochs(run: _Run, checkpoints: checkpoint.Checkpointer) -> tuple[str, str]:
    """Train the remaining epochs; returns (status, message)."""
    config, reporter = run.config, run.reporter
    for epoch in range(run.state.epoch + 1, config.epochs + 1):
        if run.state.early_stopped:
            break
        started, lr = time.perf_counter(), run.sched.lr
        outcome, metrics = run.train_epoch(epoch)
        if outcome == "stopped":
            checkpoints.now(epoch=run.state.epoch, step=run.state.step, state=run.checkpoint_state)
            return "stopped", f"stopped on request during epoch {epoch} at step {run.state.step}"
        if outcome == "diverged":
            run.health.update(metrics)
            return "diverged", f"loss became {run.diverged_value} at step {run.diverged_step} (epoch {epoch})"
        metrics.update(run.evaluate())
        metrics.update(run.health.update(metrics))
        metrics.update(epoch=float(epoch), lr=lr, epoch_time=time.perf_counter() - started)
        if epoch == 1:
            metrics["baseline_val_loss"] = run.baseline
        run.end_epoch(epoch, metrics)
        reporter.log_metrics(run.state.step, _finite(metrics), epoch=epoch)
        checkpoints.epoch_end(epoch=run.state.epoch, step=run.state.step, state=run.checkpoint_state)
    return "completed", ""


def _result(run: _Run, status: str, message: str) -> TrainResult:
    s = run.state
    if s.early_stopped and run.best_weights is not None:
        run.model.load_state_dict(run.best_weights)
    if status == "completed":
        how = f"early stopping after epoch {s.epoch}" if s.early_stopped else f"{s.epoch} epochs"
        message = (
            f"completed ({how}); best val_loss {s.best_val:.4g} at epoch {s.best_epoch}"
            if s.best_epoch
            else f"completed ({how})"
        )
    final = {**s.final, "baseline_val_loss": run.baseline}
    result = TrainResult(
        status=status,
        epochs_run=s.epoch,
        steps=s.step,
        best_epoch=s.best_epoch,
        best_val_loss=s.best_val,
        final=final,
        best=dict(s.best_metrics),
        diverged_step=getattr(run, "diverged_step", None) if status == "diverged" else None,
        message=message,
        grad_health=run.health.verdict,
        steps_per_epoch=run.steps_per_epoch,
        task=run.task,
    )
    result.model = run.model
    return result

"""Run one claimed run on this worker: DB reporter, heartbeat thread, engine call, final status.

How a run can stop early, and what becomes of it:
- cancel (page or admin) -> `cancelled`, curves kept;
- SIGTERM to the worker (warm shutdown, `docker stop`) -> a checkpoint at the
  very step it stopped (mid-epoch), handed back `queued`, resumed from there
  by the next free worker;
- lease lost (reaped while this worker was cut off) -> nothing written, the
  attempt that owns the run now carries on;
- out of memory -> `failed` with what to change, never retried.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
import traceback

from django.conf import settings
from django.db import close_old_connections

from experiments import queue, selectors, storage
from experiments.analysis.history import diagnose_history, min_train_loss
from experiments.metric_store import compact, read_series
from experiments.models import Run, Upload
from experiments.selectors.configs import config_read
from workers.device import device_info, device_usage, release_device
from workers.drills import with_faults
from workers.training.config import RunConfig
from workers.training.datasets import datasets_present

log = logging.getLogger(__name__)

# Set by SIGTERM in the pool process: the run stops at the next batch and is handed back.
SHUTDOWN = threading.Event()


@contextlib.contextmanager
def shutdown_signal():
    """While a run trains, SIGTERM means "stop at the next batch and hand the run back", not "die".

    Installed per run because billiard installs its own SIGTERM handler
    (exit at once) after the pool process is initialised; it is put back after.
    """
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: SHUTDOWN.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DbReporter:
    """Buffers metric points and writes them in batches, fenced by the run's attempt.

    A write (points, progress, live summary and diagnosis, in one transaction) happens at most every
    METRIC_FLUSH_S, whatever the epoch length, and always before a checkpoint is written.
    """

    def __init__(
        self, run_id: int, attempt: int, task: str, config: dict | None = None, reference: float | None = None
    ):
        self.run_id, self.attempt, self.task = run_id, attempt, task
        self.config, self.reference = config, reference  # what the diagnosis reads beside the curves
        self.buffer: list[tuple[int, str, float, float]] = []
        self.last_flush = -math.inf  # the first point is written at once: the page shows the run has started
        self.stop_event = threading.Event()
        self.cancelled = False
        self.lease_lost = False
        self.epoch = 0
        self.step = 0
        self.history: dict[int, dict[str, float]] = {}  # epoch -> epoch-level metrics

    # --- Reporter protocol
    def log_metrics(self, step: int, metrics: dict[str, float], *, epoch: int | None = None) -> None:
        now = time.time()
        self.buffer.extend((step, key, float(value), now) for key, value in metrics.items())
        self.step = step
        if epoch is not None:
            self.epoch = epoch
            self.history.setdefault(epoch, {}).update(metrics)
        if time.monotonic() - self.last_flush >= settings.METRIC_FLUSH_S:
            self.flush()

    def should_stop(self) -> bool:
        return self.stop_event.is_set() or SHUTDOWN.is_set()

    def before_checkpoint(self, *, epoch: int, step: int) -> None:
        self.flush()  # points up to the checkpoint are stored before the checkpoint exists

    def on_checkpoint(self, *, epoch: int, step: int) -> None:
        queue.run_mark_checkpoint(run_id=self.run_id, attempt=self.attempt, step=step)

    def on_resume(self, *, epoch: int, step: int) -> None:
        self.buffer = [p for p in self.buffer if p[0] <= step]
        queue.run_resume_from(run_id=self.run_id, attempt=self.attempt, step=step, epoch=epoch)
        self.history = _epoch_history(self.run_id, upto_step=step)
        self.epoch, self.step = epoch, step

    # --- batching
    def flush(self) -> None:
        points, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        summary, verdict = self.summary_and_verdict(finished=False)
        queue.run_record_metrics(
            run_id=self.run_id,
            attempt=self.attempt,
            points=points,
            epoch=self.epoch,
            step=self.step,
            summary=summary,
            verdict=verdict,
        )

    def summary_and_verdict(
        self, *, finished: bool, grad_health: str | None = None, diverged: bool = False
    ) -> tuple[dict, str]:
        return summarize(
            self.history,
            task=self.task,
            finished=finished,
            grad_health=grad_health,
            diverged=diverged,
            config=self.config,
            experiment_best_train_loss=self.reference,
        )


def _epoch_history(run_id: int, *, upto_step: int) -> dict[int, dict[str, float]]:
    series = read_series([run_id]).get(run_id, {})
    epochs = series.get("epoch")
    history: dict[int, dict[str, float]] = {}
    if epochs is None:
        return history
    step_to_epoch = {int(s): int(e) for s, e in zip(epochs.steps, epochs.values) if s <= upto_step}
    for key, s in series.items():
        for step, value in zip(s.steps.tolist(), s.values.tolist()):
            if step in step_to_epoch:
                history.setdefault(step_to_epoch[step], {})[key] = value
    return history


def summarize(
    history: dict[int, dict[str, float]],
    *,
    task: str,
    finished: bool,
    grad_health: str | None = None,
    diverged: bool = False,
    config: dict | None = None,
    experiment_best_train_loss: float | None = None,
) -> tuple[dict, str]:
    """Best and final epoch metrics and the diagnosis (live while training, final at the end).

    `config` keeps the suggestions to what the run does not already do; `experiment_best_train_loss`
    (another run's lowest training loss on the same data) lowers the diagnosis's underfitting line.
    """
    summary: dict = {}
    epochs = sorted(history)
    if epochs:
        val = [history[e].get("val_loss") for e in epochs]
        finite = [(v, e) for v, e in zip(val, epochs) if v is not None and math.isfinite(v)]
        best_epoch = min(finite)[1] if finite else epochs[-1]
        summary = {"final": history[epochs[-1]], "best": history[best_epoch], "best_epoch": best_epoch}
        summary["min_train_loss"] = min_train_loss(history)
    diagnosis = diagnose_history(
        history,
        task=task,
        finished=finished,
        grad_health=grad_health,
        diverged=diverged,
        config=config,
        experiment_best_train_loss=experiment_best_train_loss,
    )
    if diagnosis is None:
        return summary, ""
    summary["diagnosis"] = diagnosis
    return summary, diagnosis["verdict"]


class Heartbeat(threading.Thread):
    """Extends the run's lease every HEARTBEAT_S and turns a cancel or a lost lease into a stop."""

    def __init__(self, reporter: DbReporter):
        super().__init__(daemon=True, name=f"heartbeat-run-{reporter.run_id}")
        self.reporter = reporter
        self.done = threading.Event()

    def run(self) -> None:
        r = self.reporter
        while not self.done.wait(settings.HEARTBEAT_S):
            try:
                if queue.run_heartbeat(run_id=r.run_id, attempt=r.attempt):
                    r.cancelled = True
                    r.stop_event.set()
            except queue.LeaseLost:
                r.lease_lost = True
                r.stop_event.set()
                return
            except Exception:  # a DB blip: keep training, the lease has slack
                log.warning("heartbeat for run %s failed", r.run_id, exc_info=True)


def execute_run(run_id: int, attempt: int) -> None:
    """Train a claimed run and record how it ended. Never raises for a training failure."""
    run = Run.objects.get(pk=run_id)
    stored = config_read(run.config)
    if stored.config is None:  # a row that no longer parses: fail it by name rather than crash the task
        queue.run_finish(run_id=run_id, attempt=attempt, status=Run.Status.FAILED, error=stored.problem)
        return
    config = stored.config
    reference = selectors.experiment_best_train_loss(run=run)
    reporter = DbReporter(run_id, attempt, config.task, config=run.config, reference=reference)
    beat = Heartbeat(reporter)
    beat.start()
    try:
        with shutdown_signal():
            result = _train(reporter, config, run)
    except queue.LeaseLost:
        log.warning("run %s attempt %s lost its lease; stopping", run_id, attempt)
        return
    except Exception as exc:  # the worker survives any training error and takes the next run
        _finish_failed(reporter, exc, config)
        return
    finally:
        beat.done.set()
        release_device()
    if result.status == "completed" and not reporter.lease_lost:
        _save_model(run, result.model)
    result.model = None
    _finish(reporter, result)


def _train(reporter: DbReporter, config: RunConfig, run: Run):
    from workers.training import checkpoint, engine  # late: they load torch, which an idle worker never needs

    checkpoint_dir = storage.run_dir(run)
    owner = checkpoint.Owner(
        run=str(run.uid), attempt=reporter.attempt, config_hash=checkpoint.config_hash(config.canonical_json())
    )
    if not checkpoint.usable(checkpoint_dir, owner):
        # Nothing of this run's own to resume (first attempt, a worker that died before its first checkpoint,
        # or a stale or foreign file, ignored and logged): start clean.
        queue.run_resume_from(run_id=reporter.run_id, attempt=reporter.attempt, step=0, epoch=0)
    return engine.train(
        config,
        with_faults(reporter, config),
        checkpoint_dir=checkpoint_dir,
        data_dir=_link_uploads(config, checkpoint_dir / "data"),
        checkpoint_every_s=settings.CHECKPOINT_EVERY_S,
        owner=owner,
    )


def _link_uploads(config: RunConfig, data_dir):
    """The engine reads an upload as data_dir/<upload id>.csv (.npz for images); uploads are stored under random names."""
    upload_id = config.dataset.upload
    if upload_id is None:
        return data_dir
    upload = Upload.objects.filter(pk=upload_id).first()
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / f"{upload_id}{upload.suffix if upload is not None else '.csv'}"
    link.unlink(missing_ok=True)
    if upload is not None:  # a deleted upload: the engine says the file is missing
        link.symlink_to(upload.path.resolve())
    return data_dir


def _save_model(run: Run, model) -> None:
    """The final weights (best ones when early stopping restored them), downloadable from the run page."""
    import torch  # late: the run has loaded it; the module stays light for an idle worker

    try:
        settings.MODEL_DIR.mkdir(parents=True, exist_ok=True)
        path = storage.model_path(run)
        tmp = path.with_suffix(".tmp")
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
        tmp.replace(path)
    except Exception:  # the run's results are in the DB; only the download is missing
        log.warning("could not save the model of run %s", run.pk, exc_info=True)


def _finish(reporter: DbReporter, result) -> None:
    if reporter.lease_lost:
        return
    if result.status == "stopped" and not reporter.cancelled:
        # Warm shutdown: the checkpoint of the last finished epoch is where the next worker resumes.
        log.info("shutting down: handing run %s back to the queue", reporter.run_id)
        queue.run_requeue_warm(run_id=reporter.run_id, attempt=reporter.attempt)
        return
    status = {
        "completed": Run.Status.SUCCEEDED,
        "diverged": Run.Status.DIVERGED,
        "stopped": Run.Status.CANCELLED,
    }[result.status]
    try:
        reporter.flush()
    except queue.LeaseLost:
        return
    summary, verdict = reporter.summary_and_verdict(
        finished=True, grad_health=result.grad_health, diverged=result.status == "diverged"
    )
    summary.update(
        {
            "steps_per_epoch": result.steps_per_epoch,
            "grad_health": result.grad_health,
            "best_epoch": result.best_epoch or summary.get("best_epoch"),
        }
    )
    finished = queue.run_finish(
        run_id=reporter.run_id,
        attempt=reporter.attempt,
        status=status,
        error=result.message if status != Run.Status.SUCCEEDED else "",
        diverged_step=result.diverged_step,
        summary=summary,
        verdict=verdict,
    )
    if finished:
        _compact(reporter.run_id)


def oom_message(exc: BaseException, config: RunConfig) -> str | None:
    """The actionable message for an out-of-memory error (None for any other error)."""
    import torch  # late: a run has loaded it by now; the module stays light for an idle worker

    if not isinstance(exc, torch.OutOfMemoryError) and "out of memory" not in str(exc).lower():
        return None
    device = exc.__cause__ or exc
    return (
        f"Out of memory with batch_size={config.batch_size} and model.hidden={config.model.hidden}. "
        "Halve batch_size, use a narrower model (model.hidden), or choose precision bf16 on a GPU. "
        f"Not retried: the same config would run out again. (Device: {str(device)[:300]})"
    )


def _finish_failed(reporter: DbReporter, exc: Exception, config: RunConfig) -> None:
    message = oom_message(exc, config) or f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}"
    try:
        reporter.flush()
    except Exception:
        pass
    summary, verdict = reporter.summary_and_verdict(finished=True)
    if queue.run_finish(
        run_id=reporter.run_id,
        attempt=reporter.attempt,
        status=Run.Status.FAILED,
        error=message,
        summary=summary,
        verdict=verdict,
    ):
        _compact(reporter.run_id)


def _compact(run_id: int) -> None:
    """One chunk per key once the history is final, so comparisons read one row per curve."""
    try:
        compact(run_id)
    except Exception:  # the run is recorded; compaction is only an optimisation
        log.warning("could not compact the metrics of run %s", run_id, exc_info=True)


_worker_beat_started = False


def start_worker_heartbeat(name: str) -> None:
    """Beat the Worker row every few seconds from the pool process (device, memory, datasets held).

    The first beat is made before this returns, so the worker's datasets are known before its first claim.
    """
    global _worker_beat_started
    if _worker_beat_started:
        return
    _worker_beat_started = True

    info = device_info()

    def beat_once() -> None:
        try:
            close_old_connections()
            held = datasets_present(settings.DATA_DIR)
            queue.worker_heartbeat(name=name, **info, **device_usage(), datasets=held)
            queue.worker_wake_for_held_datasets(name=name)
        except Exception:
            log.warning("worker heartbeat failed", exc_info=True)

    def beat() -> None:
        while True:
            time.sleep(settings.WORKER_HEARTBEAT_S)
            beat_once()

    beat_once()
    threading.Thread(target=beat, daemon=True, name="worker-heartbeat").start()

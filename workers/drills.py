"""Fault injection for tests and drills, off unless set (see settings: LOSSLAB_FAULT_OOM_*).

A wrapping reporter, so the production `DbReporter` knows nothing of it: it
raises the error CUDA raises from inside the training loop, so the engine and
the runner handle it exactly as a real out-of-memory.
"""

from __future__ import annotations

from django.conf import settings

from workers.training.config import RunConfig


def simulated_oom(step: int) -> BaseException:
    import torch  # late: the engine has loaded it already; this module stays importable without it

    return torch.OutOfMemoryError(
        f"CUDA out of memory. Tried to allocate 2.00 GiB (simulated at step {step} by LOSSLAB_FAULT_OOM_AT_STEP)"
    )


class OomAtStep:
    """Passes everything to `inner`, and raises an out-of-memory error at step `at` or later."""

    def __init__(self, inner, at: int):
        self.inner, self.at = inner, at

    def log_metrics(self, step: int, metrics: dict[str, float], *, epoch: int | None = None) -> None:
        if step >= self.at:
            raise simulated_oom(step)
        self.inner.log_metrics(step, metrics, epoch=epoch)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def with_faults(reporter, config: RunConfig):
    """The reporter the engine gets: `reporter` itself unless a drill asks for a fault in this run."""
    at = settings.FAULT_OOM_AT_STEP
    if at is not None and config.batch_size >= settings.FAULT_OOM_MIN_BATCH:
        return OomAtStep(reporter, at)
    return reporter

"""Where a run's files live, how long they stay, and how much disk they take.

A run's checkpoints (and the links to its uploaded data) live in CHECKPOINT_DIR/<run uid>/, its final
weights in MODEL_DIR/<run uid>.pt: named by the uid, never by the id, which a database reset or a
restore from backup hands out again. Uploads are UPLOAD_DIR/<random>.csv. Nothing here imports torch.

Retention: once a run has finished for CHECKPOINT_RETENTION_H hours its folder is deleted, and its model
file too unless the user chose to keep it. A folder or model file that no run owns (a run deleted, a
database reset) goes when it is that old. The scheduler calls `prune_files` every PRUNE_EVERY_S.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from experiments.models import Run

log = logging.getLogger(__name__)


def run_dir(run: Run) -> Path:
    return settings.CHECKPOINT_DIR / str(run.uid)


def model_path(run: Run) -> Path:
    return settings.MODEL_DIR / f"{run.uid}.pt"


def _uid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None  # not a run's: a folder named by the old run id, a temp file


def _size(path: Path) -> int:
    if path.is_symlink():
        return 0  # a link to an upload, counted with the uploads
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(_size(p) for p in path.iterdir())
    return 0


def disk_usage() -> dict[str, int]:
    """Bytes used by checkpoints, kept models and uploads (what the admin shows)."""
    dirs = {"checkpoints": settings.CHECKPOINT_DIR, "models": settings.MODEL_DIR, "uploads": settings.UPLOAD_DIR}
    return {name: _size(path) for name, path in dirs.items()}


def _expired(entries: list[Path], now: float) -> list[Path]:
    """Those of `entries` (named by a run uid, or not) whose retention has run out."""
    retention = settings.CHECKPOINT_RETENTION_H * 3600
    by_uid = {u: p for p in entries if (u := _uid(p.name.removesuffix(".pt")))}
    runs = {
        r.uid: r for r in Run.objects.filter(uid__in=list(by_uid)).only("uid", "status", "finished_at", "keep_model")
    }
    cutoff = timezone.now() - timedelta(seconds=retention)
    gone = []
    for path in entries:
        run = runs.get(_uid(path.name.removesuffix(".pt")))
        if run is None:
            old = now - path.lstat().st_mtime >= retention
        else:
            keep = run.keep_model and path.suffix == ".pt"
            old = not keep and run.is_finished and run.finished_at is not None and run.finished_at <= cutoff
        if old:
            gone.append(path)
    return gone


def prune_files() -> list[Path]:
    """Delete the checkpoints and model files whose retention has run out. Returns what was deleted."""
    now = time.time()
    deleted = []
    for folder in (settings.CHECKPOINT_DIR, settings.MODEL_DIR):
        if not folder.is_dir():
            continue
        for path in _expired(list(folder.iterdir()), now):
            try:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                deleted.append(path)
            except OSError:  # another process deleted it first, or a permission problem: next pass
                log.warning("could not delete %s", path, exc_info=True)
    if deleted:
        log.info("retention: deleted %d checkpoint folders and model files", len(deleted))
    return deleted

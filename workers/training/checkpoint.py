"""Atomic checkpoints that `torch.load(weights_only=True)` can read back safely.

Only tensors and plain containers of numbers/strings are stored, so loading
a checkpoint cannot execute code. RNG states are kept so that a resumed run
replays exactly the dropout masks and shuffles of the uninterrupted one.

A checkpoint records its owner: the run's random uid, the attempt that wrote
it and the hash of the config it trained. An attempt resumes only a
checkpoint of its own run and config written by an older attempt; any other
file (a run id reused after a database reset, a folder restored beside a
newer database, a zombie attempt's late write) is ignored and reported,
never loaded into the model.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pathlib
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Optional, TypedDict

import numpy as np
import torch

FILENAME = "checkpoint.pt"

log = logging.getLogger(__name__)


class Owner(TypedDict):
    run: str  # the run's uid
    attempt: int
    config_hash: str


def config_hash(canonical_json: str) -> str:
    return hashlib.sha256(canonical_json.encode()).hexdigest()


def refusal(stored: Optional[dict], owner: Owner) -> Optional[str]:
    """Why attempt `owner` must not resume a checkpoint stamped `stored` (None: it may)."""
    if not stored:
        return "it records no owner"
    if stored.get("run") != owner["run"]:
        return f"it belongs to run {stored.get('run')}, not {owner['run']}"
    if stored.get("config_hash") != owner["config_hash"]:
        return "it was trained with a different config"
    if not int(stored.get("attempt", 0)) < owner["attempt"]:
        return f"it was written by attempt {stored.get('attempt')}, not older than attempt {owner['attempt']}"
    return None


def rng_state() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and python RNG states as tensors and primitives."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(checkpoint_dir: pathlib.Path, state: dict[str, Any]) -> pathlib.Path:
    """Write the checkpoint now (see `write`)."""
    return write(checkpoint_dir, serialize(state))


def serialize(state: dict[str, Any]) -> bytes:
    """The checkpoint's bytes: a snapshot, so that training can go on changing the tensors afterwards."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def write(checkpoint_dir: pathlib.Path, data: bytes) -> pathlib.Path:
    """Write to a temp file, fsync it, then os.replace: a crash never leaves half a file."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / FILENAME
    tmp = checkpoint_dir / f".{FILENAME}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


class BackgroundWriter:
    """Writes checkpoints to disk from a thread of its own, one at a time.

    The training thread only serialises the state (~2 ms for the tutorial MLP) and goes on; the write and
    its fsync (~15 ms there on this project's VMs, seconds for a large model on a slow disk) overlap
    training. Each checkpoint carries a tag; `finished()` and `wait()` return the tags of the writes now on
    disk, so the caller can say so only then. A failed write raises in the training thread at the next call.
    """

    def __init__(self, checkpoint_dir: pathlib.Path):
        self.checkpoint_dir = checkpoint_dir
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._tag: Any = None

    def submit(self, state: dict[str, Any], tag: Any) -> list:
        """Snapshot `state` and write it in the background (after the write in flight, if any, whose tag
        is returned in a list)."""
        done = self.wait()
        data = serialize(state)
        self._tag = tag
        self._thread = threading.Thread(target=self._write, args=(data,), name="checkpoint-writer", daemon=True)
        self._thread.start()
        return done

    def _write(self, data: bytes) -> None:
        try:
            write(self.checkpoint_dir, data)
        except BaseException as exc:  # re-raised in the training thread by wait()
            self._error = exc

    def finished(self) -> list:
        """The tag of the write that has reached the disk since the last call, in a list (empty: none). No wait."""
        if self._thread is not None and not self._thread.is_alive():
            return self.wait()
        return []

    def wait(self) -> list:
        """Block until the write in flight is on disk; its tag in a list (empty: none was in flight)."""
        if self._thread is None:
            return []
        self._thread.join()
        self._thread, tag, self._tag = None, self._tag, None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return [tag]


def load(checkpoint_dir: Optional[pathlib.Path], owner: Optional[Owner] = None) -> Optional[dict[str, Any]]:
    """The last checkpoint in `checkpoint_dir` (tensors on the CPU), or None when there is none.

    With `owner`, a checkpoint that `refusal` rejects counts as none: it is logged and left in place
    (a newer attempt may own it). Loaded to the CPU because RNG states must be CPU tensors;
    load_state_dict moves the rest to the model's device. Memory-mapped: a rejected file costs no read.
    """
    if checkpoint_dir is None:
        return None
    path = pathlib.Path(checkpoint_dir) / FILENAME
    if not path.exists():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if owner is not None:
        reason = refusal(ckpt.get("owner"), owner)
        if reason is not None:
            log.warning("ignoring the checkpoint %s: %s", path, reason)
            return None
    return ckpt


def usable(checkpoint_dir: Optional[pathlib.Path], owner: Owner) -> bool:
    """Whether `load(checkpoint_dir, owner)` would resume from a checkpoint."""
    return load(checkpoint_dir, owner) is not None


def cpu_state(module_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A detached copy (for best weights kept across epochs)."""
    return {k: v.detach().clone() for k, v in module_state.items()}


class Checkpointer:
    """A checkpoint at the first epoch end `every_s` seconds after the last one, written in the background.

    The reporter hears `before_checkpoint` before the state is taken and `on_checkpoint` once the file is
    on disk: at a later epoch end, or at `close()` (which waits for the write in flight).
    """

    def __init__(self, reporter, checkpoint_dir: Optional[pathlib.Path], every_s: float):
        self.reporter, self.every_s = reporter, every_s
        self.writer = None if checkpoint_dir is None else BackgroundWriter(pathlib.Path(checkpoint_dir))
        self.last = time.monotonic()

    def epoch_end(self, *, epoch: int, step: int, state: Callable[[], dict[str, Any]]) -> None:
        """`state` is called only when a checkpoint is due."""
        if self.writer is None:
            return
        if time.monotonic() - self.last < self.every_s:
            self.written(self.writer.finished())
            return
        # The previous file is on disk before the next checkpoint's points are flushed: the reporter hears
        # of each checkpoint while what it has stored still ends where that checkpoint does.
        self.written(self.writer.wait())
        self.reporter.before_checkpoint(epoch=epoch, step=step)
        self.writer.submit(state(), (epoch, step))
        self.last = time.monotonic()

    def now(self, *, epoch: int, step: int, state: Callable[[], dict[str, Any]]) -> None:
        """A checkpoint at this very step, on disk when this returns (a stop mid-epoch hands the run back).

        Points first, then the file, then the news: a checkpoint never lies ahead of the stored points.
        """
        if self.writer is None:
            return
        self.written(self.writer.wait())  # the write in flight must not land after this one
        self.reporter.before_checkpoint(epoch=epoch, step=step)
        save(self.writer.checkpoint_dir, state())
        self.reporter.on_checkpoint(epoch=epoch, step=step)
        self.last = time.monotonic()

    def close(self) -> None:
        if self.writer is not None:
            self.written(self.writer.wait())

    def abandon(self) -> None:
        """Training failed: let the write in flight finish (its file is whole), report nothing, raise nothing."""
        if self.writer is not None:
            try:
                self.writer.wait()
            except BaseException:
                pass

    def written(self, tags: list) -> None:
        for epoch, step in tags:
            self.reporter.on_checkpoint(epoch=epoch, step=step)

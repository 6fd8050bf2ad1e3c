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
import logging
import os
import pathlib
import random
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
    """Write the checkpoint to a temp file, fsync it, then os.replace: a crash never leaves half a file."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / FILENAME
    tmp = checkpoint_dir / f".{FILENAME}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


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

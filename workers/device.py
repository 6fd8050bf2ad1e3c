"""What a worker knows of its device: GPU name and memory for the heartbeat, warm-up, cache release.

An idle CPU worker never imports torch (about 250 MB resident) just to report that it has none,
so torch is imported inside these functions, and only where a GPU may exist or a run has loaded it.
"""

from __future__ import annotations

import os
import socket
import sys


def warm_up() -> None:
    """Pay torch's one-off costs (its first optimizer imports torch._dynamo: seconds) before the first run."""
    import torch  # late: only a pool process that will train pays for torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def release_device() -> None:
    """Give cached GPU memory back, so that the next run on this GPU starts with all of it."""
    import torch  # late: already loaded by the run that just ended; keeps this module light

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _may_have_cuda() -> bool:
    """Whether importing torch could find a GPU. An idle CPU worker never imports torch
    (about 250 MB resident) just to report that it has none; a GPU host has the NVIDIA device nodes."""
    return "torch" in sys.modules or os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def device_info() -> dict:
    info = {"hostname": socket.gethostname(), "device": "cpu"}
    if not _may_have_cuda():
        return info
    try:
        import torch  # late: only where a GPU may exist (see _may_have_cuda)

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info.update(device=props.name, memory_total_mb=props.total_memory // 2**20)
    except Exception:
        pass
    return info


def device_usage() -> dict:
    if not _may_have_cuda():
        return {}
    try:
        import torch  # late: only where a GPU may exist (see _may_have_cuda)

        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            usage = {"memory_used_mb": (total - free) // 2**20}
            try:
                usage["utilization"] = float(torch.cuda.utilization())
            except Exception:  # needs pynvml; not every host has it
                pass
            return usage
    except Exception:
        pass
    return {}

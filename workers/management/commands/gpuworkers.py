"""`manage.py gpuworkers`: one Celery worker process per GPU of this host, or one CPU worker when it has none.

Docker cannot hand out one GPU per replica (every `--scale` replica with
`count: 1` gets the same first GPU), so the worker container reserves all of
the host's GPUs and this command pins one worker to each with
CUDA_VISIBLE_DEVICES. Only the pool child of each worker touches CUDA.
"""

import os
import subprocess
import sys

import honcho.manager
from django.core.management.base import BaseCommand
from honcho.manager import Manager

# A warm shutdown stops the run at the next batch and hands it back; give it time before SIGKILL.
honcho.manager.KILL_WAIT = int(os.environ.get("LOSSLAB_STOP_GRACE_S", "60"))


def visible_gpus() -> list[str]:
    """LOSSLAB_GPUS ("0,1,3"; "none" for CPU only) or what `nvidia-smi -L` lists."""
    pinned = os.environ.get("LOSSLAB_GPUS", "").strip()
    if pinned:
        return [] if pinned == "none" else [g.strip() for g in pinned.split(",") if g.strip()]
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


def worker_command(name: str) -> str:
    return f"{sys.executable} -m celery -A webapp worker -Q runs -c 1 --prefetch-multiplier 1 -n {name}@%h -l info"


class Command(BaseCommand):
    help = "Start one Celery worker per GPU of this host (CUDA_VISIBLE_DEVICES=i), or one CPU worker."

    def handle(self, *args, **options):
        gpus = visible_gpus()
        manager = Manager()
        for gpu in gpus:
            manager.add_process(
                f"gpu{gpu}", worker_command(f"gpu{gpu}"), env={**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
            )
        if not gpus:
            manager.add_process("cpu0", worker_command("cpu0"), env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        self.stdout.write(f"gpuworkers: {len(gpus) or 'no'} GPU(s){'' if gpus else ', one CPU worker'}")
        manager.loop()
        sys.exit(manager.returncode)

"""bench/bench_images.py cannot rot: it runs end to end on 32 images and prints every variant. Never timed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_bench_prints_each_variant_in_wall_and_cpu_time():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, "bench/bench_images.py", "--quick", "--images", "32", "--device", "cpu", "--threads", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for batch in (128, 512):
        for kind in ("wall", " cpu"):
            line = next(ln for ln in done.stdout.splitlines() if ln.startswith(f"batch {batch} {kind}"))
            assert all(f"{v} " in line for v in ("engine", "tensors", "dataloader", "streamed")), line
            assert "engine/fastest" in line

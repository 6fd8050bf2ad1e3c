"""`make bench` cannot rot: its harness runs end to end on tiny sizes and prints its table.

Not a benchmark: nothing here looks at how fast anything was. MLflow's side is
left out (--no-mlflow), as on any machine without bench/.venv-mlflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_prints_the_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    out = tmp_path / "bench.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--no-mlflow",
            "--threads",
            "1",
            "--overhead-threads",
            "1",
            "--sections",
            "training,logging,ingestion,listing,compare",
            "--markdown",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    assert "LossLab benchmark" in table and "load average" in table
    for area in ("training", "logging", "ingestion", "listing", "compare"):
        assert f"\n{area} " in table, f"no {area} row in:\n{table}"
    assert "worker path (engine.train + DbReporter) vs a hand-written torch.nn loop" in table
    assert "worker path (engine.train + DbReporter, checkpoints)" in table and "checkpoint(s) a run" in table
    assert "resolution of the rows above: the hand-written loop against itself" in table
    assert "eval-mode training sample" in table and "DataLoader(TensorDataset) vs tensor indexing" in table
    assert "run_record_metrics" in table and "MLflow venv absent" in table
    assert "experiment page, 120 runs with real-size summaries (vs 10)" in table and "queries constant" in table
    assert "GET /api/experiments/{id}/compare" in table and "leaderboard page" in table
    assert out.read_text().count("\n| ") >= 10  # the markdown copy has the same rows

"""`make bench`: LossLab beside its baselines (a bare PyTorch loop, MLflow), measured in the same run.

Builds its own data in throwaway databases (SQLite; PostgreSQL too when
DATABASE_URL points to one), runs MLflow's side in bench/.venv-mlflow (never
an app dependency; its rows are skipped when that venv is absent), and prints
one table. A benchmark, not a test: it never asserts on timing.

    .venv/bin/python -m bench [--quick] [--sections training,logging,...] [--markdown docs/benchmarks.md]
    .venv/bin/python -m bench --sections training    # the training rows alone (overhead, data path)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
from report import Row  # noqa: E402

SECTIONS = ["training", "logging", "ingestion", "compare", "listing", "queue", "footprint", "browser", "images"]
MLFLOW_PY = BENCH / ".venv-mlflow" / "bin" / "python"


def load() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {load()}] {msg}", file=sys.stderr, flush=True)


def run_training(args) -> dict:
    """Engine overhead against a hand-written loop (bench/overhead.py, one process per side, for each
    thread count), the cost of the eval-mode training sample, and the data path (DataLoader against
    tensor indexing, bench/bench_training.py)."""
    import bench_training
    import overhead
    import torch

    from workers.training.config import RunConfig

    threads = [int(t) for t in args.overhead_threads.split(",") if t]
    figures = {"overhead": overhead.measure(threads, args.quick, args.rounds, args.pairs, log=say)}
    figures["train_eval"] = overhead.train_eval_cost(quick=args.quick)
    torch.set_num_threads(args.threads)
    small = {"name": "iris"} if args.quick else {"name": "digits"}  # quick checks the harness, not the speed
    digits = RunConfig.model_validate({"seed": 0, "device": "cpu", "epochs": 1 if args.quick else 10, "dataset": small})
    large = RunConfig.model_validate(
        {
            "seed": 0,
            "device": "cpu",
            "epochs": 1 if args.quick else 2,
            "dataset": {
                "name": "synthetic_classification",
                "n_samples": 600 if args.quick else 60000,
                "n_features": 784,
            },
        }
    )
    # Digits runs last 0.1-0.3 s, where a scheduler hiccup is a few percent: best of more repeats.
    short, long = (1, 1) if args.quick else (9, 3)
    name = "synthetic 600×784" if args.quick else "synthetic 60,000×784"
    figures["data_path"] = {
        small["name"]: bench_training.measure_case(digits, short, with_engine=False),
        name: bench_training.measure_case(large, long, with_engine=False),
    }
    return figures


def backends() -> list[tuple[str, str]]:
    """(label, admin URL or None) of each database to run against: SQLite always, PostgreSQL when configured."""
    out = [("sqlite", "")]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        out.append(("postgresql", url))
    return out


def throwaway_postgres(admin_url: str):
    """Create a uniquely named database next to DATABASE_URL's; returns (url, drop function)."""
    from urllib.parse import urlparse, urlunparse

    import psycopg

    name = f"losslab_bench_{os.getpid()}"
    parts = urlparse(admin_url)
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunparse(parts._replace(path=f"/{name}")), drop


def run_db_side(url: str, out: pathlib.Path, quick: bool, sections: list[str]) -> dict:
    only = []
    if "logging" in sections:
        only += ["logging", "engine"]
    only += [s for s in ("ingestion", "listing", "compare") if s in sections]
    if not only:
        return {}
    cmd = [sys.executable, str(BENCH / "db_side.py"), "--db", url, "--out", str(out), "--only", ",".join(only)]
    subprocess.run(cmd + (["--quick"] if quick else []), check=True, cwd=ROOT)
    return json.loads(out.read_text())


def run_mlflow_side(tmp: pathlib.Path, quick: bool) -> dict | None:
    if not MLFLOW_PY.exists():
        say(f"no {MLFLOW_PY.relative_to(ROOT)}: MLflow rows skipped (make bench-mlflow-venv creates it)")
        return None
    cmd = [str(MLFLOW_PY), str(BENCH / "mlflow_side.py"), "--dir", str(tmp / "mlflow")] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        say("MLflow side failed:\n" + done.stderr[-3000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_mlflow_compare(tmp: pathlib.Path, ours: dict, quick: bool) -> dict | None:
    """MLflow's side of bench_compare.py. Few repeats: one sampled read of 2 million rows takes MLflow
    tens of seconds here, so one or two samples already say what matters (an order of magnitude)."""
    if not MLFLOW_PY.exists():
        return None
    cmd = [
        str(MLFLOW_PY),
        str(BENCH / "bench_compare_mlflow.py"),
        "--runs",
        str(ours["runs"]),
        "--steps",
        str(ours["steps"]),
        "--repeats",
        "1" if quick else "2",
        "--dir",
        str(tmp / "mlflow-compare"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        say("MLflow compare side failed:\n" + done.stderr[-3000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_queue(quick: bool) -> dict:
    sizes = (
        ["--latency-runs", "3", "--turnover-runs", "4"] if quick else ["--latency-runs", "15", "--turnover-runs", "40"]
    )
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_queue.py"), "--json", *sizes], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        say("queue bench failed:\n" + (done.stdout + done.stderr)[-3000:])
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_footprint() -> dict:
    done = subprocess.run([sys.executable, str(BENCH / "footprint.py")], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        say("footprint failed:\n" + done.stderr[-2000:])
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_browser(tmp: pathlib.Path, listing: dict, compare: dict | None, quick: bool) -> dict:

    big = listing["runs_big"]
    pages = {
        "experiment page": {"url": f"/experiments/{listing['big_id']}/", "drawn": "experiment"},
        # The benchmark user is in two teams ("bench" holds the compare runs): the dashboard must be the
        # one of the team that holds the listing experiments.
        "dashboard": {
            "url": "/",
            "drawn": "dashboard",
            "team": "bench-harness",
            "expect": "[...document.querySelectorAll('[data-section=experiments] tbody tr')].some((tr) => "
            f"tr.cells[0].textContent === 'listing big' && tr.cells[1].textContent === '{big}')",
        },
    }
    if compare:
        runs = ",".join(map(str, compare["run_ids"]))
        pages["compare page"] = {
            "url": f"/experiments/{compare['exp_id']}/compare/?runs={runs}",
            "drawn": "compare",
            "expect": f"document.getElementById('compare-meta').textContent.startsWith('{compare['runs']} runs')",
        }
    cmd = [
        sys.executable,
        str(BENCH / "browser.py"),
        "--db",
        f"sqlite:///{tmp / 'losslab.sqlite3'}",
        "--pages",
        json.dumps(pages),
        "--repeats",
        "1" if quick else "5",
        "--shots",
        str(ROOT / "bench" / "out"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        say("browser failed:\n" + done.stderr[-3000:])
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def collect(args, tmp: pathlib.Path) -> tuple[list[Row], dict]:
    sections = args.sections
    figures: dict = {}
    rows: list[Row] = []
    if "training" in sections:
        say("training: worker path vs a hand-written loop, each in its own process; DataLoader vs indexing")
        figures["training"] = run_training(args)
        rows += report.training_rows(figures["training"])
    ml = None
    if not args.no_mlflow and {"logging", "ingestion"} & set(sections):
        say("MLflow side (its own venv)")
        ml = figures["mlflow"] = run_mlflow_side(tmp, args.quick)
    for label, admin_url in backends():
        say(f"LossLab side on {label}")
        drop = None
        url = f"sqlite:///{tmp / 'losslab.sqlite3'}"
        if admin_url:
            url, drop = throwaway_postgres(admin_url)
        try:
            db = figures[label] = run_db_side(url, tmp / f"{label}.json", args.quick, sections)
        finally:
            if drop:
                drop()
        rows += report.logging_rows(db, ml, label) + report.ingestion_rows(db, ml, label)
        rows += report.listing_rows(db, label)
    rows += extra_rows(args, sections, figures, tmp)
    return rows, figures


def extra_rows(args, sections: list[str], figures: dict, tmp: pathlib.Path) -> list[Row]:
    rows = []
    if "compare" in sections and figures.get("sqlite", {}).get("compare"):
        if not args.no_mlflow:
            say("MLflow serving the same histories (bench_compare_mlflow.py)")
            figures["mlflow_compare"] = run_mlflow_compare(tmp, figures["sqlite"]["compare"], args.quick)
        for label, _ in backends():
            rows += report.compare_rows(figures[label].get("compare"), figures.get("mlflow_compare"), label)
    if "queue" in sections:
        say("queue: bench_queue.py (a real worker on an embedded Redis)")
        figures["queue"] = run_queue(args.quick)
        rows += report.queue_rows(figures["queue"])
    if "browser" in sections and figures.get("sqlite", {}).get("listing"):
        say("browser: pages in Chromium")
        figures["browser"] = run_browser(
            tmp, figures["sqlite"]["listing"], figures["sqlite"].get("compare"), args.quick
        )
        rows += report.browser_rows(figures["browser"], figures["sqlite"])
    if "images" in sections:
        say("images: engine vs bare loops on CIFAR-shaped data (bench_images.py)")
        import bench_images

        figures["images"] = bench_images.measure(args.quick)
        rows += bench_images.rows(figures["images"])
    if "footprint" in sections:
        say("footprint: make run's processes")
        figures["footprint"] = run_footprint()
        rows += report.footprint_rows(figures["footprint"])
    return rows


NOTES = "<!-- Everything below this line is kept when `make bench` rewrites the table above. -->"


def write_markdown(path: pathlib.Path, header: str, table: str) -> None:
    """Replace the table at the top of `path`, keeping the hand-written notes under NOTES."""
    notes = ""
    if path.exists() and NOTES in path.read_text():
        notes = path.read_text().split(NOTES, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks (`make bench`)\n\n{header}\n\n{table}\n\n{NOTES}{notes}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, not the speed")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument("--no-mlflow", action="store_true", help="skip MLflow's side even if its venv exists")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (data-path rows)")
    ap.add_argument("--overhead-threads", default="1,2", help="torch threads of the overhead rows, comma-separated")
    ap.add_argument("--rounds", type=int, default=4, help="fresh process pairs per overhead row")
    ap.add_argument("--pairs", type=int, default=4, help="alternating pairs kept per round of an overhead row")
    ap.add_argument("--markdown", help="also write the table, with machine and load, to this file")
    ap.add_argument("--json", help="also write every raw figure to this file")
    args = ap.parse_args()
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    started, load_before = datetime.now(UTC), load()
    with tempfile.TemporaryDirectory(prefix="losslab-bench-") as tmp:
        rows, figures = collect(args, pathlib.Path(tmp))
    header = (
        f"LossLab benchmark, {started:%Y-%m-%d %H:%M} UTC, {platform.node()} ({os.cpu_count()} CPUs), "
        f"load average {load_before} before / {load()} after{' (--quick: tiny sizes)' if args.quick else ''}"
    )
    print("\n" + header + "\n\n" + report.format_table(rows))
    if args.markdown:
        write_markdown(pathlib.Path(args.markdown), header, report.format_table(rows, markdown=True))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"header": header, "figures": figures}, indent=1, default=str))


if __name__ == "__main__":
    main()

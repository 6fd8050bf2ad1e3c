"""Footprint of `make run`: time until it serves and its worker is ready, and its memory when idle.

Launches `manage.py runlocal` (what `make run` ends with) on a throwaway var
dir, SQLite database and port, after the migrate + seed that `make run` does
first (not timed: "once installed"). Memory is PSS (proportional set size:
pages shared between processes, such as a forked pool child's, counted once
in all) summed over every process `make run` starts, runlocal itself,
supervisord, web, worker (main and pool child), scheduler and the embedded
Redis; measured idle, then again idle after one run of the tutorial preset
(5 epochs) has trained on the worker. The resident sizes of the four app
processes, as earlier tables gave them, are kept beside it.

    .venv/bin/python bench/footprint.py [--idle 8]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def children(pid: int) -> list[int]:
    """All descendants of pid (from /proc; no psutil needed)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
                out += kids
                todo += kids
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def rss_mb(pid: int) -> float:
    """Resident set size, in MB; 0 for a process that has gone."""
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:")


def pss_mb(pid: int) -> float:
    """Proportional set size (smaps_rollup), in MB; 0 for a process that has gone."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _proc_mb(path: str, field: str) -> float:
    """The kB figure of the line starting with `field` in a /proc file, in MB."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0.0


def pss_by_role(root: int) -> dict[str, float]:
    """PSS (MB) of root and all its descendants, by role (redis and supervisor/runlocal as their own)."""
    out: dict[str, float] = {}
    for pid in [root, *children(root)]:
        cmd = cmdline(pid)
        name = role(cmd) or ("redis" if "redis" in cmd else "runlocal + supervisord")
        out[name] = out.get(name, 0.0) + pss_mb(pid)
    return out


LAUNCH = """
from experiments.models import Experiment
from experiments.services import run_launch
from workers.training.presets import PRESETS
experiment = Experiment.objects.order_by("pk").first()
config = PRESETS["tutorial_mlp"][1].model_dump(mode="json") | {"epochs": 5}
print(run_launch(experiment=experiment, user=experiment.created_by, config=config).pk)
"""

STATUS = "from experiments.models import Run; print(Run.objects.get(pk={pk}).status)"


def manage_shell(code: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.strip().splitlines()[-1]


def one_run(env: dict, timeout_s: float = 120) -> dict:
    """Launch the tutorial preset (5 epochs) and wait until it has finished: its status and seconds."""
    t0 = time.perf_counter()
    pk = manage_shell(LAUNCH, env)
    status = "queued"
    while time.perf_counter() - t0 < timeout_s:
        status = manage_shell(STATUS.format(pk=int(pk)), env)
        if status not in ("queued", "running"):
            break
        time.sleep(0.5)
    return {"status": status, "seconds": time.perf_counter() - t0}


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        return ""


def role(cmd: str) -> str | None:
    if "redis" in cmd or cmd.startswith("/bin/sh"):  # Redis is not counted; honcho's shells are ~1 MB
        return None
    for needle, name in (("runserver", "web"), ("celery", "worker"), ("scheduler", "scheduler")):
        if needle in cmd:
            return name
    return None


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


def measure(idle_s: float, timeout_s: float = 60, with_run: bool = True) -> dict:
    from webapp.local_redis import free_port

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    env = {
        **os.environ,
        "LOSSLAB_VAR_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'losslab.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    py = sys.executable
    for cmd in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([py, "manage.py", *cmd], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [py, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    marks: dict[str, float] = {}
    log: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            log.append(line)
            log[-1] = f"{time.perf_counter() - t0:6.2f} {line}"
            if "ready." in line and "worker" not in marks:
                marks["worker"] = time.perf_counter() - t0

    threading.Thread(target=read, daemon=True).start()
    try:
        while time.perf_counter() - t0 < timeout_s and not ("web" in marks and "worker" in marks):
            if "web" not in marks and answers(f"http://127.0.0.1:{port}/login/"):
                marks["web"] = time.perf_counter() - t0
            time.sleep(0.05)
        time.sleep(idle_s)  # idle: the pool child has started its heartbeat thread by now
        procs = {pid: cmdline(pid) for pid in children(proc.pid)}
        mem = {pid: (role(cmd), rss_mb(pid)) for pid, cmd in procs.items() if role(cmd)}
        pss_before = pss_by_role(proc.pid)
        run = one_run(env) if with_run else None
        pss_after = None
        if run is not None:
            time.sleep(idle_s)  # idle again: a recycled pool child has come back up by now
            pss_after = pss_by_role(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the session we started: runlocal, honcho's children, redis
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    by_role: dict[str, float] = {}
    for name, mb in mem.values():
        by_role[name] = by_role.get(name, 0) + mb
    return {
        "web_ready_s": marks.get("web"),
        "worker_ready_s": marks.get("worker"),
        "ready_s": max(marks.values()) if len(marks) == 2 else None,
        "rss_mb": sum(by_role.values()),
        "rss_by_role_mb": by_role,
        "processes": len(mem),
        "pss_before_mb": pss_before,
        "pss_after_mb": pss_after,
        "run": run,
        "log": "".join(log[-40:]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=8)
    ap.add_argument("--no-run", action="store_true", help="idle before a run only")
    args = ap.parse_args()
    print(json.dumps(measure(args.idle, with_run=not args.no_run)))


if __name__ == "__main__":
    main()

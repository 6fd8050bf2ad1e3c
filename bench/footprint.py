"""Footprint of `make run`: time until it serves and its worker is ready, and resident memory when idle.

Launches `manage.py runlocal` (what `make run` ends with) on a throwaway var
dir, SQLite database and port, after the migrate + seed that `make run` does
first (not timed: "once installed"). Redis is the embedded one runlocal starts
when none answers; it is left out of the memory sum, as the brief asks.

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
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


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


def measure(idle_s: float, timeout_s: float = 60) -> dict:
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
        "log": "".join(log[-40:]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=8)
    args = ap.parse_args()
    print(json.dumps(measure(args.idle)))


if __name__ == "__main__":
    main()

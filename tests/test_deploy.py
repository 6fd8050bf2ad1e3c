"""docker-compose.yml is valid Compose, and each service's command works outside Docker."""

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import worker_database_url
from webapp.local_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"  # the official Compose schema
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_matches_the_official_schema():
    jsonschema.validate(COMPOSE, json.loads(SCHEMA.read_text()))


def test_compose_runs_what_design_asks_for():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "web", "scheduler", "worker"} <= set(services)
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert "gunicorn" in " ".join(services["web"]["command"])


def _local(command: list[str]) -> list[str]:
    # Inside the image `python` is the app's interpreter; here it is the venv's.
    return [sys.executable if c == "python" else c for c in command]


def _env(tmp_path, live_server_db) -> dict:
    return {**os.environ, "DATABASE_URL": live_server_db, "DEBUG": "false", "SECRET_KEY": "x" * 64,
            "ALLOWED_HOSTS": "127.0.0.1", "LOSSLAB_VAR_DIR": str(tmp_path)}


@pytest.fixture
def db_url(transactional_db):
    return worker_database_url()


def test_the_web_command_serves_pages(tmp_path, db_url):
    port = free_port()
    cmd = COMPOSE["services"]["web"]["command"][-1].replace("0.0.0.0:8000", f"127.0.0.1:{port}")
    cmd = cmd.replace("python ", f"{shlex.quote(sys.executable)} ").replace("gunicorn ", f"{shlex.quote(sys.executable)} -m gunicorn ")
    proc = subprocess.Popen(["sh", "-c", cmd], cwd=ROOT, env=_env(tmp_path, db_url), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    assert r.status == 200 and b"Log in" in r.read()
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


def test_the_scheduler_command_reconciles(tmp_path, db_url):
    cmd = _local(COMPOSE["services"]["scheduler"]["command"]) + ["--once"]
    out = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path, db_url), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "'sent': 0" in out.stdout


def test_the_worker_command_starts_a_worker(tmp_path, db_url):
    cmd = _local(COMPOSE["services"]["worker"]["command"])
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp_path, db_url), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)

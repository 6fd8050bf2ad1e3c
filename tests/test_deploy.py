"""docker-compose.yml is valid Compose, and each service's command works outside Docker."""

import json
import os
import re
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
    schema = json.loads(SCHEMA.read_text())
    assert "draft-07" in schema["$schema"]  # named without the trailing '#' that jsonschema looks it up by
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(COMPOSE)


def test_compose_runs_what_design_asks_for():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "web", "scheduler", "worker"} <= set(services)
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert "gunicorn" in " ".join(services["web"]["command"])


def _local(command: list[str]) -> list[str]:
    # Inside the image `python` is the app's interpreter; here it is the venv's.
    return [sys.executable if c == "python" else c for c in command]


def _env(tmp_path, live_server_db, static_root) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": live_server_db,
        "DEBUG": "false",
        "SECRET_KEY": "x" * 64,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOSSLAB_VAR_DIR": str(tmp_path),
        "LOSSLAB_STATIC_ROOT": str(static_root),
    }


@pytest.fixture
def db_url(transactional_db):
    return worker_database_url()


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def test_the_web_command_serves_pages_and_compressed_cacheable_assets(tmp_path, db_url, collected_static):
    port = free_port()
    cmd = COMPOSE["services"]["web"]["command"][-1].replace("0.0.0.0:8000", f"127.0.0.1:{port}")
    cmd = cmd.replace("python ", f"{shlex.quote(sys.executable)} ").replace(
        "gunicorn ", f"{shlex.quote(sys.executable)} -m gunicorn "
    )
    proc = subprocess.Popen(
        ["sh", "-c", cmd],
        cwd=ROOT,
        env=_env(tmp_path, db_url, collected_static),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, page = _get(f"{base}/login/")
                assert status == 200 and b"Log in" in page
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        # The page links the content-hashed copy, served gzipped and cached for a year.
        css = re.search(rb'href="(/static/css/losslab\.[0-9a-f]{12}\.css)"', page)
        assert css, page[:2000]
        status, headers, _ = _get(base + css.group(1).decode(), **{"Accept-Encoding": "gzip"})
        assert headers.get("content-encoding") == "gzip" and "immutable" in headers["cache-control"], headers
        manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
        plotly = manifest["vendor/plotly/plotly.min.js"]
        status, headers, body = _get(f"{base}/static/{plotly}", **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("content-encoding") == "gzip", headers
        assert len(body) < 2_000_000 < (collected_static / plotly).stat().st_size  # 4.8 MB → ~1.4 MB on the wire
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


def test_without_collected_static_files_the_web_command_refuses_to_start(tmp_path, db_url):
    cmd = COMPOSE["services"]["web"]["command"][-1].split("&&")[0].replace("python ", f"{shlex.quote(sys.executable)} ")
    out = subprocess.run(
        ["sh", "-c", cmd],
        cwd=ROOT,
        env=_env(tmp_path, db_url, tmp_path / "empty"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "losslab.E001" in out.stderr and "collectstatic" in out.stderr, out.stderr


def test_the_scheduler_command_reconciles(tmp_path, db_url, collected_static):
    cmd = _local(COMPOSE["services"]["scheduler"]["command"]) + ["--once"]
    out = subprocess.run(
        cmd, cwd=ROOT, env=_env(tmp_path, db_url, collected_static), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "'sent': 0" in out.stdout


def test_the_worker_command_starts_a_worker(tmp_path, db_url, collected_static):
    cmd = _local(COMPOSE["services"]["worker"]["command"])
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=_env(tmp_path, db_url, collected_static),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)

"""Shared fixtures: users and teams, a real Redis, real Celery worker processes on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import worker_database_url
from webapp.local_redis import redis_answers, start_embedded

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
_embedded = None


def pytest_configure(config):
    """Point everything at a Redis that answers: REDIS_URL's (CI) or an embedded one."""
    global _embedded
    url = os.environ.get("REDIS_URL")
    if not url or not redis_answers(url):
        _embedded, url = start_embedded()
        os.environ["REDIS_URL"] = url
    from django.conf import settings

    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    from webapp.celery import app

    app.conf.broker_url = url


def pytest_unconfigure(config):
    if _embedded is not None:
        _embedded.terminate()


@pytest.fixture
def team_and_user(db, django_user_model):
    from experiments.models import Experiment, Membership, Team

    user = django_user_model.objects.create_user("alice", password="wonderland-pass")
    team = Team.objects.create(name="Vision")
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    experiment = Experiment.objects.create(team=team, name="Digits", created_by=user)
    return team, user, experiment


@pytest.fixture
def alice(team_and_user):
    return team_and_user[1]


@pytest.fixture
def experiment(team_and_user):
    return team_and_user[2]


@pytest.fixture
def upload_dir(settings, tmp_path):
    """Uploaded CSVs go to a per-test folder (the engine reads UPLOAD_DIR/<id>.csv)."""
    settings.UPLOAD_DIR = tmp_path / "uploads"
    return settings.UPLOAD_DIR


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


class WorkerProcess:
    """A real `celery worker` process, training on the CPU against the test database."""

    def __init__(self, name: str, tmp: Path, **env):
        self.name = name
        self.log = tmp / f"{name}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "LOSSLAB_CHECKPOINT_DIR": str(tmp / "checkpoints"),
            "LOSSLAB_MODEL_DIR": str(tmp / "models"),
            "LOSSLAB_HEARTBEAT_S": "0.3",
            "LOSSLAB_METRIC_FLUSH_S": "0.5",
            "LOSSLAB_CHECKPOINT_EVERY_S": "0.5",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            **{k: str(v) for k, v in env.items()},
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            "runs",
            "-c",
            "1",
            "--prefetch-multiplier",
            "1",
            "-n",
            f"{self.name}@test",
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real worker processes; each is stopped when the test ends."""
    workers: list[WorkerProcess] = []

    def start(name: str = "w1", wait: bool = True, **env) -> WorkerProcess:
        w = WorkerProcess(name, tmp_path, **env).start()
        workers.append(w)
        if wait:
            w.wait_ready()
        return w

    yield start
    for w in workers:
        w.stop()


@pytest.fixture(autouse=True)
def _clean_broker(request):
    """Integration tests start with an empty run queue in Redis."""
    if "transactional_db" not in request.fixturenames:
        yield
        return
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("runs")
    yield


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """What the Docker image's build step writes: its `collectstatic` line, run as it is, into a temp dir."""
    root = tmp_path_factory.mktemp("staticfiles")
    run = next(
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN ") and "collectstatic" in line
    )
    command = run.removeprefix("RUN ").replace("python ", f"{sys.executable} ")
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    done = subprocess.run(
        ["sh", "-c", command],
        cwd=ROOT,
        env={**env, "LOSSLAB_STATIC_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return root

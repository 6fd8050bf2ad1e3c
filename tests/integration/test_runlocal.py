"""`make run` heals: a worker killed with SIGKILL is restarted, the web server never stops, the run finishes.

The real command (`manage.py runlocal`: supervisord over the web server, a Celery worker and the scheduler)
against the test database and the session's Redis, with a short lease so the lost run is seen in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from experiments.models import Worker
from tests.conftest import ROOT
from tests.helpers import tiny_config, wait_for, worker_database_url
from tests.queue.conftest import FAST, assert_history_exactly_once, launch, reload
from webapp.local_redis import free_port

pytestmark = pytest.mark.integration


def web_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def supervised_pid(conf, name: str) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "pid", name],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout.strip()
    return int(out) if out.isdigit() else 0


@pytest.fixture
def runlocal(transactional_db, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        **FAST,
        "DATABASE_URL": worker_database_url(),
        "LOSSLAB_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "LOSSLAB_MODEL_DIR": str(tmp_path / "models"),
        "LOSSLAB_RECONCILE_S": "0.5",
    }
    log = (tmp_path / "runlocal.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "sv")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield proc, f"http://127.0.0.1:{port}/login/", tmp_path / "sv" / "supervisord.conf", tmp_path / "runlocal.log"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
    try:
        proc.wait(40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_make_run_survives_a_kill_9_of_its_worker_and_the_run_finishes_on_its_own(runlocal, experiment):
    proc, health, conf, log = runlocal
    wait_for(lambda: web_answers(health), timeout=60, message="the web server")
    wait_for(lambda: Worker.objects.filter(last_heartbeat__isnull=False).exists(), timeout=60, message="the worker")
    run = launch(experiment, tiny_config(dataset={"name": "digits"}, batch_size=32, epochs=20))
    wait_for(lambda: reload(run).epoch >= 2 and run.checkpoint_step, timeout=90, message="a checkpoint")

    worker = supervised_pid(conf, "worker")
    os.killpg(worker, signal.SIGKILL)  # the worker and its pool process, as the OOM killer might
    killed = time.monotonic()
    up = [web_answers(health) for _ in range(5)]
    restarted = wait_for(
        lambda: (pid := supervised_pid(conf, "worker")) not in (0, worker) and pid, timeout=30, message="a restart"
    )
    back_in = time.monotonic() - killed
    wait_for(lambda: reload(run).is_finished, timeout=120, message="the run to finish on its own")
    assert run.status == "succeeded" and run.attempt == 2 and run.losses == 1, (run.status, run.error)
    assert_history_exactly_once(run, 20)
    assert all(up) and web_answers(health), "the web server went down with the worker"
    assert proc.poll() is None and supervised_pid(conf, "scheduler")
    assert "exited: worker (terminated by SIGKILL" in log.read_text(errors="replace")
    print(
        f"\nrunlocal: worker {worker} killed with SIGKILL, restarted as {restarted} {back_in:.1f}s later; "
        f"web up throughout; run {run.pk} resumed at attempt 2 and finished, "
        f"{time.monotonic() - killed:.1f}s after the kill"
    )

"""`make run`: Redis (system or embedded), a Celery worker, the scheduler and the web server, under supervisord.

A process that dies is restarted by supervisord while the others stay up: a worker killed by the OOM
killer comes back at once (a crash loop backs off 1 s, 2 s, 3 s...), and the run it held is reaped by the
scheduler when its lease runs out and resumed from its checkpoint by the restarted worker. Ctrl-C stops
everything. `supervisorctl -c var/runlocal/supervisord.conf status` shows the processes.
"""

import configparser
import os
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from webapp.local_redis import embedded_server_command, free_port, redis_answers

# Every program: restarted whenever it exits; one that dies within STARTSECS of its start counts as a
# failed start, retried after a back-off that grows by a second each time.
PROGRAM = {
    "autorestart": "true",
    "startsecs": "1",
    "startretries": "10",
    "redirect_stderr": "true",
    "stdout_logfile": "/dev/stdout",  # the terminal of `make run`, as before
    "stdout_logfile_maxbytes": "0",
    "stopasgroup": "true",  # Ctrl-C reaches a worker's pool process too: it hands its run back
    "killasgroup": "true",
}


class Command(BaseCommand):
    help = "Run LossLab locally: web on 127.0.0.1:8000, one worker, the scheduler, and Redis if none answers."
    # `make run` has just run migrate, which ran the system checks: starting fast matters more here.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument(
            "--state-dir", type=Path, default=None, help="Where supervisord keeps its config and socket."
        )

    def handle(self, *args, addr: str, state_dir: Path | None, **options):
        state_dir = (state_dir or settings.VAR_DIR / "runlocal").resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        programs = {}
        url = settings.REDIS_URL
        if redis_answers(url):
            self.stdout.write(f"Using the Redis at {url}")
        else:
            port = free_port()
            url = f"redis://127.0.0.1:{port}/0"
            programs["redis"] = {"command": shlex.join(embedded_server_command(port)), "priority": "10"}
            self.stdout.write(f"No Redis answered at {settings.REDIS_URL}; starting an embedded one at {url}")
        # Children inherit supervisord's environment.
        os.environ["REDIS_URL"] = url
        # A local worker imports torch when its first run starts, not at start: ~280 MB less while idle.
        os.environ.setdefault("LOSSLAB_WORKER_WARM_UP", "false")
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        py = shlex.quote(sys.executable)
        programs["web"] = {"command": f"{py} manage.py runserver --noreload --skip-checks {addr}"}
        # One local worker: nothing to synchronise with other workers at start (mingle) or after (gossip).
        programs["worker"] = {
            "command": f"{py} -m celery -A webapp worker -Q runs -c 1 --prefetch-multiplier 1 -n cpu0@%%h "
            "-l info --without-mingle --without-gossip",
            "stopwaitsecs": "30",  # a warm shutdown checkpoints the run and hands it back
        }
        programs["scheduler"] = {"command": f"{py} manage.py scheduler"}
        conf = write_config(state_dir, programs, cwd=Path(settings.BASE_DIR))
        self.stdout.write(f"LossLab: http://{addr}/  — log in as demo / demo (local only). Ctrl-C stops everything.")
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord", "--nodaemon", "-c", str(conf)])


def write_config(state_dir: Path, programs: dict[str, dict[str, str]], *, cwd: Path) -> Path:
    """supervisord's config: its socket, pid file and log in `state_dir` (in the foreground it also writes its
    log lines to the terminal)."""
    socket = state_dir / "supervisor.sock"
    config = configparser.RawConfigParser()
    config["supervisord"] = {
        "nodaemon": "true",
        "logfile": str(state_dir / "supervisord.log"),
        "logfile_maxbytes": "1MB",
        "logfile_backups": "1",
        "pidfile": str(state_dir / "supervisord.pid"),
        "directory": str(cwd),
    }
    config["unix_http_server"] = {"file": str(socket), "chmod": "0700"}
    config["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    config["supervisorctl"] = {"serverurl": f"unix://{socket}"}
    for name, program in programs.items():
        config[f"program:{name}"] = {**PROGRAM, "directory": str(cwd), **program}
    path = state_dir / "supervisord.conf"
    with path.open("w") as f:
        config.write(f)
    return path

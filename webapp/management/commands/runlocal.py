"""`make run`: Redis (system or embedded), a Celery worker, the scheduler and the web server, under honcho."""

import os
import shlex
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from webapp.local_redis import embedded_server_command, free_port, redis_answers


class Command(BaseCommand):
    help = "Run LossLab locally: web on 127.0.0.1:8000, one worker, the scheduler, and Redis if none answers."
    # `make run` has just run migrate, which ran the system checks: starting fast matters more here.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        py = sys.executable
        env = dict(os.environ)
        manager = Manager()
        url = settings.REDIS_URL
        if redis_answers(url):
            self.stdout.write(f"Using the Redis at {url}")
        else:
            port = free_port()
            url = f"redis://127.0.0.1:{port}/0"
            manager.add_process("redis", shlex.join(embedded_server_command(port)), env=env)
            self.stdout.write(f"No Redis answered at {settings.REDIS_URL}; starting an embedded one at {url}")
        env["REDIS_URL"] = url
        # A local worker imports torch when its first run starts, not at start: ~280 MB less while idle.
        env.setdefault("LOSSLAB_WORKER_WARM_UP", "false")
        manager.add_process("web", f"{py} manage.py runserver --noreload --skip-checks {addr}", env=env)
        # One local worker: nothing to synchronise with other workers at start (mingle) or after (gossip).
        manager.add_process(
            "worker",
            f"{py} -m celery -A webapp worker -Q runs -c 1 --prefetch-multiplier 1 -n cpu0@%h -l info "
            "--without-mingle --without-gossip",
            env=env,
        )
        manager.add_process("scheduler", f"{py} manage.py scheduler", env=env)
        self.stdout.write(f"LossLab: http://{addr}/  — log in as demo / demo (local only). Ctrl-C stops everything.")
        manager.loop()
        sys.exit(manager.returncode)

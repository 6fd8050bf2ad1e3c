from django.conf import settings
from django.core.management.base import BaseCommand

from experiments.queue import reconcile
from workers.scheduler import run_forever


class Command(BaseCommand):
    help = "Reap runs whose worker died and re-send tickets for queued runs, every LOSSLAB_RECONCILE_S seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=settings.RECONCILE_S)
        parser.add_argument("--once", action="store_true", help="Reconcile once and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        if once:
            self.stdout.write(f"scheduler: {reconcile()}")
            return
        self.stdout.write(f"scheduler: reconciling every {interval:g}s")
        run_forever(interval)

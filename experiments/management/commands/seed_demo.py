from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from experiments.models import Experiment, Membership, Team


class Command(BaseCommand):
    help = "Create the local demo team, user demo/demo and a demo experiment (idempotent; refuses when DEBUG is off)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates a user with a known password: local use only (DEBUG on).")
        User = get_user_model()
        user, created = User.objects.get_or_create(username="demo", defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password("demo")
            user.save()
        team, _ = Team.objects.get_or_create(name="Demo team")
        Membership.objects.get_or_create(user=user, team=team, defaults={"role": Membership.Role.ADMIN})
        Experiment.objects.get_or_create(
            team=team,
            name="Digits: which strategy wins?",
            defaults={"created_by": user, "description": "The classic tutorial MLP on digits, and variations of it."},
        )
        self.stdout.write("Log in at http://127.0.0.1:8000/ as demo / demo (local only).")

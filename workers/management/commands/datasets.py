"""`manage.py datasets list|fetch NAME|import NAME PATH`: the standard sets in the shared store (DATA_DIR)."""

from __future__ import annotations

import pathlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.training import datasets


class Command(BaseCommand):
    help = (
        "Standard datasets in LOSSLAB_DATA_DIR: 'list' what is present, 'fetch NAME' downloads and verifies "
        "(needs internet access), 'import NAME PATH' installs the same files copied by hand onto an offline host."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Say which standard sets are installed.")
        fetch = sub.add_parser("fetch", help="Download a standard set, verify its checksums, install it.")
        fetch.add_argument("name", choices=sorted(datasets.SETS))
        imp = sub.add_parser("import", help="Install a standard set from a directory (or CIFAR's .tar.gz).")
        imp.add_argument("name", choices=sorted(datasets.SETS))
        imp.add_argument("path", type=pathlib.Path)

    def handle(self, *args, action: str, **options):
        data_dir = pathlib.Path(settings.DATA_DIR)
        try:
            if action == "list":
                for name, present, title in datasets.describe(data_dir):
                    self.stdout.write(f"{name:<14} {'present' if present else 'missing':<8} {title}")
                self.stdout.write(f"store: {data_dir}")
                return
            if action == "fetch":
                where = datasets.fetch(options["name"], data_dir)
            else:
                where = datasets.install(options["name"], options["path"], data_dir)
        except (datasets.DatasetError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{options['name']}: verified and installed in {where}"))

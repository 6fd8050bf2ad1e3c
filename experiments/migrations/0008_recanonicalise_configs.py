"""Configs gained sections with defaults (augmentation, text and image model fields): every stored config
and its hashes are made canonical again, so a run from before groups with the same intent launched now."""

from django.db import migrations

from experiments.migrations._canonical import canonicalise_runs


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0007_reference_and_tags"),
    ]

    operations = [
        migrations.RunPython(canonicalise_runs, migrations.RunPython.noop),
    ]

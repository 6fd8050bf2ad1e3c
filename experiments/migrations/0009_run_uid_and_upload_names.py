"""Runs get an immutable random uid (their files are named by it) and a keep_model flag; uploads a random file
name. Existing uploads keep the name they have on disk (their id)."""

import uuid

from django.db import migrations, models

import experiments.models


def fill(apps, schema_editor):
    Run = apps.get_model("experiments", "Run")
    for run in Run.objects.filter(uid__isnull=True).only("pk").iterator():
        Run.objects.filter(pk=run.pk).update(uid=uuid.uuid4())
    Upload = apps.get_model("experiments", "Upload")
    for upload in Upload.objects.filter(stored_name__isnull=True).only("pk").iterator():
        Upload.objects.filter(pk=upload.pk).update(stored_name=str(upload.pk))


class Migration(migrations.Migration):
    dependencies = [("experiments", "0008_recanonicalise_configs")]

    operations = [
        migrations.AddField("run", "uid", models.UUIDField(null=True, editable=False)),
        migrations.AddField("upload", "stored_name", models.CharField(max_length=64, null=True, editable=False)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            "run", "uid", models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.AlterField(
            "upload",
            "stored_name",
            models.CharField(
                max_length=64, unique=True, default=experiments.models.new_stored_name, editable=False
            ),
        ),
        migrations.AddField(
            "run",
            "keep_model",
            models.BooleanField(
                default=False, help_text="Keep the final weights after the checkpoint retention period."
            ),
        ),
    ]

"""LossLab's domain: teams own experiments, experiments hold runs, runs hold metric series.

The database is the source of truth for the queue: status, priority, attempts
and leases live on `Run`; Redis only carries the execution.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    max_concurrent_runs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most runs this team may have running at once; empty means no limit."
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member"
        ADMIN = "admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique")]


class Experiment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)
    # What run names are differences from: set by the first launch (the preset's name, the first run's config).
    reference_name = models.CharField(max_length=200, blank=True)
    reference_config = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name


class Worker(models.Model):
    """One Celery worker process, i.e. one GPU (or the CPU when there is none)."""

    name = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)
    memory_total_mb = models.PositiveIntegerField(null=True, blank=True)
    memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    utilization = models.FloatField(null=True, blank=True)
    draining = models.BooleanField(default=False, help_text="A draining worker finishes its run and takes no new one.")
    started = models.DateTimeField(auto_now_add=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    current_run = models.ForeignKey("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The standard sets in this worker's LOSSLAB_DATA_DIR, from its heartbeat: it claims only runs it can train.
    datasets = models.JSONField(default=list, blank=True, help_text="Standard datasets this worker holds.")

    def __str__(self) -> str:
        return self.name


class Sweep(models.Model):
    """One launch of a grid: its runs are recognisable, so its effects are read from its balanced grid only."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="sweeps")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)
    grid = models.JSONField(default=dict, help_text="Factor -> the values swept.")
    seeds = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        factors = " × ".join(f"{f} ({len(v)})" for f, v in self.grid.items()) or "base config"
        return f"sweep {self.pk}: {factors} × {self.seeds} seeds"


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        DIVERGED = "diverged"
        CANCELLED = "cancelled"
        LOST = "lost"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.DIVERGED, Status.CANCELLED)

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    # Names the run's files (checkpoints, model): ids are reused after a database reset or restore, this is not.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    keep_model = models.BooleanField(
        default=False, help_text="Keep the final weights after the checkpoint retention period."
    )
    name = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Up to 10 short lower-case labels.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    config = models.JSONField()
    config_hash = models.CharField(max_length=64, db_index=True)
    group_hash = models.CharField(max_length=64, db_index=True, help_text="Config hash without the seed.")
    seed = models.IntegerField(default=0)
    sweep = models.ForeignKey(Sweep, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    priority = models.IntegerField(default=0, help_text="Higher runs first.")
    attempt = models.PositiveIntegerField(default=0)
    # Only deaths count towards the retry cap: a warm hand-back (SIGTERM, drain) is not a failure.
    losses = models.PositiveIntegerField(default=0, help_text="How many times this run's worker died under it.")
    cancel_requested = models.BooleanField(default=False)
    worker = models.ForeignKey(Worker, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    lease_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    diverged_step = models.PositiveIntegerField(null=True, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    checkpoint_step = models.PositiveIntegerField(null=True, blank=True)
    # Latest and best metric values, kept up to date by the worker so lists and rankings never read series.
    summary = models.JSONField(default=dict, blank=True)
    verdict = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "diverged", "cancelled", "lost"]),
                name="run_status_valid",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "queued_at"], name="run_queue_idx"),
            # An experiment's page of newest runs, without sorting all of them (10,000 in a sweep).
            models.Index(fields=["experiment", "created", "id"], name="run_experiment_created_idx"),
            # The leaderboard's runs per configuration and status, read from the index alone.
            models.Index(fields=["experiment", "group_hash", "status"], name="run_experiment_group_idx"),
        ]

    def __str__(self) -> str:
        return self.name or f"run {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress(self) -> float:
        return self.epoch / self.epochs if self.epochs else 0.0


class QueuedRun(Run):
    """The queue as the admin sees it: queued runs, in the order they will start."""

    class Meta:
        proxy = True
        verbose_name = "queued run"
        verbose_name_plural = "queued runs"


class MetricChunk(models.Model):
    """A run's metric series in bulk: packed arrays of (step, value, time) for one key.

    Two million points cannot be read row by row in 300 ms; a few thousand
    chunks can. Idempotent per (run, key, step): a chunk re-sent with the same
    first step replaces the stored one, a resume truncates what came after the
    checkpoint, and reads keep the last value written for a step.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    key = models.CharField(max_length=100)
    first_step = models.PositiveIntegerField()
    last_step = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    steps = models.BinaryField()
    values = models.BinaryField()
    times = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key", "first_step"], name="chunk_unique")]
        indexes = [models.Index(fields=["run", "last_step"], name="chunk_run_last_idx")]


class QueueState(models.Model):
    """A single row: the switch that pauses the whole queue."""

    paused = models.BooleanField(default=False)
    changed = models.DateTimeField(auto_now=True)

    @classmethod
    def get(cls) -> QueueState:
        return cls.objects.get_or_create(pk=1)[0]

    def __str__(self) -> str:
        return "Queue paused" if self.paused else "Queue running"


class ApiToken(models.Model):
    """A per-user token for scripts. Only a hash is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "ll_" + secrets.token_urlsafe(32)


class SavedComparison(models.Model):
    """A named set of runs and chart options, shared by URL with the experiment's team."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="comparisons")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="comparisons")
    name = models.CharField(max_length=200)
    run_ids = models.JSONField(default=list)
    options = models.JSONField(default=dict, blank=True, help_text="Chart options: keys, x axis, smoothing, log scale.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("saved_comparison", args=[self.pk])


def new_stored_name() -> str:
    return secrets.token_hex(16)


class Upload(models.Model):
    """A team's CSV file, checked on upload and stored (normalised to plain comma CSV) as UPLOAD_DIR/<random>.csv.

    The file lives outside the web root; it is served only through a team-checked view.
    """

    class Kind(models.TextChoices):
        TABLE = "table", "table CSV"
        IMAGES = "images", "image ZIP"
        TEXT = "text", "text CSV"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="uploads")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TABLE)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    original_name = models.CharField(max_length=200)
    # A random file name: ids are reused after a database reset, and an old file must never pass for a new one.
    stored_name = models.CharField(max_length=64, unique=True, default=new_stored_name, editable=False)
    size_bytes = models.PositiveBigIntegerField()
    rows = models.PositiveIntegerField()
    columns = models.JSONField(default=list, help_text="Per column: name, kind, missing, distinct, task.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["table", "images", "text"]), name="upload_kind_valid")
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def suffix(self) -> str:
        return ".npz" if self.kind == self.Kind.IMAGES else ".csv"

    @property
    def path(self):
        # The one place an upload's file name is decided: a random stored name (never an id a restored
        # database could reuse), .npz for an image ZIP (decoded), .csv otherwise. The worker links it into
        # the run's data folder as the "<upload_id>.npz" / "<upload_id>.csv" the engine reads.
        return settings.UPLOAD_DIR / f"{self.stored_name}{self.suffix}"

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

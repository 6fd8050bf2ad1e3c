"""Django admin: teams, experiments, runs, workers and the queue switch (staff only)."""

from django.contrib import admin

from experiments.models import ApiToken, Experiment, Membership, QueueState, Run, Team, Upload, Worker


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "max_concurrent_runs", "created"]
    list_editable = ["max_concurrent_runs"]
    inlines = [MembershipInline]


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created"]
    list_filter = ["team"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "experiment", "status", "priority", "attempt", "epoch", "epochs", "worker", "verdict"]
    list_filter = ["status", "experiment__team"]
    readonly_fields = ["config_hash", "group_hash", "summary", "created", "started_at", "finished_at", "heartbeat_at"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["name", "device", "last_heartbeat", "current_run", "draining"]


admin.site.register(QueueState)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used"]
    readonly_fields = ["digest", "prefix"]


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["original_name", "team", "rows", "size_bytes", "uploaded_by", "created"]
    list_filter = ["team"]
    readonly_fields = ["columns", "size_bytes", "rows"]

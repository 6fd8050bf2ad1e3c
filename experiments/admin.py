"""Django admin (staff only): the GPU queue, workers, team limits, runs.

Every queue change goes through a named service in experiments/queue/ or
experiments/services/, never through a field written here: those services are where
the side effects live (tickets sent to workers, drain told to the worker).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from experiments import queue, selectors, services, storage
from experiments.errors import Refused
from experiments.models import ApiToken, Experiment, Membership, QueuedRun, QueueState, Run, Team, Upload, Worker
from webapp.templatetags.losslab import rough_duration, when


def _each(modeladmin, request, objects, action, done: str) -> None:
    """Apply a service to each selected object; report what worked and why the rest did not."""
    ok = 0
    for obj in objects:
        try:
            action(obj)
            ok += 1
        except Refused as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}.", messages.SUCCESS)


# ---- runs: cancel and requeue, from the queue view and the run list -------------------------


@admin.action(description="Cancel (a running run stops within a second or two)")
def cancel_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda r: services.run_cancel(run=r), "Cancelled or asked to stop")


@admin.action(description="Requeue (failed or cancelled; resumes from its last checkpoint)")
def requeue_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda r: queue.run_requeue(run=r), "Requeued")


@admin.action(description="Move to the top of the queue")
def move_to_top(modeladmin, request, queryset):
    # The last selected ends up first, so move them bottom-up to keep their order.
    runs = list(queryset.order_by("priority", "-queued_at", "-id"))
    _each(modeladmin, request, runs, lambda r: queue.run_move_to_top(run=r), "Moved to the top")


@admin.action(description="Move up one place")
def move_up(modeladmin, request, queryset):
    runs = list(queryset.order_by("-priority", "queued_at", "id"))
    _each(modeladmin, request, runs, lambda r: queue.run_move_up(run=r), "Moved up")


@admin.action(description="Raise priority by 1")
def raise_priority(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda r: queue.run_raise_priority(run=r, by=1), "Priority raised")


@admin.action(description="Lower priority by 1")
def lower_priority(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda r: queue.run_raise_priority(run=r, by=-1), "Priority lowered")


class ReadOnlyMixin:
    """Rows change through actions (services) only."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(QueuedRun)
class QueueAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The queue in start order, with the pause switch above it."""

    change_list_template = "admin/experiments/queuedrun/change_list.html"
    actions = [move_to_top, move_up, raise_priority, lower_priority, cancel_runs]
    list_display_links = None
    list_per_page = 200
    ordering = ["-priority", "queued_at", "id"]

    def get_queryset(self, request):
        order = [F("priority").desc(), F("queued_at").asc(), F("id").asc()]
        return (
            super()
            .get_queryset(request)
            .filter(status=Run.Status.QUEUED)
            .select_related("experiment__team", "created_by")
            .annotate(place=Window(RowNumber(), order_by=order))
            .order_by(*order)
        )

    def get_list_display(self, request):
        starts = selectors.queue_start_etas()

        @admin.display(description="starts in (rough)")
        def starts_in(run):
            return rough_duration(starts[run.pk]) if run.pk in starts else "–"

        return ["place", "run_link", "team", "created_by", "priority", "queued", "epochs", starts_in]

    @admin.display(description="queued", ordering="queued_at")
    def queued(self, run):
        return when(run.queued_at)

    @admin.display(description="#")
    def place(self, run):
        return run.place

    @admin.display(description="run")
    def run_link(self, run):
        return format_html(
            '<a href="{}">{}</a> <span class="quiet">({})</span>',
            reverse("admin:experiments_run_change", args=[run.pk]),
            run.name,
            run.experiment.name,
        )

    @admin.display(description="team")
    def team(self, run):
        return run.experiment.team

    def changelist_view(self, request, extra_context=None):
        extra = {
            "queue_state": QueueState.get(),
            "live_workers": selectors.live_workers().count(),
            "title": "GPU queue",
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        switch = self.admin_site.admin_view(require_POST(self.switch_view))
        return [path("switch/", switch, name="experiments_queue_switch"), *super().get_urls()]

    def switch_view(self, request):
        if request.POST.get("paused") == "1":
            queue.queue_pause()
            self.message_user(request, "Queue paused: running runs go on, no new run starts.", messages.WARNING)
        else:
            queue.queue_resume()
            self.message_user(request, "Queue resumed.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:experiments_queuedrun_changelist"))


@admin.action(description="Drain (finish the current run, take no new one)")
def drain_workers(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda w: queue.worker_drain(worker=w), "Draining")


@admin.action(description="Undrain (take runs again)")
def undrain_workers(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda w: queue.worker_undrain(worker=w), "Taking runs again")


@admin.register(Worker)
class WorkerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "online",
        "heartbeat_age",
        "device",
        "memory",
        "util",
        "datasets_held",
        "current_run_link",
        "draining",
    ]
    actions = [drain_workers, undrain_workers]
    ordering = ["name"]

    def has_delete_permission(self, request, obj=None):
        return True  # a worker gone for good can be removed; it re-registers if it comes back

    @admin.display(boolean=True, description="online")
    def online(self, worker):
        return bool(worker.last_heartbeat) and self._age(worker) < settings.WORKER_STALE_S

    @admin.display(description="heartbeat", ordering="-last_heartbeat")
    def heartbeat_age(self, worker):
        return when(worker.last_heartbeat, "never")

    @admin.display(description="util %")
    def util(self, worker):
        return "–" if worker.utilization is None else f"{worker.utilization:.0f}"

    @admin.display(description="memory MiB used/total")
    def memory(self, worker):
        if worker.memory_total_mb is None:
            return "–"
        return f"{worker.memory_used_mb if worker.memory_used_mb is not None else '?'} / {worker.memory_total_mb}"

    @admin.display(description="datasets")
    def datasets_held(self, worker):
        return ", ".join(worker.datasets or []) or "–"

    @admin.display(description="current run")
    def current_run_link(self, worker):
        run = worker.current_run
        if run is None:
            return "idle"
        return format_html('<a href="{}">{}</a>', reverse("admin:experiments_run_change", args=[run.pk]), run)

    @staticmethod
    def _age(worker) -> float:
        return (timezone.now() - worker.last_heartbeat) / timedelta(seconds=1)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "max_concurrent_runs", "created"]
    list_editable = ["max_concurrent_runs"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        limit = obj.max_concurrent_runs
        if change:  # the limit is set by its service, which also lets waiting runs start
            obj.max_concurrent_runs = Team.objects.get(pk=obj.pk).max_concurrent_runs
        super().save_model(request, obj, form, change)
        if not change or "max_concurrent_runs" in form.changed_data:
            queue.team_set_run_limit(team=obj, limit=limit)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created"]
    list_filter = ["team"]


@admin.register(Run)
class RunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "experiment",
        "status",
        "priority",
        "attempt",
        "losses",
        "epoch",
        "epochs",
        "worker",
        "verdict",
    ]
    list_filter = ["status", "experiment__team"]
    search_fields = ["name"]
    actions = [cancel_runs, requeue_runs]

    def changelist_view(self, request, extra_context=None):
        extra = {"disk": storage.disk_usage(), "retention_h": settings.CHECKPOINT_RETENTION_H}
        return super().changelist_view(request, {**(extra_context or {}), **extra})


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used"]
    readonly_fields = ["digest", "prefix"]


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["original_name", "team", "rows", "size_bytes", "uploaded_by", "created"]
    list_filter = ["team"]
    readonly_fields = ["columns", "size_bytes", "rows"]

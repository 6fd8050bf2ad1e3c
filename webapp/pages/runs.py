"""Server-rendered pages. Thin: validate, call a service or selector, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors, services, storage
from experiments.analysis.tables import flatten_config
from experiments.errors import Refused
from experiments.models import Run
from experiments.selectors import leaderboard
from experiments.selectors.configs import config_read
from webapp.pages.forms import ExperimentForm, RunLaunchForm
from webapp.pages.teams import current_team
from workers.training.presets import PRESETS


@login_required
def experiment_list(request):
    teams = selectors.teams_for_user(request.user)
    form = ExperimentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = request.POST.get("team", "")
        team = teams.filter(pk=int(chosen)).first() if chosen.isdigit() and len(chosen) < 19 else current_team(request)
        if team is None:
            form.add_error(None, "You are not in a team yet: ask an admin to add you.")
        else:
            try:
                exp = services.experiment_create(team=team, user=request.user, **form.cleaned_data)
                return redirect("experiment_detail", experiment_id=exp.pk)
            except Refused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    experiments = selectors.experiments_for_user(request.user)
    return render(
        request, "experiments/experiment_list.html", {"experiments": experiments, "form": form, "teams": teams}
    )


RUNS_PER_PAGE = 50  # rows a page renders: 100 took a third of the page's server time at 10,000 runs


@login_required
def experiment_detail(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    # One page of runs, newest first: rendering cost grows with the rows shown, not with the experiment.
    runs = experiment.runs.select_related("worker").order_by("-created", "-id")
    tag = request.GET.get("tag", "").strip()[:32]
    if tag:
        runs = selectors.runs_tagged(runs, tag=tag)
    page = Paginator(runs, RUNS_PER_PAGE)
    page = page.get_page(request.GET.get("page"))
    runs = list(page.object_list)
    queued = any(run.status == Run.Status.QUEUED for run in runs)  # else no queue position to compute
    positions, starts = (selectors.queue_positions(), selectors.queue_start_etas()) if queued else ({}, {})
    held = selectors.datasets_held() if queued else set()
    for run in runs:
        run.queue_position, run.starts_in = positions.get(run.pk), starts.get(run.pk)
        run.waiting_for = selectors.run_waiting_for(run, held)
    # The leaderboard's top rows: a constant number of queries, bootstrap over the best groups only.
    board = leaderboard.leaderboard_get(experiment=experiment, n_resamples=1000, with_effects=False)
    context = {"experiment": experiment, "runs": runs, "page": page, "board": board, "tag": tag}
    return render(request, "experiments/experiment_detail.html", context)


@login_required
def run_new(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    preset = request.GET.get("preset", "tutorial_mlp")
    if preset not in PRESETS:
        raise Http404("No such preset")
    uploads = selectors.uploads_for_team(team=experiment.team)
    form = RunLaunchForm(
        request.POST or None,
        initial_config=PRESETS[preset][1],
        uploads=uploads,
        datasets_held=selectors.datasets_held(),
    )
    status = 400 if form.is_bound else 200
    if request.method == "POST" and form.is_valid():
        try:
            run = services.run_launch(
                experiment=experiment,
                user=request.user,
                config=form.config,
                name=form.cleaned_data["name"],
                preset=preset,
            )
            # No "queued" flash: the run page's status banner says so, and follows the run from there.
            return redirect("run_detail", run_id=run.pk)
        except Refused as exc:
            form.add_service_error(exc)
            status = exc.status if exc.status == 429 else 400
    columns = {u.pk: u.column_names for u in uploads}
    context = {
        "experiment": experiment,
        "form": form,
        "presets": PRESETS,
        "preset": preset,
        "preset_label": PRESETS[preset][0],
        "upload_columns": columns,
    }
    return render(request, "experiments/run_form.html", context, status=status)


@login_required
def run_detail(request, run_id: int):
    run = selectors.run_get(user=request.user, run_id=run_id)
    run.queue_position = selectors.queue_positions().get(run.pk)
    run.starts_in = selectors.queue_start_etas().get(run.pk)
    run.waiting_for = selectors.run_waiting_for(run)
    stored = config_read(run.config)  # a row that no longer parses still shows, with the reason
    preset, differences = preset_differences(run.config) if stored.valid else ("", [])
    context = {
        "run": run,
        "experiment": run.experiment,
        "task": (stored.config.task if stored.valid else None) or "classification",
        "preset_label": preset,
        "differences": differences,
        "has_model": storage.model_path(run).exists(),
        "config_problem": stored.problem,
        "retention_h": settings.CHECKPOINT_RETENTION_H,
    }
    return render(request, "experiments/run_detail.html", context)


@login_required
@require_POST
def run_rename(request, run_id: int):
    run = selectors.run_get(user=request.user, run_id=run_id)
    tags = request.POST.get("tags")
    try:
        services.run_rename(run=run, name=request.POST.get("name"), tags=None if tags is None else tags.split(","))
        messages.info(request, "Run renamed." if tags is None else "Run name and tags saved.")
    except Refused as exc:
        messages.error(request, f"{exc.field}: {exc.message}" if exc.field else exc.message)
    return redirect("run_detail", run_id=run.pk)


def preset_differences(config: dict) -> tuple[str, list[tuple[str, object, object]]]:
    """The closest preset's label, and each setting in which the run differs from it: what matters in this run.

    Closest: one of the same architecture first (an MLP run is read against the MLP preset), then the
    fewest differences.
    """
    flat = flatten_config(config)
    candidates = []
    for label, preset in PRESETS.values():
        base = flatten_config(preset.model_dump(mode="json"))
        rows = [(k, flat.get(k), base.get(k)) for k in sorted(set(flat) | set(base)) if flat.get(k) != base.get(k)]
        candidates.append((flat.get("model.arch") != base.get("model.arch"), len(rows), label, rows))
    if not candidates:
        return "", []
    _, _, label, rows = min(candidates, key=lambda c: c[:2])
    return label, rows


@login_required
@require_POST
def run_cancel(request, run_id: int):
    run = selectors.run_get(user=request.user, run_id=run_id)
    try:
        services.run_cancel(run=run)
        messages.info(request, "Cancel requested: the run stops within a second or two.")
    except Refused as exc:
        messages.error(request, exc.message)
    return redirect("run_detail", run_id=run.pk)


@login_required
def run_model(request, run_id: int):
    """The run's final weights: a state_dict that torch.load(weights_only=True) reads."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    try:
        return FileResponse(storage.model_path(run).open("rb"), as_attachment=True, filename=f"run-{run.pk}-model.pt")
    except FileNotFoundError:
        raise Http404("This run has no model file (it did not succeed, or its retention period ran out).") from None


@login_required
@require_POST
def run_keep_model(request, run_id: int):
    run = selectors.run_get(user=request.user, run_id=run_id)
    try:
        services.run_keep_model(run=run)
        messages.info(request, "The model file is kept after the checkpoints are deleted.")
    except Refused as exc:
        messages.error(request, exc.message)
    return redirect("run_detail", run_id=run.pk)

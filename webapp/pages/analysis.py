"""Pages for comparing, ranking and sweeping, and the exports. Thin: validate, call, render."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors, services
from experiments.errors import Refused
from experiments.selectors import comparison, export, leaderboard
from experiments.services import sweeps
from webapp.pages.forms import SweepForm
from workers.training.presets import PRESETS

PICKER_LIMIT = 500


def _compare_context(request, experiment, run_ids: list[int], options: dict, saved=None) -> dict:
    runs, invalid = comparison.runs_with_valid_config(comparison.compare_runs(experiment=experiment, run_ids=run_ids))
    aware = comparison.loss_awareness(runs) if runs else None
    diff = comparison.config_diff([r.config for r in runs])
    options = {
        "keys": (aware or {}).get("default_keys", ["train_loss", "val_loss"]),
        "x": "step",
        "smoothing": 0.0,
        "log": False,
        **{k: v for k, v in options.items() if v not in (None, [], "")},
    }
    return {
        "experiment": experiment,
        "runs": runs,
        "run_ids": [r.pk for r in runs],
        "invalid_config_runs": invalid,
        "aware": aware,
        "diff": diff,
        "options": options,
        "saved": saved,
        "picker": experiment.runs.only("id", "experiment", "name", "status", "verdict", "seed", "config").order_by(
            "-created"
        )[:PICKER_LIMIT],
        "saved_list": selectors.saved_comparisons_for(experiment=experiment),
        "api_url": f"/api/experiments/{experiment.pk}/compare",
    }


def _float(raw: str | None) -> float | None:
    try:
        return min(max(float(raw), 0.0), 0.99) if raw else None
    except ValueError:
        return None


@login_required
def compare(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    try:
        run_ids = comparison.parse_run_ids(request.GET.getlist("runs"))
        options = {
            "x": request.GET.get("x"),
            "keys": [k for k in request.GET.get("keys", "").split(",") if k],
            "smoothing": _float(request.GET.get("smoothing")),
            "log": request.GET.get("log") == "1",
        }
        context = _compare_context(request, experiment, run_ids, options)
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect("compare", experiment_id=experiment.pk)
    return render(request, "experiments/compare.html", context)


@login_required
def saved_comparison(request, comparison_id: int):
    saved = selectors.saved_comparison_get(user=request.user, comparison_id=comparison_id)
    # Runs deleted since the comparison was saved are left out rather than failing the page.
    existing = set(saved.experiment.runs.filter(pk__in=saved.run_ids).values_list("pk", flat=True))
    run_ids = [i for i in saved.run_ids if i in existing]
    context = _compare_context(request, saved.experiment, run_ids, saved.options, saved=saved)
    return render(request, "experiments/compare.html", context)


@login_required
@require_POST
def compare_save(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    try:
        run_ids = comparison.parse_run_ids(request.POST.get("runs", ""))
        options = {
            "x": request.POST.get("x", "step"),
            "smoothing": request.POST.get("smoothing", 0),
            "log": request.POST.get("log") == "on",
            "keys": [k for k in request.POST.get("keys", "").split(",") if k],
        }
        saved = services.saved_comparison_create(
            experiment=experiment,
            user=request.user,
            name=request.POST.get("name", ""),
            run_ids=run_ids,
            options=options,
        )
    except Refused as exc:
        messages.error(request, f"Not saved: {exc.message}")
        query = "?runs=" + request.POST.get("runs", "") if request.POST.get("runs") else ""
        return redirect(f"/experiments/{experiment.pk}/compare/{query}")
    messages.success(request, f"Saved “{saved.name}”: anyone in {experiment.team.name} can open this URL.")
    return redirect("saved_comparison", comparison_id=saved.pk)


@login_required
def leaderboard_page(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    try:
        board = leaderboard.leaderboard_get(
            experiment=experiment,
            metric=request.GET.get("metric") or None,
            baseline=request.GET.get("baseline") or None,
            sweep=_int_or_none(request.GET.get("sweep")),
        )
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect("leaderboard", experiment_id=experiment.pk)
    context = {"experiment": experiment, "board": board, "board_json": board}
    return render(request, "experiments/leaderboard.html", context)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


@login_required
@require_POST
def group_seeds_new(request, experiment_id: int):
    """The leaderboard's "queue the missing seeds" button."""
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    try:
        runs = services.group_seeds_launch(
            experiment=experiment, user=request.user, group_hash=request.POST.get("group", "")[:64]
        )
        seeds = ", ".join(str(r.seed) for r in runs)
        messages.success(request, f"Queued {len(runs)} more seed{'s' if len(runs) > 1 else ''} ({seeds}).")
    except Refused as exc:
        messages.error(request, f"Nothing queued: {exc.message}")
    return redirect("leaderboard", experiment_id=experiment.pk)


@login_required
def sweep_new(request, experiment_id: int):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    form = SweepForm(request.POST or None, presets=PRESETS, initial={"preset": "tutorial_mlp"})
    if request.method == "POST" and form.is_valid():
        try:
            runs = services.sweep_launch(
                experiment=experiment,
                user=request.user,
                base=form.base_config(),
                grid=form.grid(),
                seeds=form.cleaned_data["seeds"],
                preset=form.cleaned_data["preset"],
            )
            messages.success(request, f"Sweep queued: {len(runs)} runs.")
            return redirect("experiment_detail", experiment_id=experiment.pk)
        except Refused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    context = {
        "experiment": experiment,
        "form": form,
        "max_runs": sweeps.MAX_SWEEP_RUNS,
        "factors": list(sweeps.FACTORS),
    }
    return render(request, "experiments/sweep_form.html", context, status=400 if form.errors else 200)


def _download(content, filename: str, content_type: str):
    response = (StreamingHttpResponse if not isinstance(content, (str, bytes)) else HttpResponse)(
        content, content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _export(fmt: str, name: str, as_csv, as_json):
    """`as_csv()` or `as_json()` as a download named `name.csv|json`; any other format is a 404."""
    if fmt == "csv":
        return _download(as_csv(), f"{name}.csv", "text/csv; charset=utf-8")
    if fmt == "json":
        return _download(json.dumps(as_json()), f"{name}.json", "application/json")
    raise Http404("Export as .csv or .json")


@login_required
def experiment_export(request, experiment_id: int, fmt: str):
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    return _export(
        fmt,
        f"experiment-{experiment.pk}-runs",
        lambda: export.experiment_runs_csv(experiment),
        lambda: export.experiment_runs_json(experiment),
    )


@login_required
def run_export(request, run_id: int, fmt: str):
    run = selectors.run_get(user=request.user, run_id=run_id)
    return _export(
        fmt, f"run-{run.pk}-metrics", lambda: export.run_history_csv(run), lambda: export.run_history_json(run)
    )

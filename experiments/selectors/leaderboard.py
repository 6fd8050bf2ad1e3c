"""Reads behind the leaderboard: runs grouped by configuration (seeds pooled), ranked, and one sweep's factor effects.

A constant number of queries whatever the number of runs: the score of each
run is pulled out of its summary JSON by the database, and configs are read
for one representative run per group only. The statistics are the pure
functions of `experiments.ranking`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
from django.db.models import Case, Count, FloatField, Min, TextField, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from experiments.analysis import names, ranking
from experiments.errors import ErrorCode, Refused
from experiments.models import Experiment, Run
from experiments.selectors.comparison import MISSING, config_diff, dataset_task, recorded_task
from experiments.selectors.configs import config_decode, config_text_valid

# metric -> (label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "best.val_accuracy": ("val accuracy at the best epoch", True),
    "best.val_nll": ("val NLL at the best epoch", False),
    "best.val_rmse": ("val RMSE at the best epoch", False),
    "best.val_r2": ("val R² at the best epoch", True),
    "best.val_mae": ("val MAE at the best epoch", False),
    "best.val_loss": ("best val loss", False),
    "final.val_loss": ("final val loss", False),
    "final.val_accuracy": ("final val accuracy", True),
    "final.val_rmse": ("final val RMSE", False),
}
# What each metric can be: no interval leaves it (accuracy in [0, 1], losses ≥ 0, R² ≤ 1).
RANGES: dict[str, tuple[float, float]] = {
    "best.val_accuracy": (0.0, 1.0),
    "final.val_accuracy": (0.0, 1.0),
    "best.val_r2": (-math.inf, 1.0),
}
NON_NEGATIVE = (0.0, math.inf)
DEFAULT_METRIC = {"classification": "best.val_accuracy", "regression": "best.val_rmse"}
MAX_GROUPS = 50  # bootstrap intervals for the best 50 configurations; the rest are counted, not ranked
NOT_A_FACTOR = ("seed", "device")


Counts = dict[str, dict[str, int]]  # group -> status -> runs
Reps = dict[str, tuple[int, str]]  # group -> (a run's id, task)


def _groups_info(experiment: Experiment) -> tuple[Counts, Reps, dict[str, dict]]:
    """Per group: run counts by status; a representative run's id and task; and its config (2 queries).

    The grouping reads the index (experiment, group, status), not the runs, and names each group's
    representative (its first run). What a representative gives (its config, decoded and checked,
    and the task its summary records) is kept for the process (`_known`), so the second query reads
    only the representatives not seen before and those whose task is not recorded yet: reading 2,000
    configs as text was half of the leaderboard's database time. The summaries (1.7 kB each once a
    run has finished) are never read here; the database answers the task from their keys.
    """
    counts: Counts = {}
    firsts: dict[str, tuple[int, str]] = {}  # group -> (first run's id, lowest config hash): the cache key
    rows = (
        experiment.runs.order_by()
        .values_list("group_hash", "status")
        .annotate(n=Count("id"), first=Min("id"), fingerprint=Min("config_hash"))
        .order_by("group_hash", "status")
    )
    for group, status, n, first, fingerprint in rows:
        counts.setdefault(group, {})[status] = n
        seen = firsts.get(group, (first, fingerprint))
        firsts[group] = min(seen[0], first), min(seen[1], fingerprint)
    keys = {g: (g, *firsts[g]) for g in counts}
    unknown = [keys[g][1] for g in counts if keys[g] not in _known]
    untold = [keys[g][1] for g in counts if keys[g] in _known and not _known[keys[g]].task]
    _learn(experiment, keys, unknown, untold)
    reps: Reps = {}
    configs: dict[str, dict] = {}
    for g in counts:
        known = _known.get(keys[g])
        if known is None or not known.valid:
            continue  # a group's runs share its config: none of them is ranked, they are counted as invalid
        reps[g] = keys[g][1], known.task or dataset_task(known.config if isinstance(known.config, dict) else None)
        configs[g] = known.config
    return counts, reps, configs


@dataclass(frozen=True)
class _Rep:
    """What a group's representative run gives the leaderboard: its config (decoded) and recorded task."""

    valid: bool
    config: Any
    task: str  # "" until its summary records one


_known: dict[tuple[str, int, str], _Rep] = {}  # (group, first run's id, lowest config hash) -> _Rep
KNOWN_MAX = 50_000  # groups remembered per process; past that the memory starts over
LIST_MAX = 1_000  # representatives asked for by id; past that, all of them by a subquery
_sections: dict[bytes, Any] = {}  # one object per distinct config section: equal sections compare by identity


def _learn(
    experiment: Experiment, keys: dict[str, tuple[str, int, str]], unknown: list[int], untold: list[int]
) -> None:
    """Read the configs of the `unknown` representatives and the recorded task of those and the `untold`.

    Always one query (an empty list asks for id 0), so a page's query count does not depend on what
    this process has seen. A stored config is written once, at launch; a hand edit of one in the database
    shows here after a restart (a run's own page reads its config every time).
    """
    if len(_known) + len(unknown) > KNOWN_MAX:
        _known.clear()
        _sections.clear()
    if len(unknown) + len(untold) <= LIST_MAX:
        ids = set(unknown)
        text = Case(When(pk__in=unknown or [0], then=Cast("config", TextField())), default=None)
        rows = Run.objects.filter(pk__in=[*unknown, *untold] or [0])
    else:  # many to learn (a cold start): every representative, by a subquery rather than thousands of ids
        ids = {key[1] for key in keys.values()}
        text = Cast("config", TextField())
        rows = Run.objects.filter(
            pk__in=experiment.runs.order_by().values("group_hash").annotate(r=Min("id")).values("r")
        )
    rows = rows.order_by().annotate(recorded=recorded_task(), config_text=text)
    by_pk = {key[1]: key for key in keys.values()}
    for pk, recorded, config_text in rows.values_list("pk", "recorded", "config_text"):
        key = by_pk.get(pk)
        if key is None:  # the group's first run was deleted meanwhile: learnt on the next request
            continue
        if pk in ids:
            valid = config_text_valid(config_text)
            _known[key] = _Rep(valid, _shared(config_decode(config_text)) if valid else None, recorded)
        else:
            _known[key] = replace(_known[key], task=recorded)


def _shared(config: Any) -> Any:
    """The config with each section replaced by the one object kept for equal sections. A sweep's configs
    differ in a few sections: thousands of copies of the rest kept alive made Python's garbage collector
    walk the whole heap about every other request, and shared ones compare by identity in config_diff."""
    if not isinstance(config, dict):
        return config
    shared = {}
    for key, value in config.items():
        try:
            shared[key] = _sections.setdefault(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), value)
        except TypeError:  # what orjson cannot write (an integer past 64 bits): kept as it is
            shared[key] = value
    return shared


def _scores(experiment: Experiment, metric: str) -> dict[str, list[tuple[int, float]]]:
    """(run id, score) of every succeeded run, per group (2 queries), in id order whatever the query plan:
    the order of the scores is the order of the sums over them.

    A succeeded run's summary is final, so its score is kept for the process (`_run_scores`, by the run's
    uid, its finish time and the metric); only runs not seen before are read, the score pulled out of the
    summary JSON by the database. That extraction over 6,000 summaries of 1.7 kB was the leaderboard's
    slowest query on PostgreSQL.
    """
    succeeded = experiment.runs.order_by("pk").filter(status=Run.Status.SUCCEEDED)
    finished = list(succeeded.values_list("pk", "group_hash", "uid", "finished_at"))
    unknown = [pk for pk, _, uid, at in finished if _run_scores.get((uid, metric), (MISSING,))[0] != at]
    if len(_run_scores) + len(unknown) > SCORES_KEPT:
        _run_scores.clear()
    part, key = metric.split(".", 1)
    rows = Run.objects.filter(pk__in=unknown or [0]) if len(unknown) <= LIST_MAX else succeeded
    learnt = dict(
        rows.order_by().annotate(score=Cast(KT(f"summary__{part}__{key}"), FloatField())).values_list("pk", "score")
    )
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for pk, group, uid, at in finished:
        if pk in learnt:
            _run_scores[uid, metric] = at, learnt[pk]
        kept_at, score = _run_scores.get((uid, metric), (MISSING, None))
        if score is not None and kept_at == at:  # None: the run's summary has no such metric
            out[group].append((pk, score))
    return out


_run_scores: dict[tuple[Any, str], tuple[Any, float | None]] = {}  # (run uid, metric) -> (finished at, score)
SCORES_KEPT = 200_000


def _factors(configs: dict[str, dict]) -> dict[str, dict]:
    """What tells the groups apart: per group, the config fields that vary between them (seed never does)."""
    groups = list(configs)
    diff = config_diff([configs[g] for g in groups], ignore=NOT_A_FACTOR)
    return {g: {row["field"]: row["values"][i] for row in diff} for i, g in enumerate(groups)}


def _label(factors: dict[str, Any]) -> str:
    """The short words of run names ("l2 0.1 · sgd lr 0.01") for the factors that tell the groups apart."""
    return names.group_label(factors, missing=MISSING) or "all runs (one configuration)"


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "-".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default_metric(reps: Reps) -> str:
    tasks = Counter(task for _, task in reps.values())
    return DEFAULT_METRIC[tasks.most_common(1)[0][0]] if tasks else DEFAULT_METRIC["classification"]


def leaderboard_get(
    *,
    experiment: Experiment,
    metric: str | None = None,
    baseline: str | None = None,
    sweep: int | None = None,
    n_resamples: int = 2000,
    with_effects: bool = True,
) -> dict[str, Any]:
    """Configurations of `experiment` ranked by `metric` (mean over seeds, bootstrap-SE t-interval inside the
    metric's range), and the factor effects of one of its sweeps (`sweep`, default the newest)."""
    counts, reps, configs = _groups_info(experiment)
    invalid_runs = sum(sum(counts.pop(g).values()) for g in list(counts) if g not in configs)
    metric = metric or default_metric(reps)
    if metric not in METRICS:
        raise Refused(f"metric must be one of {', '.join(METRICS)}.", field="metric", code=ErrorCode.MALFORMED)
    label, higher = METRICS[metric]
    scores = {g: runs for g, runs in _scores(experiment, metric).items() if g in configs}
    if baseline and baseline not in scores:
        raise Refused(
            "baseline is not a configuration with finished runs here.", field="baseline", code=ErrorCode.MALFORMED
        )
    factors = _factors(configs)
    sign = 1 if higher else -1
    ordered = sorted(scores, key=lambda g: -sign * sum(s for _, s in scores[g]) / len(scores[g]))
    shown = ordered[:MAX_GROUPS] + ([baseline] if baseline and baseline not in ordered[:MAX_GROUPS] else [])
    unscored = [g for g in counts if g not in scores]
    labels = {g: _label(factors[g]) for g in shown + unscored if g in factors}  # only the groups shown
    ranked = ranking.rank_groups(
        {g: [s for _, s in scores[g]] for g in shown},
        higher_is_better=higher,
        baseline=baseline,
        labels=labels,
        bounds=RANGES.get(metric, NON_NEGATIVE),
        n_resamples=n_resamples,
    )
    rows = [_row(g, counts, reps, factors, scores) for g in ranked]
    for row in rows:  # the full configuration, as the hover text of its label
        row["title"] = names.config_title(configs.get(row["key"]) or {})
    board = {
        "experiment": experiment.pk,
        "metric": metric,
        "metric_label": label,
        "higher_is_better": higher,
        "metrics": {k: v[0] for k, v in METRICS.items()},
        "baseline": baseline,
        "min_seeds": ranking.MIN_SEEDS,
        "groups": rows,
        "unranked_groups": max(len(ordered) - MAX_GROUPS, 0),
        "invalid_config_runs": invalid_runs,  # skipped: their stored config no longer parses
        "unscored_groups": [{"key": g, "label": labels.get(g, g), "runs": dict(counts[g])} for g in unscored],
        "sweeps": [],
        "sweep": None,
        "effects": {},
    }
    if with_effects:  # the experiment page's top rows skip them
        board.update(_sweep_effects(experiment, sweep, metric, n_resamples))
    return board


def _row(g: ranking.GroupScore, counts, reps, factors, scores) -> dict[str, Any]:
    row = asdict(g)
    row["runs"] = dict(counts[g.key])
    row["pending"] = sum(counts[g.key].get(s, 0) for s in (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.LOST))
    row["run_ids"] = [pk for pk, _ in scores[g.key]]
    row["factors"] = factors.get(g.key, {})
    row["example_run"] = reps[g.key][0] if g.key in reps else None
    return row


def _sweep_effects(experiment: Experiment, sweep_id: int | None, metric: str, n_resamples: int) -> dict[str, Any]:
    """The sweeps to choose from, and the chosen one's effects from its own runs (3 queries, ≤ 200 runs)."""
    sweeps = list(experiment.sweeps.annotate(n_runs=Count("runs")).order_by("-created", "-id"))
    choices = [{"id": s.pk, "label": str(s), "runs": s.n_runs, "created": s.created.isoformat()} for s in sweeps]
    if sweep_id is None:
        chosen = sweeps[0] if sweeps else None
    else:
        chosen = next((s for s in sweeps if s.pk == sweep_id), None)
        if chosen is None:
            raise Refused("sweep is not a sweep of this experiment.", field="sweep", code=ErrorCode.NOT_FOUND)
    if chosen is None:
        return {"sweeps": choices, "sweep": None, "effects": {}}
    part, key = metric.split(".", 1)
    runs = chosen.runs.filter(status=Run.Status.SUCCEEDED).annotate(
        score=Cast(KT(f"summary__{part}__{key}"), FloatField())
    )
    rows = [
        ({path: _hashable(_at(config, path)) for path in chosen.grid}, seed, score)
        for seed, config, score in runs.values_list("seed", "config", "score")
        if score is not None
    ]
    effects = ranking.sweep_effects(
        rows, higher_is_better=METRICS[metric][1], bounds=RANGES.get(metric, NON_NEGATIVE), n_resamples=n_resamples
    )
    for values in effects.values():
        for v in values:
            v["value"] = _fmt(list(v["value"]) if isinstance(v["value"], tuple) else v["value"])
    return {"sweeps": choices, "sweep": chosen.pk, "effects": effects}


def _at(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value

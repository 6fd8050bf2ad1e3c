"""Reads behind the compare page: chosen runs' curves, overlaid and downsampled, their config diff,
and whether their losses can be put on one axis at all.

Series are read in one query (`metric_store.read_series`) and cut down on the
server with `minmax_downsample`, so a comparison of 100 runs x 10,000 steps
sends a few hundred points per curve and still shows every spike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from django.db.models import Case, CharField, Value, When

from experiments import metric_store
from experiments.analysis.downsample import minmax_downsample
from experiments.analysis.tables import flatten_config
from experiments.errors import ErrorCode, Refused
from experiments.models import Experiment, MetricChunk, Run
from experiments.selectors.configs import config_valid
from workers.training.config import DATASETS

X_AXES = ("step", "epoch", "time")
DEFAULT_MAX_POINTS = 500
MAX_POINTS = 5000
MAX_RUNS = 200
DEFAULT_RUNS = 20  # compared when the caller names none
# Metrics every run records whatever its training loss: they put different losses on one scale.
SHARED_METRICS = {"classification": ["val_accuracy", "val_nll"], "regression": ["val_rmse", "val_r2", "val_mae"]}
HIGHER_IS_BETTER = {"val_accuracy", "train_accuracy", "val_r2"}
SUMMARY_KEYS = ("val_loss", "train_loss", "val_accuracy", "val_nll", "val_rmse", "val_r2", "val_mae")
MISSING = "—"


def newest_run_ids(experiment) -> list[int]:
    return list(experiment.runs.order_by("-created").values_list("pk", flat=True)[:DEFAULT_RUNS])


def parse_run_ids(raw: str | Iterable[str] | None) -> list[int]:
    """`"3,5,8"` or `["3", "5,8"]` -> [3, 5, 8], first occurrence order; a bad id names the field."""
    parts = [raw] if isinstance(raw, str) or raw is None else list(raw)
    ids: list[int] = []
    for token in ",".join(p for p in parts if p).split(","):
        token = token.strip()
        if not token:
            continue
        if not token.isdigit():
            raise Refused(
                f"Run ids are whole numbers separated by commas; got {token!r}.", field="runs", code=ErrorCode.MALFORMED
            )
        if int(token) not in ids:
            ids.append(int(token))
    if len(ids) > MAX_RUNS:
        raise Refused(
            f"Compare at most {MAX_RUNS} runs at once; {len(ids)} were chosen.", field="runs", code=ErrorCode.MALFORMED
        )
    return ids


def compare_runs(*, experiment: Experiment, run_ids: list[int]) -> list[Run]:
    """The chosen runs of `experiment`, in the order chosen; an id from elsewhere is refused by name."""
    found = {r.pk: r for r in experiment.runs.filter(pk__in=run_ids)}
    unknown = [i for i in run_ids if i not in found]
    if unknown:
        raise Refused(
            f"No run {', '.join(map(str, unknown))} in this experiment.", field="runs", code=ErrorCode.MALFORMED
        )
    return [found[i] for i in run_ids]


def runs_with_valid_config(runs: list[Run]) -> tuple[list[Run], int]:
    """The runs whose stored config still parses, and how many were left out (shown as a count)."""
    valid = [r for r in runs if config_valid(r.config)]
    return valid, len(runs) - len(valid)


def task_of(config: dict | None, summary: dict | None) -> str:
    """classification or regression: from the metrics the run recorded, else from its dataset."""
    final = (summary or {}).get("final") or {}
    if "val_rmse" in final:
        return "regression"
    if "val_accuracy" in final:
        return "classification"
    return dataset_task(config)


def recorded_task() -> Case:
    """task_of's first half, by the database: "regression" or "classification" from the summary's final
    metrics, "" when it has neither (then dataset_task decides). Spares reading and decoding the summary."""
    return Case(
        When(summary__final__has_key="val_rmse", then=Value("regression")),
        When(summary__final__has_key="val_accuracy", then=Value("classification")),
        default=Value(""),
        output_field=CharField(),
    )


def dataset_task(config: dict | None) -> str:
    """The task a config's dataset implies (its explicit task, else the bundled set's, else classification)."""
    dataset = (config or {}).get("dataset") or {}
    return dataset.get("task") or DATASETS.get(dataset.get("name"), ("classification", None))[0]


def run_task(run: Run) -> str:
    return task_of(run.config, run.summary)


def loss_kind(config: dict) -> str:
    """The training loss as a scale: label smoothing or focal's γ change the scale too."""
    loss = config.get("loss") or {}
    name = loss.get("name", "?")
    if name == "cross_entropy" and loss.get("label_smoothing"):
        return f"cross_entropy (label smoothing {loss['label_smoothing']:g})"
    if name == "focal":
        return f"focal (γ={loss.get('focal_gamma', 2.0):g})"
    if name == "huber":
        return f"huber (δ={loss.get('huber_delta', 1.0):g})"
    return name


def loss_awareness(runs: list[Run]) -> dict[str, Any]:
    """Whether the runs' losses share a scale, and the shared metric to show when they do not."""
    losses = sorted({loss_kind(r.config) for r in runs})
    tasks = sorted({run_task(r) for r in runs})
    shared = SHARED_METRICS[tasks[0]] if len(tasks) == 1 else []
    mixed = len(losses) > 1
    return {
        "losses": losses,
        "tasks": tasks,
        "mixed_losses": mixed,
        "mixed_tasks": len(tasks) > 1,
        "shared_metrics": shared,
        "default_keys": [shared[0]] if mixed and shared else ["train_loss", "val_loss"],
    }


def _kind(values: list) -> str:
    present = [v for v in values if v is not MISSING and v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    if present and all(isinstance(v, list) for v in present):
        return "list"
    return "text"


def config_diff(configs: list[dict], *, ignore: Iterable[str] = ("device",)) -> list[dict]:
    """Fields whose values differ between configs: [{field, kind, values (one per config)}]; identical ones hidden.

    The same rows as diffing the flattened configs field by field, but a section equal in every
    config (most of them, in a sweep) is dismissed by one comparison of whole dicts and never
    flattened: the leaderboard diffs the configs of thousands of groups.
    """
    rows: list[dict] = []
    _diff_into(rows, [c or {} for c in configs], "", frozenset(ignore))
    return sorted(rows, key=lambda row: row["field"])


def _diff_into(rows: list[dict], dicts: list[dict], prefix: str, ignore: frozenset) -> None:
    keys = dict.fromkeys(k for d in dicts for k in d)
    for key in keys:
        values = [d.get(key, MISSING) for d in dicts]
        if values.count(values[0]) == len(values):
            continue  # equal everywhere, nested fields too
        field = f"{prefix}{key}"
        # A key holds a value in some configs and a section in others: the value is field `key`
        # (missing where a section is), the section's fields are `key.*` (missing where a value is).
        plain = [MISSING if isinstance(v, dict) else v for v in values]
        if field not in ignore and any(v is not MISSING for v in plain) and plain.count(plain[0]) != len(plain):
            rows.append({"field": field, "kind": _kind(plain), "values": plain})
        sections = [v if isinstance(v, dict) else {} for v in values]
        if any(sections):
            _diff_into(rows, sections, f"{field}.", ignore)


def available_keys(run_ids: list[int]) -> list[str]:
    """Every metric key any of the runs recorded, without reading a point."""
    keys = MetricChunk.objects.filter(run_id__in=run_ids).values_list("key", flat=True).distinct()
    return sorted(set(keys))


def round_sig(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to `digits` significant digits (what a chart can show): the JSON stays small and quick to write.

    Non-finite values stay NaN (sent as null).
    """
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v) & (v != 0)
    exp = np.zeros(len(v))
    exp[finite] = digits - 1 - np.floor(np.log10(np.abs(v[finite])))
    up = exp >= 0
    scale_up, scale_down = 10.0 ** np.where(up, exp, 0), 10.0 ** np.where(up, 0, -exp)
    # Integer / power of ten is correctly rounded, so the float prints as the short decimal.
    return np.where(up, np.round(v * scale_up) / scale_up, np.round(v / scale_down) * scale_down)


def _epoch_x(steps: np.ndarray, epoch: metric_store.Series | None) -> np.ndarray | None:
    """Fractional epoch of each step: epoch-level keys sit at the step that ended their epoch."""
    if epoch is None or not len(epoch):
        return None
    ends = np.concatenate([[0], epoch.steps]).astype(float)
    numbers = np.concatenate([[0], epoch.values])
    x = np.interp(steps, ends, numbers)
    # A running run's steps past its last finished epoch: continue at the last epoch's pace.
    last_len = ends[-1] - ends[-2] if len(ends) > 2 else max(ends[-1], 1.0)
    beyond = steps > ends[-1]
    x[beyond] = numbers[-1] + (steps[beyond] - ends[-1]) / max(last_len, 1.0)
    return x


def _x_values(s: metric_store.Series, run_series: dict, x: str, t0: float) -> tuple[np.ndarray, int]:
    if x == "step":
        return s.steps, 0
    if x == "time":
        return s.times - t0, 2
    return _epoch_x(s.steps, run_series.get("epoch")), 4


def compare_series(
    run_ids: list[int], *, keys: list[str], x: str = "step", max_points: int = DEFAULT_MAX_POINTS
) -> dict[int, dict[str, dict]]:
    """{run id: {key: {"x": array, "y": array}}} for every run and key that has points, downsampled.

    Arrays stay numpy (NaN marks a non-finite value): `encode` writes them straight to JSON.
    """
    need = set(keys) | ({"epoch"} if x == "epoch" else set())
    data = metric_store.read_series(run_ids, keys=sorted(need), with_times=x == "time")
    out: dict[int, dict[str, dict]] = {}
    for run_id in run_ids:
        series = data.get(run_id, {})
        present = [series[k] for k in keys if k in series and len(series[k])]
        t0 = min((float(s.times[0]) for s in present), default=0.0)
        out[run_id] = {}
        for key in keys:
            s = series.get(key)
            if s is None or not len(s):
                continue
            xs, decimals = _x_values(s, series, x, t0)
            if xs is None:
                continue
            xd, yd = minmax_downsample(xs, s.values, max_points)
            xd = np.ascontiguousarray(xd if decimals == 0 else np.round(xd, decimals))
            out[run_id][key] = {"x": xd, "y": round_sig(yd)}
    return out


def encode(data: dict[str, Any]) -> bytes:
    """JSON with numpy arrays written natively and NaN as null: a third of the server time otherwise."""
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def run_brief(run: Run, diff_fields: list[str]) -> dict[str, Any]:
    """What the page needs about a run: hover text and the parallel-coordinates row."""
    flat = flatten_config(run.config or {})
    best = (run.summary or {}).get("best") or {}
    final = (run.summary or {}).get("final") or {}
    pick = lambda d: {k: d[k] for k in SUMMARY_KEYS if isinstance(d.get(k), (int, float))}
    return {
        "id": run.pk,
        "name": run.name,
        "status": run.status,
        "verdict": run.verdict,
        "seed": run.seed,
        "loss": loss_kind(run.config or {}),
        "config": {f: flat.get(f, MISSING) for f in diff_fields},
        "best": pick(best),
        "final": pick(final),
    }


def comparison_get(
    *,
    experiment: Experiment,
    run_ids: list[int],
    keys: list[str] | None = None,
    x: str = "step",
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict[str, Any]:
    """Everything the compare page (and `GET /api/experiments/{id}/compare`) shows for the chosen runs."""
    if x not in X_AXES:
        raise Refused(f"x must be one of {', '.join(X_AXES)}.", field="x", code=ErrorCode.MALFORMED)
    if not 4 <= max_points <= MAX_POINTS:
        raise Refused(f"max_points must be between 4 and {MAX_POINTS}.", field="max_points", code=ErrorCode.MALFORMED)
    runs, invalid = runs_with_valid_config(compare_runs(experiment=experiment, run_ids=run_ids))
    run_ids = [r.pk for r in runs]
    aware = loss_awareness(runs) if runs else {"default_keys": ["train_loss", "val_loss"], "mixed_losses": False}
    keys = keys or aware["default_keys"]
    diff = config_diff([r.config for r in runs])
    fields = [row["field"] for row in diff]
    return {
        "experiment": experiment.pk,
        "x": x,
        "keys": keys,
        "max_points": max_points,
        "available_keys": available_keys(run_ids) if runs else [],
        **{k: v for k, v in aware.items() if k != "default_keys"},
        "default_keys": aware["default_keys"],
        "higher_is_better": sorted(HIGHER_IS_BETTER),
        "config_diff": diff,
        "invalid_config_runs": invalid,  # chosen, but left out: their stored config no longer parses
        "runs": [run_brief(r, fields) for r in runs],
        "series": {str(k): v for k, v in compare_series(run_ids, keys=keys, x=x, max_points=max_points).items()},
    }

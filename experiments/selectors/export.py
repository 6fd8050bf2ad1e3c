"""CSV and JSON exports of an experiment's runs and of a run's metric history.

CSV cells that a spreadsheet would run as a formula (starting with = + - @,
or a tab / carriage return) are neutralised with a leading apostrophe, as
OWASP advises; numbers are written as numbers, so a negative R² stays a number.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from typing import Any

from experiments import metric_store
from experiments.analysis.history import json_safe
from experiments.analysis.tables import flatten_config, spreadsheet_safe
from experiments.models import Experiment, Run
from experiments.selectors.configs import config_valid

RUN_FIELDS = ["id", "name", "status", "verdict", "seed", "group_hash", "created", "finished_at", "best_epoch"]


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value if not isinstance(value, float) or math.isfinite(value) else ""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return spreadsheet_safe(text)


def _summary_flat(summary: dict) -> dict[str, Any]:
    out = {}
    for part in ("best", "final"):
        for key, value in ((summary or {}).get(part) or {}).items():
            if isinstance(value, (int, float)):
                out[f"{part}.{key}"] = value
    return out


def run_row(run: Run) -> dict[str, Any]:
    row = {f: getattr(run, f, None) for f in RUN_FIELDS if f != "best_epoch"}
    row["best_epoch"] = (run.summary or {}).get("best_epoch")
    row.update({f"config.{k}": v for k, v in flatten_config(run.config or {}).items()})
    row.update(_summary_flat(run.summary))
    return row


def _runs(experiment: Experiment, skipped: list[int] | None = None) -> Iterable[Run]:
    """The experiment's runs whose stored config still parses; the ids of the others go to `skipped`."""
    fields = ["id", "name", "status", "verdict", "seed", "group_hash", "created", "finished_at", "config", "summary"]
    for run in experiment.runs.order_by("id").only(*fields).iterator(chunk_size=500):
        if config_valid(run.config):
            yield run
        elif skipped is not None:
            skipped.append(run.pk)


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def experiment_runs_csv(experiment: Experiment) -> Iterator[str]:
    """One line per run: its fields, config flattened (config.optimizer.lr...), best/final metrics."""
    rows = [run_row(r) for r in _runs(experiment)]
    columns = list(RUN_FIELDS)
    for row in rows:
        columns += [c for c in row if c not in columns]
    fixed, rest = columns[: len(RUN_FIELDS)], sorted(columns[len(RUN_FIELDS) :])
    columns = fixed + rest
    return _csv_lines([columns] + [[row.get(c) for c in columns] for row in rows])


def experiment_runs_json(experiment: Experiment) -> dict[str, Any]:
    skipped: list[int] = []
    runs = [
        {
            "id": r.pk,
            "name": r.name,
            "status": r.status,
            "verdict": r.verdict,
            "seed": r.seed,
            "group_hash": r.group_hash,
            "created": r.created.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "config": r.config,
            "summary": r.summary,
        }
        for r in _runs(experiment, skipped)
    ]
    experiment_out = {"id": experiment.pk, "name": experiment.name}
    return json_safe({"experiment": experiment_out, "runs": runs, "invalid_config_run_ids": skipped})


def run_history_csv(run: Run) -> Iterator[str]:
    """Every recorded point, long format: key, step, value, time (unix seconds)."""
    series = metric_store.read_series([run.pk]).get(run.pk, {})

    def rows():
        yield ["key", "step", "value", "time"]
        for key in sorted(series):
            s = series[key]
            for step, value, t in zip(s.steps.tolist(), s.values.tolist(), s.times.tolist()):
                yield [key, step, value, t]

    return _csv_lines(rows())


def run_history_json(run: Run) -> dict[str, Any]:
    series = metric_store.read_series([run.pk]).get(run.pk, {})
    return {"run": run.pk, "name": run.name, "series": {k: s.as_dict() for k, s in sorted(series.items())}}

"""Metric series stored as packed arrays, one chunk per (run, key, flush).

A worker flushes buffered points every few seconds and at each epoch's end;
each flush becomes one `MetricChunk` per key. Reads fetch chunks in one query
and decode them with numpy, which is what keeps a 100-run x 10,000-step
comparison inside its time budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from experiments.models import MetricChunk

STEP_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f8")
TIME_DTYPE = np.dtype("<f8")


@dataclass
class Series:
    steps: np.ndarray
    values: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)

    def as_dict(self) -> dict:
        # NaN/inf are not JSON: send them as null, as the API contract says.
        values = [v if np.isfinite(v) else None for v in self.values.tolist()]
        return {"step": self.steps.tolist(), "value": values, "time": self.times.tolist()}


Point = tuple[int, str, float, float]  # (step, key, value, unix time)


def chunks_from_points(run_id: int, points: Iterable[Point]) -> list[MetricChunk]:
    by_key: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for step, key, value, t in points:
        by_key[key].append((step, value, t))
    chunks = []
    for key, rows in by_key.items():
        rows.sort(key=lambda r: r[0])
        arr = np.array(rows, dtype=np.float64)
        steps = arr[:, 0].astype(STEP_DTYPE)
        chunks.append(
            MetricChunk(
                run_id=run_id,
                key=key,
                first_step=int(steps[0]),
                last_step=int(steps[-1]),
                count=len(rows),
                steps=steps.tobytes(),
                values=arr[:, 1].astype(VALUE_DTYPE).tobytes(),
                times=arr[:, 2].astype(TIME_DTYPE).tobytes(),
            )
        )
    return chunks


def write_points(run_id: int, points: list[Point]) -> None:
    """Store points; re-sending the same flush replaces it instead of duplicating it."""
    if not points:
        return
    MetricChunk.objects.bulk_create(
        chunks_from_points(run_id, points),
        update_conflicts=True,
        unique_fields=["run", "key", "first_step"],
        update_fields=["last_step", "count", "steps", "values", "times"],
    )


def truncate_after(run_id: int, step: int) -> None:
    """Drop every point recorded after `step`: a resumed run re-records them."""
    with transaction.atomic():
        MetricChunk.objects.filter(run_id=run_id, first_step__gt=step).delete()
        for chunk in MetricChunk.objects.filter(run_id=run_id, last_step__gt=step):
            s = _decode(chunk)
            keep = s.steps <= step
            chunk.steps = s.steps[keep].tobytes()
            chunk.values = s.values[keep].tobytes()
            chunk.times = s.times[keep].tobytes()
            chunk.count = int(keep.sum())
            chunk.last_step = int(s.steps[keep][-1])
            chunk.save(update_fields=["steps", "values", "times", "count", "last_step"])


def _decode(chunk) -> Series:
    return Series(
        np.frombuffer(bytes(chunk.steps), STEP_DTYPE),
        np.frombuffer(bytes(chunk.values), VALUE_DTYPE),
        np.frombuffer(bytes(chunk.times), TIME_DTYPE),
    )


def _merge(parts: list[Series], *, with_times: bool = True) -> Series:
    """Concatenate chunks in step order; where a step occurs twice, the last write wins."""
    steps = np.concatenate([p.steps for p in parts]) if len(parts) > 1 else parts[0].steps
    values = np.concatenate([p.values for p in parts]) if len(parts) > 1 else parts[0].values
    times = (
        (np.concatenate([p.times for p in parts]) if len(parts) > 1 else parts[0].times)
        if with_times
        else np.broadcast_to(np.nan, len(steps))
    )  # a read-only view: no 80 kB memset per curve
    if len(steps) < 2 or (steps[1:] > steps[:-1]).all():  # the usual case: flushes arrive in order, never overlap
        return Series(steps, values, times)
    order = np.argsort(steps, kind="stable")
    steps, values, times = steps[order], values[order], times[order]
    last = np.ones(len(steps), dtype=bool)
    last[:-1] = steps[1:] != steps[:-1]
    return Series(steps[last], values[last], times[last])


def read_series(
    run_ids: Iterable[int],
    *,
    keys: Iterable[str] | None = None,
    since_step: int | None = None,
    with_times: bool = True,
) -> dict[int, dict[str, Series]]:
    """All series of the given runs (optionally only `keys`, only steps after `since_step`), in one query.

    Rows are read as tuples, not model instances, and decoded without copying:
    this is the hot path of a 100-run comparison. `with_times=False` skips the
    wall-clock array (a third of the bytes) when the caller does not plot by time;
    the returned series then carry NaN times.
    """
    qs = MetricChunk.objects.filter(run_id__in=list(run_ids))
    if keys is not None:
        qs = qs.filter(key__in=list(keys))
    if since_step is not None:
        qs = qs.filter(last_step__gt=since_step)
    fields = ["run_id", "key", "steps", "values"] + (["times"] if with_times else [])
    parts: dict[int, dict[str, list[Series]]] = defaultdict(lambda: defaultdict(list))
    for row in qs.order_by("run_id", "key", "id").values_list(*fields):
        times = np.frombuffer(row[4], TIME_DTYPE) if with_times else None
        parts[row[0]][row[1]].append(
            Series(np.frombuffer(row[2], STEP_DTYPE), np.frombuffer(row[3], VALUE_DTYPE), times)
        )
    result: dict[int, dict[str, Series]] = {}
    for run_id, by_key in parts.items():
        result[run_id] = {}
        for key, chunks in by_key.items():
            s = _merge(chunks, with_times=with_times)
            if since_step is not None:
                keep = s.steps > since_step
                s = Series(s.steps[keep], s.values[keep], s.times[keep])
            result[run_id][key] = s
    return result


def compact(run_id: int) -> int:
    """Rewrite a run's series as one chunk per key; returns the number of chunks removed.

    A worker flushes every few seconds, so a long run leaves thousands of small
    chunks per key, and a comparison would read (and merge) every one of them.
    Called when the run finishes: its history no longer changes, and reads of
    finished runs then cost one row per key.
    """
    series = read_series([run_id]).get(run_id, {})
    with transaction.atomic():
        before = MetricChunk.objects.filter(run_id=run_id).count()
        if before <= len(series):
            return 0
        MetricChunk.objects.filter(run_id=run_id).delete()
        MetricChunk.objects.bulk_create(
            [
                MetricChunk(
                    run_id=run_id,
                    key=key,
                    first_step=int(s.steps[0]),
                    last_step=int(s.steps[-1]),
                    count=len(s),
                    steps=s.steps.astype(STEP_DTYPE).tobytes(),
                    values=s.values.astype(VALUE_DTYPE).tobytes(),
                    times=s.times.astype(TIME_DTYPE).tobytes(),
                )
                for key, s in series.items()
                if len(s)
            ]
        )
    return before - len(series)

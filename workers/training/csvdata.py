"""Uploaded CSV files: inspection for the upload form, validation, and conversion to a numeric table.

Conversion: numeric columns stay (blank/NA cells become NaN for the
imputer), text columns are one-hot encoded, and a class target is label
encoded (sorted distinct values → 0..k-1). The task is inferred from the
target unless chosen: text, or a few distinct integers, means classification.
"""

from __future__ import annotations

import csv
import math
import pathlib
from dataclasses import dataclass
from functools import cached_property
from typing import Optional

import numpy as np

from .config import MAX_SAMPLES, Task

MAX_ROWS = MAX_SAMPLES
MAX_COLUMNS = 500
MAX_FEATURES = 2000  # after one-hot encoding
MAX_CATEGORIES = 100  # distinct values of a text column (or classes of a target)
# An integer target with at most this many distinct values is taken as class labels.
CLASS_LIKE_DISTINCT = 20
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}


@dataclass
class Column:
    name: str
    cells: list[str]

    @cached_property
    def numbers(self) -> Optional[np.ndarray]:
        """The column as floats (NaN for missing or non-finite cells), or None when some cell is text."""
        out = np.empty(len(self.cells))
        for i, cell in enumerate(self.cells):
            if cell.strip().lower() in MISSING:
                out[i] = np.nan
                continue
            try:
                out[i] = float(cell)
            except ValueError:
                return None
        out[~np.isfinite(out)] = np.nan
        return out

    def present(self) -> list[str]:
        return [c.strip() for c in self.cells if c.strip().lower() not in MISSING]


def check_shape(header: list[str], body: list[list[str]]) -> None:
    """The table rules an upload and the engine share: named, unique, bounded columns; no ragged rows.

    Raises ValueError naming the row and column, as the upload form shows it.
    """
    if len(header) < 2:
        raise ValueError("The CSV needs at least two columns (a target and a feature), separated by commas.")
    if len(header) > MAX_COLUMNS:
        raise ValueError(f"Too many columns: {len(header)}; at most {MAX_COLUMNS} are allowed.")
    for i, name in enumerate(header, start=1):
        if not name:
            raise ValueError(f"Row 1, column {i}: the header needs a name for every column.")
        if len(name) > 200:
            raise ValueError(f"Row 1, column {i}: a column name may be at most 200 characters.")
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise ValueError(f"Row 1: column names must be unique; repeated: {', '.join(dupes)}.")
    if not body:
        raise ValueError("The CSV has a header but no data rows.")
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"Row {r}: {len(row)} cells, but the header has {len(header)} columns.")


def read_columns(path: pathlib.Path) -> list[Column]:
    """Parse the file into columns, refusing what cannot be a table of bounded size."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"upload: cannot read the CSV file ({exc})") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise ValueError("upload: the CSV needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    check_shape(header, body)
    if len(body) > MAX_ROWS:
        raise ValueError(f"Too many rows: {len(body):,}; at most {MAX_ROWS:,} data rows are allowed.")
    return [Column(name, [row[i] for row in body]) for i, name in enumerate(header)]


def infer_task(column: Column) -> Optional[Task]:
    """classification for text or a few distinct integers, regression for other numbers; None if unusable."""
    values = column.present()
    distinct = set(values)
    if len(distinct) < 2:
        return None
    nums = column.numbers
    if nums is None:
        return "classification"
    finite = nums[~np.isnan(nums)]
    if np.all(finite == np.round(finite)) and len(distinct) <= CLASS_LIKE_DISTINCT:
        return "classification"
    return "regression"


def inspect_csv(path: pathlib.Path) -> dict:
    """What the upload form shows: row count, and per column its kind, gaps and the task it would pose as target."""
    columns = read_columns(pathlib.Path(path))
    info = []
    for col in columns:
        present = col.present()
        info.append(
            {
                "name": col.name,
                "kind": "numeric" if col.numbers is not None else "categorical",
                "missing": len(col.cells) - len(present),
                "distinct": len(set(present)),
                "task": infer_task(col),
            }
        )
    return {"rows": len(columns[0].cells), "columns": info}


def _encode_target(col: Column, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """(target values, mask of rows that have one)."""
    keep = np.array([c.strip().lower() not in MISSING for c in col.cells])
    if task == "regression":
        nums = col.numbers
        if nums is None:
            raise ValueError(f"target: column '{col.name}' holds text, so it cannot be a regression target")
        return nums[keep], keep
    values = [c.strip() for c, k in zip(col.cells, keep) if k]
    nums = col.numbers
    # Numeric labels sort as numbers (2 before 10); text labels alphabetically.
    classes = sorted(set(values), key=(float if nums is not None else str))
    if len(classes) > MAX_CATEGORIES:
        raise ValueError(f"target: column '{col.name}' has {len(classes)} classes; at most {MAX_CATEGORIES}")
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[v] for v in values], dtype=np.int64), keep


def _encode_feature(col: Column, one_hot: bool) -> np.ndarray:
    nums = col.numbers
    if nums is not None:
        return nums[:, None]
    if not one_hot:
        raise ValueError(f"dataset.preprocessing.one_hot: column '{col.name}' holds text; turn one-hot on or drop it")
    categories = sorted(set(col.present()))
    if len(categories) > MAX_CATEGORIES:
        raise ValueError(
            f"upload: column '{col.name}' has {len(categories)} distinct text values; "
            f"at most {MAX_CATEGORIES} can be one-hot encoded (drop the column or make it numeric)"
        )
    cells = [c.strip() for c in col.cells]
    # A missing cell gets all zeros rather than a category of its own.
    return np.array([[float(c == cat) for cat in categories] for c in cells])


def _convert(columns: list[Column], target: str, task: Optional[Task], one_hot: bool):
    by_name = {c.name: c for c in columns}
    if target not in by_name:
        raise ValueError(f"target: no column named '{target}' (columns: {', '.join(by_name)})")
    tcol = by_name[target]
    inferred = infer_task(tcol)
    if inferred is None:
        raise ValueError(f"target: column '{target}' is constant or empty; there is nothing to predict")
    task = task or inferred
    y, keep = _encode_target(tcol, task)
    features = [c for c in columns if c.name != target]
    if not features:
        raise ValueError("upload: the CSV has no feature columns besides the target")
    X = np.hstack([_encode_feature(c, one_hot) for c in features])[keep]
    if X.shape[1] > MAX_FEATURES:
        raise ValueError(f"upload: {X.shape[1]} features after one-hot encoding; at most {MAX_FEATURES}")
    if task == "classification" and len(np.unique(y)) < 2:
        raise ValueError(f"target: column '{target}' has a single class")
    return X, y, task


def read_csv_table(path: pathlib.Path, target: str, task: Optional[Task], *, one_hot: bool = True):
    """(X float array with NaN for gaps, y, task) from an uploaded CSV."""
    return _convert(read_columns(pathlib.Path(path)), target, task, one_hot)


def validate_csv(path: pathlib.Path, target: str, task: Optional[Task] = None) -> None:
    """Raise ValueError with a message naming the problem if this CSV cannot train for `target`."""
    X, y, task = read_csv_table(path, target, task)
    if len(y) < 4:
        raise ValueError(f"target: only {len(y)} rows have a value in '{target}'; at least 4 are needed")
    if task == "regression" and not math.isfinite(float(np.std(y))):
        raise ValueError(f"target: column '{target}' holds non-finite numbers")

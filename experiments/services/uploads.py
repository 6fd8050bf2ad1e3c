"""CSV uploads: hostile-input checks, storage outside the web root, and a safe download.

Nothing in an upload is executed or unpickled: the bytes are decoded as UTF-8
text, parsed with the csv module, checked cell by cell, and written back as
plain comma-separated CSV (whatever the delimiter was), which is what the
training engine reads. Problems are reported by row and column, and a refused
file leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import math
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from experiments.analysis.tables import spreadsheet_safe
from experiments.errors import ErrorCode, Refused, error_location
from experiments.models import Membership, Team, Upload
from workers.training import csvdata
from workers.training.csvdata import MISSING, inspect_csv, validate_csv

MAX_CELL_CHARS = 1000


def _refuse(message: str) -> Refused:
    return Refused(message, field="file")


def _decode(raw: bytes) -> str:
    if not raw.strip():
        raise _refuse("The file is empty.")
    if b"\x00" in raw:
        raise _refuse("This is a binary file, not CSV text (it contains NUL bytes).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _refuse(f"The file is not UTF-8 text: undecodable byte at line {line}. Save it as UTF-8 CSV.") from None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[: 64 * 1024], delimiters=",;\t|")
    except csv.Error:
        return csv.excel  # one column, or too irregular to guess: plain commas, and the checks below explain


def _parse(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text), strict=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > csvdata.MAX_ROWS + 1:
                raise _refuse(f"Too many rows: at most {csvdata.MAX_ROWS:,} data rows are allowed.")
    except csv.Error as exc:
        raise _refuse(f"Row {reader.line_num}: the CSV cannot be parsed ({exc}).") from None
    return rows


def _check_cell(cell: str, row: int, column: str) -> None:
    if len(cell) > MAX_CELL_CHARS:
        raise _refuse(f"Row {row}, column '{column}': a cell may hold at most {MAX_CELL_CHARS} characters.")
    try:
        value = float(cell)
    except ValueError:
        return  # text: kept as a category (and neutralised on download)
    if not math.isfinite(value) and cell.strip().lower() not in MISSING:
        raise _refuse(
            f"Row {row}, column '{column}': {cell.strip()[:40]!r} is not a finite number. "
            "Leave the cell empty (or write NA) for a missing value."
        )


def _check_rows(names: list[str], body: list[list[str]]) -> None:
    try:
        csvdata.check_shape(names, body)
    except ValueError as exc:
        raise _refuse(str(exc)) from None
    for r, row in enumerate(body, start=2):
        for cell, name in zip(row, names):
            _check_cell(cell, r, name)
    for i, name in enumerate(names):
        if all(row[i].strip().lower() in MISSING for row in body):
            raise _refuse(f"Column '{name}' has no values (every cell is empty or NaN).")


def _display_name(name: str | None) -> str:
    base = os.path.basename((name or "upload.csv").replace("\\", "/"))
    clean = "".join(ch for ch in base if ch.isprintable())[:200]
    return clean or "upload.csv"


def _read_limited(file: UploadedFile) -> bytes:
    limit = settings.UPLOAD_MAX_BYTES
    if file.size is not None and file.size > limit:
        raise _refuse(f"The file is {filesizeformat(file.size)}; at most {filesizeformat(limit)} is allowed.")
    raw = file.read(limit + 1)  # never trust the declared size
    if len(raw) > limit:
        raise _refuse(f"The file is larger than {filesizeformat(limit)}, the most allowed.")
    return raw


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def upload_create(*, team: Team, user: AbstractBaseUser, file: UploadedFile) -> Upload:
    """Check an uploaded CSV and store it for `team`; raises Refused(field="file") naming the problem."""
    if not Membership.objects.filter(team=team, user=user).exists():
        raise Refused("No such team.", field="team", code=ErrorCode.NOT_FOUND)
    name = _display_name(file.name)
    if not name.lower().endswith((".csv", ".txt", ".tsv")):
        raise _refuse("Choose a .csv file (comma, semicolon or tab separated text).")
    rows = _parse(_decode(_read_limited(file)))
    if not rows:
        raise _refuse("The file is empty.")
    names = [h.strip() for h in rows[0]]
    _check_rows(names, rows[1:])
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = settings.UPLOAD_DIR / f"incoming-{uuid.uuid4().hex}.csv"
    try:
        _write_rows(tmp, [names, *rows[1:]])
        try:
            info = inspect_csv(tmp)
        except ValueError as exc:
            raise _refuse(str(exc).removeprefix("upload: ")) from None
        with transaction.atomic():
            upload = Upload.objects.create(
                team=team,
                uploaded_by=user,
                original_name=name,
                size_bytes=tmp.stat().st_size,
                rows=info["rows"],
                columns=info["columns"],
            )
            os.replace(tmp, upload.path)
    finally:
        tmp.unlink(missing_ok=True)
    return upload


def upload_export(upload: Upload) -> str:
    """The stored CSV as text for download, with formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    with open(upload.path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            writer.writerow([spreadsheet_safe(c) for c in row])
    return out.getvalue()


def upload_check_for_run(*, team_id: int, upload_id: int | None, target: str | None, task: str | None) -> Upload:
    """The team's upload, checked to train for `target`; another team's upload is simply not found."""
    upload = Upload.objects.filter(pk=upload_id, team_id=team_id).first() if upload_id else None
    if upload is None or not upload.path.exists():
        raise Refused("No such upload in this team.", field="dataset.upload", code=ErrorCode.NOT_FOUND)
    if target not in upload.column_names:
        raise Refused(
            f"No column named '{target}' in {upload.original_name}; choose one of: {', '.join(upload.column_names)}.",
            field="dataset.target",
        )
    try:
        validate_csv(upload.path, target, task)
    except ValueError as exc:
        parts, msg = error_location([], str(exc))
        field = {"target": "dataset.target", "upload": "dataset.upload"}.get(
            ".".join(parts), ".".join(parts) or "dataset.upload"
        )
        raise Refused(msg, field=field) from None
    return upload

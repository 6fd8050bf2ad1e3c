"""Uploads (a table CSV, an image ZIP, a text CSV): hostile-input checks, storage outside the web root,
and a safe download.

Nothing in an upload is executed or unpickled: the bytes are decoded as UTF-8
text, parsed with the csv module, checked cell by cell, and written back as
plain comma-separated CSV (whatever the delimiter was), which is what the
training engine reads. Problems are reported by row and column, and a refused
file leaves nothing behind.

An image ZIP is decoded here, once (never extracted to disk: `images_from_zip`), resized
and stored as one uint8 array (`save_image_set`, UPLOAD_DIR/<id>.npz); a text CSV is
checked with the reader the engine uses and stored as UTF-8 CSV. Their refusals name the
ZIP entry or the column at fault.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import uuid
from collections.abc import Iterator
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
from workers.training.config import DatasetConfig
from workers.training.csvdata import MISSING, inspect_csv, validate_csv
from workers.training.images import ImageZipError, images_from_zip, save_image_set
from workers.training.text import TextCsvError, read_text_csv

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


def upload_create(
    *,
    team: Team,
    user: AbstractBaseUser,
    file: UploadedFile,
    kind: str = Upload.Kind.TABLE,
    image_size: int = 32,
    text_column: str = "text",
    label_column: str = "label",
) -> Upload:
    """Check an upload and store it for `team`; raises Refused naming the problem (field "file", or the
    form field it is about: "image_size", "text_column", "label_column").

    kind "table": a CSV of columns; "images": a ZIP of class folders of PNG/JPEG, resized to image_size²;
    "text": a CSV with a text column and a label column.
    """
    if not Membership.objects.filter(team=team, user=user).exists():
        raise Refused("No such team.", field="team", code=ErrorCode.NOT_FOUND)
    name = _display_name(file.name)
    if kind == Upload.Kind.IMAGES:
        return _create_images(team, user, name, file, image_size)
    if kind == Upload.Kind.TEXT:
        return _create_text(team, user, name, file, text_column.strip(), label_column.strip())
    if kind != Upload.Kind.TABLE:
        raise Refused(f"Unknown kind of upload {kind!r}: choose table, images or text.", field="kind")
    if not name.lower().endswith((".csv", ".txt", ".tsv")):
        raise _refuse("Choose a .csv file (comma, semicolon or tab separated text).")
    rows = _parse(_decode(_read_limited(file)))
    if not rows:
        raise _refuse("The file is empty.")
    names = [h.strip() for h in rows[0]]
    _check_rows(names, rows[1:])
    with _incoming(".csv") as tmp:
        _write_rows(tmp, [names, *rows[1:]])
        try:
            info = inspect_csv(tmp)
        except ValueError as exc:
            raise _refuse(str(exc).removeprefix("upload: ")) from None
        return _keep(tmp, team=team, uploaded_by=user, original_name=name, rows=info["rows"], columns=info["columns"])


@contextlib.contextmanager
def _incoming(suffix: str) -> Iterator[Path]:
    """A temp file in the upload folder for a file being checked; gone afterwards unless _keep renamed it."""
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = settings.UPLOAD_DIR / f"incoming-{uuid.uuid4().hex}{suffix}"
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _keep(tmp: Path, **fields) -> Upload:
    """The row and its file together: the checked temp file is renamed to the upload's path in the transaction."""
    with transaction.atomic():
        upload = Upload.objects.create(size_bytes=tmp.stat().st_size, **fields)
        os.replace(tmp, upload.path)
    return upload


def _create_images(team: Team, user: AbstractBaseUser, name: str, file: UploadedFile, size: int) -> Upload:
    if not name.lower().endswith(".zip"):
        raise _refuse("Choose a .zip file: one folder per class, PNG or JPEG images inside.")
    raw = _read_limited(file)
    try:
        image_set = images_from_zip(io.BytesIO(raw), size=size)
    except ImageZipError as exc:
        msg = str(exc)
        raise Refused(msg, field="image_size" if msg.startswith("size:") else "file") from None
    counts = [int((image_set.y == i).sum()) for i in range(len(image_set.classes))]
    columns = [{"name": c, "kind": "class", "distinct": n} for c, n in zip(image_set.classes, counts)]
    with _incoming(".npz") as tmp:
        save_image_set(image_set, tmp)
        upload = _keep(
            tmp,
            team=team,
            uploaded_by=user,
            original_name=name,
            rows=len(image_set.y),
            columns=columns,
            kind=Upload.Kind.IMAGES,
        )
    c, side = image_set.x.shape[1], image_set.x.shape[2]
    upload.notes = [f"{len(image_set.y)} images of {side}×{side}, {'grey' if c == 1 else 'RGB'}", *image_set.notes]
    return upload


def _text_refusal(exc: TextCsvError, text_column: str, label_column: str) -> Refused:
    """A TextCsvError names its column first ("text_column: …", "target: …" or the column's own name)."""
    msg = str(exc)
    head = msg.split(":", 1)[0]
    if head in ("text_column", text_column):
        return Refused(msg.removeprefix("text_column: "), field="text_column")
    if head in ("target", label_column):
        return Refused(msg.removeprefix("target: "), field="label_column")
    return _refuse(msg)


def _create_text(
    team: Team, user: AbstractBaseUser, name: str, file: UploadedFile, text_column: str, label_column: str
) -> Upload:
    if not name.lower().endswith((".csv", ".txt")):
        raise _refuse("Choose a .csv file with a header row, a text column and a label column.")
    for field, column in (("text_column", text_column), ("label_column", label_column)):
        if not column:
            raise Refused("Name the column (its header in the CSV).", field=field)
    text = _decode(_read_limited(file))
    try:
        table = read_text_csv(io.StringIO(text, newline=""), text_column=text_column, label_column=label_column)
    except TextCsvError as exc:
        raise _text_refusal(exc, text_column, label_column) from None
    columns = [
        {"name": text_column, "kind": "text"},
        {"name": label_column, "kind": "label", "distinct": len(table.classes), "task": "classification"},
    ]
    with _incoming(".csv") as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
        return _keep(
            tmp,
            team=team,
            uploaded_by=user,
            original_name=name,
            rows=len(table.labels),
            columns=columns,
            kind=Upload.Kind.TEXT,
        )


def upload_export(upload: Upload) -> str:
    """The stored CSV as text for download, with formula-like cells neutralised."""
    if upload.kind == Upload.Kind.IMAGES:
        raise FileNotFoundError("an image ZIP is stored decoded, as one array: there is no CSV to download")
    out = io.StringIO()
    writer = csv.writer(out)
    with open(upload.path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            writer.writerow([spreadsheet_safe(c) for c in row])
    return out.getvalue()


def _team_upload(team_id: int, upload_id: int | None, kind: str) -> Upload:
    upload = Upload.objects.filter(pk=upload_id, team_id=team_id).first() if upload_id else None
    if upload is None or not upload.path.exists():
        raise Refused("No such upload in this team.", field="dataset.upload", code=ErrorCode.NOT_FOUND)
    if upload.kind != kind:
        wanted = {Upload.Kind.TABLE: "csv", Upload.Kind.IMAGES: "images", Upload.Kind.TEXT: "text"}[upload.kind]
        raise Refused(
            f"{upload.original_name} is a {upload.get_kind_display()}: train on it with dataset '{wanted}'.",
            field="dataset.upload",
        )
    return upload


def upload_check_media(*, team_id: int, dataset: DatasetConfig) -> Upload:
    """The team's image ZIP (dataset 'images') or text CSV (dataset 'text'), with the columns the config names."""
    kind = Upload.Kind.IMAGES if dataset.name == "images" else Upload.Kind.TEXT
    upload = _team_upload(team_id, dataset.upload, kind)
    if kind == Upload.Kind.TEXT:
        text_column, label_column = upload.column_names
        for field, given, stored in (
            ("text_column", dataset.text_column, text_column),
            ("target", dataset.target, label_column),
        ):
            if given != stored:
                raise Refused(
                    f"{upload.original_name} was uploaded with text column '{text_column}' and label column "
                    f"'{label_column}'; '{given}' is not its {'text' if field == 'text_column' else 'label'} column.",
                    field=f"dataset.{field}",
                )
    return upload


def upload_check_for_run(*, team_id: int, upload_id: int | None, target: str | None, task: str | None) -> Upload:
    """The team's upload, checked to train for `target`; another team's upload is simply not found."""
    upload = _team_upload(team_id, upload_id, Upload.Kind.TABLE)
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

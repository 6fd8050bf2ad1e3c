"""CSV uploads: hostile files get clear errors and leave nothing behind; good ones are stored for the engine."""

from __future__ import annotations

import csv
import io

import pytest

from experiments.models import Upload
from tests.teams.conftest import IRIS_CSV, csv_file


def post_upload(client, content, name="data.csv"):
    return client.post("/uploads/", {"file": csv_file(content, name)})


def error_of(response) -> str:
    assert response.status_code == 400, response.status_code
    return response.context["form"].errors["file"][0]


def assert_nothing_stored(upload_dir):
    assert Upload.objects.count() == 0
    assert not upload_dir.exists() or not list(upload_dir.iterdir())


@pytest.mark.parametrize(
    "content, name, expected",
    [
        (b"", "empty.csv", "empty"),
        (b"\n\n  \n", "blank.csv", "empty"),
        (b"a,b\n", "header-only.csv", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.csv", "binary"),
        (b"a,b\n\xff\xfe,1\n", "latin.csv", "not UTF-8 text: undecodable byte at line 2"),
        (b"a,b\n1,2\n3\n", "ragged.csv", "Row 3: 1 cells, but the header has 2 columns"),
        (b'a,b\n1,"unclosed\n', "quote.csv", "Row "),
        (b"only\n1\n2\n", "one-column.csv", "at least two columns"),
        (b"a,a\n1,2\n", "dupes.csv", "repeated: a"),
        (b"a,\n1,2\n", "unnamed.csv", "column 2: the header needs a name"),
        (b"a,b\n1,1e999\n2,3\n", "huge.csv", "Row 2, column 'b': '1e999' is not a finite number"),
        (b"a,b\n1,inf\n2,3\n", "inf.csv", "'inf' is not a finite number"),
        (b"a,b\n1,NaN\n2,nan\n", "all-nan.csv", "Column 'b' has no values"),
        (b"a,b\n1," + b"x" * 1001 + b"\n", "long-cell.csv", "at most 1000 characters"),
        (b"a,b\n1,2\n", "model.pkl", "Choose a .csv file"),
    ],
)
def test_it_refuses_bad_files_clearly_and_stores_nothing(alice_client, upload_dir, content, name, expected):
    message = error_of(post_upload(alice_client, content, name))
    assert expected in message
    assert_nothing_stored(upload_dir)


def test_it_refuses_an_oversized_file_before_parsing_it(alice_client, upload_dir, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    big = b"a,b\n" + b"1,2\n" * 400
    assert error_of(post_upload(alice_client, big)) == "The file is 1.6\xa0KB; at most 1.0\xa0KB is allowed."
    assert_nothing_stored(upload_dir)


def test_it_refuses_too_many_rows_and_columns(alice_client, upload_dir, monkeypatch):
    from workers.training import csvdata  # the table rules' one home, shared with the engine

    monkeypatch.setattr(csvdata, "MAX_ROWS", 5)
    monkeypatch.setattr(csvdata, "MAX_COLUMNS", 3)
    assert "at most 5 data rows" in error_of(post_upload(alice_client, "a,b\n" + "1,2\n" * 10))
    assert "Too many columns: 4; at most 3" in error_of(post_upload(alice_client, "a,b,c,d\n1,2,3,4\n"))
    assert_nothing_stored(upload_dir)


def test_it_stores_a_good_csv_for_the_engine_and_lists_its_columns(alice_client, upload_dir):
    r = post_upload(alice_client, IRIS_CSV, "iris small.csv")
    assert r.status_code == 302
    upload = Upload.objects.get()
    assert upload.path.parent == upload_dir and upload.path.exists()
    assert upload.rows == 30 and upload.column_names == ["sepal", "petal", "species"]
    species = upload.columns[2]
    assert species["kind"] == "categorical" and species["task"] == "classification"
    page = alice_client.get("/uploads/").content.decode()
    assert "iris small.csv" in page and "species" in page and "30" in page


def test_semicolons_and_a_bom_are_normalised_to_plain_csv(alice_client, upload_dir):
    r = post_upload(alice_client, "\ufeffx;y;label\n1,5;2;a\n3;4;b\n5;6;a\n".encode())
    assert r.status_code == 302
    stored = Upload.objects.get().path.read_text()
    assert stored.splitlines()[0] == "x,y,label" and stored.splitlines()[1] == '"1,5",2,a'


def test_formula_like_text_is_kept_as_data_but_neutralised_on_download(alice_client, upload_dir):
    content = "x,note\n1,=cmd|' /C calc'!A0\n-2.5,=1+2\n3,@SUM(A1)\n4,+77-1\n5,-x\n"
    assert post_upload(alice_client, content).status_code == 302
    upload = Upload.objects.get()
    assert "=cmd|' /C calc'!A0" in upload.path.read_text()  # the engine sees the data unchanged
    r = alice_client.get(f"/uploads/{upload.pk}/download/")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert r["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    notes = [row[1] for row in rows[1:]]
    assert notes == ["'=cmd|' /C calc'!A0", "'=1+2", "'@SUM(A1)", "'+77-1", "'-x"]
    assert [row[0] for row in rows[1:]] == ["1", "-2.5", "3", "4", "5"]  # negative numbers stay numbers


def test_a_hostile_file_name_is_made_harmless(alice_client, upload_dir):
    r = post_upload(alice_client, IRIS_CSV, name="../../<script>alert(1)</script>.csv")
    assert r.status_code == 302
    upload = Upload.objects.get()
    assert "/" not in upload.original_name and upload.path.parent == upload_dir
    page = alice_client.get("/uploads/").content.decode()
    assert "<script>alert(1)" not in page


def test_nan_strings_count_as_missing_values(alice_client, upload_dir):
    assert post_upload(alice_client, "a,b\n1,NaN\n2,3\n3,NA\n4,5\n").status_code == 302
    b = Upload.objects.get().columns[1]
    assert b["kind"] == "numeric" and b["missing"] == 2


def test_the_upload_page_needs_a_file(alice_client, upload_dir):
    r = alice_client.post("/uploads/", {})
    assert r.status_code == 400 and r.context["form"].errors["file"]


def test_the_download_of_a_lost_file_is_a_404(alice_client, upload_dir):
    post_upload(alice_client, IRIS_CSV)
    upload = Upload.objects.get()
    upload.path.unlink()
    assert alice_client.get(f"/uploads/{upload.pk}/download/").status_code == 404


def test_an_upload_gets_a_random_file_name_so_an_old_file_with_its_id_is_never_taken_for_it(alice_client, upload_dir):
    # As after a database reset: files of the old database are still there, named by the ids they had.
    upload_dir.mkdir(parents=True)
    (upload_dir / "1.csv").write_text("stale,old\n1,2\n")
    assert post_upload(alice_client, IRIS_CSV).status_code == 302
    upload = Upload.objects.get()
    assert upload.path.name not in ("1.csv", f"{upload.pk}.csv") and len(upload.stored_name) == 32
    assert upload.path.read_text().startswith("sepal,petal,species")
    assert (upload_dir / "1.csv").read_text().startswith("stale")

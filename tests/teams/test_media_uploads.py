"""Image ZIP and text CSV uploads: stored decoded for the engine, refusals name the entry or the column,
nothing is kept from a refused file, and a run must use an upload of the matching kind."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from experiments.errors import Refused
from experiments.models import Upload
from tests.browser.test_media_uploads import write_pets_zip, write_reviews_csv
from tests.queue.conftest import launch
from tests.teams.test_uploads import assert_nothing_stored
from workers.training.images import load_image_set


def post(client, path, kind: str, **fields):
    file = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post("/uploads/", {"kind": kind, "file": file, **fields})


def errors(response) -> dict:
    assert response.status_code == 400, response.status_code
    return {k: " ".join(v) for k, v in response.context["form"].errors.items()}


def test_an_image_zip_is_resized_and_stored_as_one_uint8_array(alice_client, upload_dir, tmp_path):
    write_pets_zip(tmp_path / "pets.zip", per_class=5)
    r = post(alice_client, tmp_path / "pets.zip", "images", image_size=12)
    assert r.status_code == 302
    upload = Upload.objects.get()
    assert upload.kind == "images" and upload.rows == 10 and upload.column_names == ["bright", "dark"]
    stored = load_image_set(upload.path)
    assert stored.x.shape == (10, 3, 12, 12) and stored.x.dtype == np.uint8
    assert stored.classes == ["bright", "dark"] and sorted(stored.y.tolist()) == [0] * 5 + [1] * 5
    assert sorted(p.name for p in upload_dir.iterdir()) == [upload.path.name]  # no temp file left
    page = alice_client.get("/uploads/").content.decode()
    assert "image ZIP" in page and f"/uploads/{upload.pk}/download/" not in page  # no CSV to download


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), 128).save(buf, format="PNG")
    return buf.getvalue()


PNG = _png()


def zip_of(entries: dict[str, bytes], path):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "entries, expected",
    [
        ({"a/1.png": b"not a png", "b/1.png": b"x"}, "a/1.png"),
        ({"../evil/1.png": b"x", "b/1.png": b"x"}, "../evil/1.png: path leaves the archive"),
        ({"only/1.txt": b"x"}, "only/1.txt: not a PNG or JPEG"),
        ({"one/1.png": PNG}, "1 class folder(s) with images; at least 2 are needed"),
    ],
)
def test_a_refused_image_zip_names_the_entry_and_leaves_nothing(alice_client, upload_dir, tmp_path, entries, expected):
    r = post(alice_client, zip_of(entries, tmp_path / "bad.zip"), "images", image_size=16)
    assert expected in errors(r)["file"]
    assert_nothing_stored(upload_dir)


def test_an_image_size_out_of_bounds_is_refused_on_its_field(alice_client, upload_dir, tmp_path):
    write_pets_zip(tmp_path / "pets.zip", per_class=2)
    assert (
        "less than or equal to 256"
        in errors(post(alice_client, tmp_path / "pets.zip", "images", image_size=999))["image_size"]
    )
    assert_nothing_stored(upload_dir)


def test_a_text_csv_is_stored_with_its_text_and_label_columns(alice_client, upload_dir, tmp_path):
    write_reviews_csv(tmp_path / "reviews.csv")
    r = post(alice_client, tmp_path / "reviews.csv", "text", text_column="text", label_column="label")
    assert r.status_code == 302
    upload = Upload.objects.get()
    assert upload.kind == "text" and upload.rows == 60 and upload.column_names == ["text", "label"]
    assert (upload.path).read_text() == (tmp_path / "reviews.csv").read_text()


@pytest.mark.parametrize(
    "fields, field, expected",
    [
        ({"text_column": "review", "label_column": "label"}, "text_column", "no column 'review' in the CSV"),
        ({"text_column": "text", "label_column": "stars"}, "label_column", "no column 'stars' in the CSV"),
        ({"text_column": "text", "label_column": "text"}, "text_column", "must differ from the label column"),
    ],
)
def test_a_refused_text_csv_names_the_column_and_leaves_nothing(
    alice_client, upload_dir, tmp_path, fields, field, expected
):
    write_reviews_csv(tmp_path / "reviews.csv")
    assert expected in errors(post(alice_client, tmp_path / "reviews.csv", "text", **fields))[field]
    assert_nothing_stored(upload_dir)


def test_a_text_csv_with_one_class_is_refused_on_the_label_column(alice_client, upload_dir, tmp_path):
    (tmp_path / "one.csv").write_text("text,label\ngood film,pos\nnice one,pos\n")
    r = post(alice_client, tmp_path / "one.csv", "text", text_column="text", label_column="label")
    assert "only one class (pos)" in errors(r)["label_column"]
    assert_nothing_stored(upload_dir)


def test_a_run_must_use_an_upload_of_its_kind(alice_client, experiment, upload_dir, tmp_path):
    write_pets_zip(tmp_path / "pets.zip", per_class=3)
    write_reviews_csv(tmp_path / "reviews.csv")
    post(alice_client, tmp_path / "pets.zip", "images", image_size=8)
    post(alice_client, tmp_path / "reviews.csv", "text", text_column="text", label_column="label")
    images, texts = Upload.objects.get(kind="images"), Upload.objects.get(kind="text")
    text_config = {
        "dataset": {"name": "text", "upload": images.pk, "text_column": "text", "target": "label"},
        "model": {"arch": "lstm", "hidden": [8]},
    }
    with pytest.raises(Refused) as exc:
        launch(experiment, text_config)
    assert exc.value.field == "dataset.upload" and "train on it with dataset 'images'" in exc.value.message
    text_config["dataset"].update(upload=texts.pk, text_column="label", target="text")
    with pytest.raises(Refused) as exc:
        launch(experiment, text_config)
    assert exc.value.field == "dataset.text_column"
    text_config["dataset"].update(text_column="text", target="label")
    assert launch(experiment, text_config).config["dataset"]["upload"] == texts.pk
    image_config = {"dataset": {"name": "images", "upload": images.pk}, "model": {"arch": "cnn", "hidden": [4]}}
    assert launch(experiment, image_config).config["dataset"]["upload"] == images.pk


def test_the_launch_form_lists_image_and_text_uploads_by_kind(alice_client, experiment, upload_dir, tmp_path):
    write_pets_zip(tmp_path / "pets.zip", per_class=3)
    post(alice_client, tmp_path / "pets.zip", "images", image_size=8)
    page = alice_client.get(f"/experiments/{experiment.pk}/runs/new/").content.decode()
    assert "pets.zip (image ZIP, 6 images)" in page

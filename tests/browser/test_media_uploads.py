"""Real Chromium and a real worker: an image ZIP and a text CSV uploaded on the uploads page train to success
with their matching architectures (cnn, lstm), launched from the run form."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from experiments.models import Run, Upload
from tests.browser.test_launch_flow import ARTIFACTS, page  # noqa: F401  (the Playwright page fixture)
from tests.browser.test_team_pages import log_in
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def write_pets_zip(path, per_class: int = 16) -> None:
    """Two class folders of PNGs of different sizes: 'bright' images and 'dark' ones, with noise."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for cls, level in (("bright", 200), ("dark", 40)):
            for i in range(per_class):
                side = 20 + i % 3 * 4
                pixels = np.clip(level + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="PNG")
                zf.writestr(f"pets/{cls}/{i}.png", buf.getvalue())


def write_reviews_csv(path, n: int = 60) -> None:
    rng = np.random.default_rng(1)
    good, bad = ["great", "lovely", "superb", "fun"], ["awful", "boring", "dull", "broken"]
    lines = ["text,label"]
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choice(good if label == "pos" else bad, 4).tolist() + ["the", "film"]
        lines.append(f'"{" ".join(words)}",{label}')
    path.write_text("\n".join(lines) + "\n")


def upload(page, live_server, kind: str, path, **fields) -> str:  # noqa: F811
    page.goto(live_server.url + "/uploads/")
    page.select_option("#id_kind", kind)
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(f"#uploads tr[data-kind={kind}]")
    return page.locator(".messages, .message, body").first.inner_text()


def launch(page, live_server, experiment, **fields) -> Run:  # noqa: F811
    page.goto(live_server.url + f"/experiments/{experiment.pk}/runs/new/")
    for name in ("dataset__name", "dataset__upload", "model__arch"):
        page.select_option(f"#id_{name}", fields.pop(name))
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)
    page.click("text=Launch run")
    page.wait_for_selector("[data-field=status]")
    return Run.objects.latest("id")


def test_an_image_zip_and_a_text_csv_uploaded_in_the_browser_train_with_cnn_and_lstm(
    page,  # noqa: F811
    live_server,
    team_and_user,
    upload_dir,
    start_worker,
    tmp_path,
):
    _, _, experiment = team_and_user
    start_worker("w1", LOSSLAB_UPLOAD_DIR=str(upload_dir), OMP_NUM_THREADS="1")
    write_pets_zip(tmp_path / "pets.zip")
    write_reviews_csv(tmp_path / "reviews.csv")
    log_in(page, live_server)

    body = upload(page, live_server, "images", tmp_path / "pets.zip", image_size="16")
    assert "32 images of 16×16, RGB" in body and "resized to 16×16" in body
    body = upload(page, live_server, "text", tmp_path / "reviews.csv", text_column="text", label_column="label")
    assert "60 texts, 2 classes" in body
    images, texts = Upload.objects.get(kind="images"), Upload.objects.get(kind="text")
    assert images.path.is_file() and texts.path.is_file() and images.path.parent == upload_dir

    image_run = launch(
        page,
        live_server,
        experiment,
        dataset__name="images",
        dataset__upload=str(images.pk),
        model__arch="cnn",
        model__hidden="8,16",
        epochs="3",
        batch_size="8",
    )
    text_run = launch(
        page,
        live_server,
        experiment,
        dataset__name="text",
        dataset__upload=str(texts.pk),
        model__arch="lstm",
        dataset__text_column="text",
        dataset__target="label",
        model__hidden="16",
        epochs="3",
        batch_size="8",
    )
    for run in (image_run, text_run):
        wait_for(lambda r=run: Run.objects.get(pk=r.pk).is_finished, timeout=120, message=f"run {run.pk} to finish")
        run.refresh_from_db()
        assert run.status == "succeeded", run.error
        assert run.epoch == 3 and run.summary["best"]["val_accuracy"] is not None
    assert image_run.config["dataset"]["upload"] == images.pk and image_run.config["model"]["arch"] == "cnn"
    assert text_run.config["dataset"]["upload"] == texts.pk and text_run.config["model"]["arch"] == "lstm"
    page.goto(live_server.url + f"/runs/{text_run.pk}/")
    page.wait_for_selector("#chart-loss .scatterlayer .trace", timeout=30000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "text_upload_run.png"), full_page=True)

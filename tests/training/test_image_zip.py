"""A team's image ZIP: class folders → uint8 N×C×H×W, and every refusal names the entry or the limit."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.training.conftest import make_config
from workers.training.engine import train
from workers.training.images import ImageSet, ImageZipError, ZipLimits, images_from_zip, load_image_set, save_image_set
from workers.training.reporter import NullReporter


def png(size=(8, 8), colour=(200, 10, 10), mode="RGB", fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(buf, fmt)
    return buf.getvalue()


def make_zip(files: dict[str, bytes], *, attrs: dict[str, int] | None = None, compress=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compress
            info.external_attr = (attrs or {}).get(name, stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def cats_and_dogs(**extra) -> dict[str, bytes]:
    files = {f"pets/cat/{i}.png": png(colour=(200, 20, 20)) for i in range(3)}
    files.update({f"pets/dog/{i}.jpg": png(colour=(20, 20, 200), fmt="JPEG") for i in range(2)})
    files.update(extra)
    return files


def test_it_decodes_class_folders_into_a_uint8_batch():
    result = images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), size=8)
    assert result.x.shape == (5, 3, 8, 8) and result.x.dtype == np.uint8
    assert result.classes == ["cat", "dog"] and sorted(result.y.tolist()) == [0, 0, 0, 1, 1]
    cats = result.x[result.y == 0]
    assert (cats[:, 0] > 150).all() and (cats[:, 2] < 60).all()  # red stays in channel 0
    assert result.notes == []


def test_grey_images_give_one_channel_and_macos_clutter_is_skipped():
    files = {
        "a/1.png": png(mode="L"),
        "b/1.png": png(mode="L"),
        "__MACOSX/a/._1.png": b"junk",
        "a/.DS_Store": b"junk",
        "a/": b"",
    }
    result = images_from_zip(io.BytesIO(make_zip(files)), size=8)
    assert result.x.shape == (2, 1, 8, 8)


def test_mixed_sizes_are_resized_and_said():
    files = cats_and_dogs(**{"pets/cat/big.png": png(size=(40, 30))})
    result = images_from_zip(io.BytesIO(make_zip(files)), size=16)
    assert result.x.shape == (6, 3, 16, 16)
    assert "6 of 6 images resized to 16×16" in result.notes[0] and "40×30 (1)" in result.notes[0]


@pytest.mark.parametrize(
    "name,attr,words",
    [
        ("/etc/cat/x.png", None, "/etc/cat/x.png: absolute path"),
        ("pets/../../x.png", None, "pets/../../x.png: path leaves the archive"),
        ("pets\\cat\\x.png", None, "path leaves the archive"),
        ("pets/cat/link.png", stat.S_IFLNK | 0o777, "pets/cat/link.png: symbolic link"),
        ("pets/cat/dev.png", stat.S_IFCHR | 0o644, "pets/cat/dev.png: device, pipe or socket"),
        ("pets/cat/notes.txt", None, "pets/cat/notes.txt: not a PNG or JPEG"),
        ("loose.png", None, "loose.png: images must sit in one folder per class"),
    ],
)
def test_it_refuses_entries_a_folder_of_images_cannot_hold(name, attr, words):
    files = cats_and_dogs(**{name: png()})
    data = make_zip(files, attrs={name: attr} if attr else None)
    with pytest.raises(ImageZipError) as exc:
        images_from_zip(io.BytesIO(data))
    assert words in str(exc.value)


def test_images_that_fail_to_decode_are_all_named():
    files = cats_and_dogs(**{"pets/cat/broken.png": b"\x89PNG not really", "pets/dog/cut.jpg": png(fmt="JPEG")[:40]})
    with pytest.raises(ImageZipError) as exc:
        images_from_zip(io.BytesIO(make_zip(files)))
    assert "pets/cat/broken.png: cannot be decoded" in str(exc.value)
    assert "pets/dog/cut.jpg: cannot be decoded" in str(exc.value)


def test_an_entry_with_a_bad_checksum_is_named():
    data = bytearray(make_zip(cats_and_dogs()))
    at = data.find(png(colour=(20, 20, 200), fmt="JPEG")[100:120])  # inside pets/dog/0.jpg's stored bytes
    data[at] ^= 0xFF
    with pytest.raises(ImageZipError, match="pets/dog/0.jpg: cannot be read from the ZIP"):
        images_from_zip(io.BytesIO(bytes(data)))


def test_zip_bombs_are_refused_by_ratio_total_and_entry_count():
    bomb = make_zip(cats_and_dogs(**{"pets/cat/zeros.png": b"\0" * (4 << 20)}), compress=zipfile.ZIP_DEFLATED)
    with pytest.raises(ImageZipError, match=r"pets/cat/zeros.png: compressed \d+:1"):
        images_from_zip(io.BytesIO(bomb))
    with pytest.raises(ImageZipError, match="more than 0 MB once uncompressed"):
        images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), limits=ZipLimits(max_total_bytes=100))
    with pytest.raises(ImageZipError, match="5 entries, more than the limit of 4"):
        images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), limits=ZipLimits(max_entries=4))


def test_a_huge_image_is_refused_before_it_is_decoded():
    with pytest.raises(ImageZipError, match=r"pets/cat/0.png: 8×8 pixels, more than 10"):
        images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), limits=ZipLimits(max_pixels=10))


def test_it_refuses_one_class_too_many_classes_and_a_non_zip():
    with pytest.raises(ImageZipError, match="1 class folder"):
        images_from_zip(io.BytesIO(make_zip({"cat/1.png": png(), "cat/2.png": png()})))
    with pytest.raises(ImageZipError, match="3 class folders, more than the limit of 2"):
        images_from_zip(io.BytesIO(make_zip({f"{c}/1.png": png() for c in "abc"})), limits=ZipLimits(max_classes=2))
    with pytest.raises(ImageZipError, match="not a readable ZIP"):
        images_from_zip(io.BytesIO(b"PK no zip"))
    with pytest.raises(ImageZipError, match="size: must be between 4 and 256"):
        images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), size=1000)


def test_a_saved_set_reads_back_and_no_temp_file_stays(tmp_path):
    result = images_from_zip(io.BytesIO(make_zip(cats_and_dogs())), size=8)
    save_image_set(result, tmp_path / "7.npz")
    back = load_image_set(tmp_path / "7.npz")
    assert np.array_equal(back.x, result.x) and back.classes == ["cat", "dog"]
    assert [p.name for p in tmp_path.iterdir()] == ["7.npz"]


def test_the_engine_trains_on_an_uploaded_image_set(tmp_path):
    from tests.training.standard_fixtures import patterned_images

    x, y = patterned_images(300, 3, 16, 3, seed=6)
    save_image_set(ImageSet(x, y, ["a", "b", "c"]), tmp_path / "12.npz")
    config = make_config(
        dataset={"name": "images", "upload": 12, "augment": {"flip": True}},
        model={"arch": "cnn", "hidden": [8, 8], "dropout": 0.0},
        epochs=3,
        batch_size=32,
    )
    result = train(config, NullReporter(), data_dir=tmp_path)
    assert result.final["val_accuracy"] > 0.6, result.final  # chance: 0.33

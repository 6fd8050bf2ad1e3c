"""A team's own images: a ZIP of class folders → uint8 N×C×H×W, labels and class names (pure, no Django).

The ZIP is never extracted to disk: each member is read into memory (at most
its declared size) and decoded with Pillow, so a crafted path cannot write
anywhere. Still, entries that only a hostile or broken archive holds
(absolute paths, '..', symlinks, devices) are refused by name, as are zip
bombs: too many entries, too many bytes once uncompressed, or an entry
compressed beyond a sane ratio.

    image_set = images_from_zip(path_or_file, size=32)   # ImageZipError names the entry at fault
    save_image_set(image_set, upload_dir / f"{upload_id}.npz")   # what dataset 'images' trains on
"""

from __future__ import annotations

import io
import os
import pathlib
import stat
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO, Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IGNORED_PARTS = ("__MACOSX",)  # metadata folders macOS adds to every ZIP it makes


class ImageZipError(ValueError):
    """A refused image ZIP; the message names the entry (or the limit) at fault."""


@dataclass(frozen=True)
class ZipLimits:
    """Bounds that keep one upload from exhausting a worker's memory or disk."""

    max_entries: int = 100_000
    max_total_bytes: int = 2 * 1024**3  # uncompressed, all entries together
    max_ratio: float = 200.0  # uncompressed / compressed per entry; PNG and JPEG barely compress
    max_pixels: int = 40_000_000  # per image, checked before decoding
    max_classes: int = 100
    max_size: int = 256  # output side in pixels


@dataclass
class ImageSet:
    """Decoded images: x uint8 N×C×H×W, y int64 0..k-1 (index into classes), and what was done to them."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    notes: list[str] = field(default_factory=list)


def _is_ignored(name: str) -> bool:
    parts = name.split("/")
    return any(p in IGNORED_PARTS for p in parts) or parts[-1].startswith(".")


def check_entry(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    """Refuse an entry a plain folder of images could not have produced, or one that inflates too much."""
    name = info.filename
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ImageZipError(f"{name}: absolute path in the ZIP")
    if "\\" in name or ".." in name.split("/"):
        raise ImageZipError(f"{name}: path leaves the archive ('..' or backslash)")
    if stat.S_ISLNK(mode):
        raise ImageZipError(f"{name}: symbolic link in the ZIP")
    # Only the file-type bits say "device": Python's zipfile.writestr stores permission bits alone (0o600).
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ImageZipError(f"{name}: device, pipe or socket in the ZIP")
    if info.file_size > limits.max_ratio * max(info.compress_size, 1) and info.file_size > 1 << 20:
        raise ImageZipError(
            f"{name}: compressed {info.file_size / max(info.compress_size, 1):.0f}:1 "
            f"(more than {limits.max_ratio:g}:1; a zip bomb?)"
        )


def image_entries(zf: zipfile.ZipFile, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, str]]:
    """(entry, class name) for every image; the class is the folder that holds it."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ImageZipError(f"ZIP: {len(infos)} entries, more than the limit of {limits.max_entries}")
    total = 0
    out = []
    for info in infos:
        check_entry(info, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ImageZipError(f"ZIP: more than {limits.max_total_bytes / 1024**2:.0f} MB once uncompressed")
        if info.is_dir() or _is_ignored(info.filename):
            continue
        parts = info.filename.split("/")
        if not info.filename.lower().endswith(IMAGE_SUFFIXES):
            raise ImageZipError(f"{info.filename}: not a PNG or JPEG (.png, .jpg, .jpeg)")
        if len(parts) < 2:
            raise ImageZipError(f"{info.filename}: images must sit in one folder per class (class/image.png)")
        out.append((info, parts[-2]))
    return out


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, refusing one that inflates past its declared size (a lying header)."""
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:  # encrypted, bad CRC
        raise ImageZipError(f"{info.filename}: cannot be read from the ZIP ({exc})") from exc
    if len(data) > info.file_size:
        raise ImageZipError(f"{info.filename}: holds more bytes than its header declares")
    return data


def decode(data: bytes, name: str, limits: ZipLimits) -> Image.Image:
    """Decode one image fully (a truncated file fails here, not later), refusing huge pixel counts first."""
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > limits.max_pixels:
            raise ImageZipError(f"{name}: {img.width}×{img.height} pixels, more than {limits.max_pixels:,}")
        img.load()
        return img
    except ImageZipError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageZipError(f"{name}: cannot be decoded as an image ({exc})") from exc


def images_from_zip(
    source: str | os.PathLike | BinaryIO,
    *,
    size: int = 32,
    channels: Optional[int] = None,
    limits: ZipLimits = ZipLimits(),
) -> ImageSet:
    """Decode a ZIP of class folders into size×size images (channels 1 or 3; None: 1 when all are grey).

    Every image that fails to decode is named in one error; images of other
    sizes are resized (bilinear) and the notes say how many and from what.
    """
    if not 4 <= size <= limits.max_size:
        raise ImageZipError(f"size: must be between 4 and {limits.max_size} pixels")
    if channels not in (None, 1, 3):
        raise ImageZipError("channels: must be 1 (grey) or 3 (RGB)")
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImageZipError(f"ZIP: not a readable ZIP file ({exc})") from exc
    with zf:
        entries = image_entries(zf, limits)
        classes = sorted({c for _, c in entries})
        if len(classes) < 2:
            raise ImageZipError(f"ZIP: {len(classes)} class folder(s) with images; at least 2 are needed")
        if len(classes) > limits.max_classes:
            raise ImageZipError(f"ZIP: {len(classes)} class folders, more than the limit of {limits.max_classes}")
        decoded, failures = [], []
        for info, cls in entries:
            try:
                decoded.append((decode(_read(zf, info), info.filename, limits), cls))
            except ImageZipError as exc:
                failures.append(str(exc))
    if failures:
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        raise ImageZipError("; ".join(failures[:5]) + more)
    return _to_array(decoded, classes, size, channels)


def _to_array(decoded: list, classes: list[str], size: int, channels: Optional[int]) -> ImageSet:
    """Convert, resize and stack the decoded images; say what was resized."""
    if channels is None:
        channels = 1 if all(img.mode in ("1", "L", "I;16", "I") for img, _ in decoded) else 3
    mode = "L" if channels == 1 else "RGB"
    sizes = Counter(img.size for img, _ in decoded)
    x = np.empty((len(decoded), channels, size, size), np.uint8)
    for i, (img, _) in enumerate(decoded):
        img = img.convert(mode)
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(img, np.uint8)
        x[i] = arr[None] if channels == 1 else arr.transpose(2, 0, 1)
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[c] for _, c in decoded], np.int64)
    notes = []
    resized = sum(n for s, n in sizes.items() if s != (size, size))
    if resized:
        seen = ", ".join(f"{w}×{h} ({n})" for (w, h), n in sizes.most_common(5))
        notes.append(f"{resized} of {len(decoded)} images resized to {size}×{size} (sizes seen: {seen})")
    return ImageSet(x, y, classes, notes)


def save_image_set(image_set: ImageSet, path: pathlib.Path) -> None:
    """Store a decoded set as .npz, atomically (temp file in the same directory, then rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, x=image_set.x, y=image_set.y, classes=np.asarray(image_set.classes, dtype=str))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_image_set(path: pathlib.Path) -> ImageSet:
    """Read back what save_image_set wrote (no pickles: plain arrays only)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return ImageSet(f["x"], f["y"], [str(c) for c in f["classes"]])
    except FileNotFoundError:
        raise ValueError(f"dataset.upload: no decoded image set at {path}") from None

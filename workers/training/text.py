"""A team's own texts: a CSV with a text column and a label column → token ids (pure, no Django).

Tokenizer: lower-cased regex words (letters/digits, inner apostrophes kept).
A word-level vocabulary is what the recipes our text preset is compared with
use (Zhang et al. 2015's word LSTM and bag-of-words on AG News), it needs no
trained model or download, and it is deterministic. A subword library
(HF tokenizers) would add a compiled dependency for no gain at this size.
The vocabulary is built on the training split only, so validation words
unseen in training map to the unknown token as they would in production.

    table = read_text_csv(path, text_column="review", label_column="label")
    vocab = build_vocab(texts_of_training_split, max_size=20000)
    ids = encode(texts, vocab, max_tokens=64)       # int64 N×max_tokens, 0 = padding
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

PAD, UNK = 0, 1
WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
MAX_CLASSES = 100
MAX_ROWS = 1_000_000
MAX_TEXT_CHARS = 100_000  # per cell; csv's own field limit is raised to this


class TextCsvError(ValueError):
    """A refused text CSV; the message names the column or the line at fault."""


@dataclass
class TextTable:
    texts: list[str]
    labels: np.ndarray  # int64 0..k-1, index into classes
    classes: list[str]


def tokenize(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _rows(source) -> tuple[list[str], Iterable[list[str]]]:
    csv.field_size_limit(MAX_TEXT_CHARS)
    reader = csv.reader(source)
    try:
        header = next(reader)
    except StopIteration:
        raise TextCsvError("CSV: the file is empty") from None
    except csv.Error as exc:
        raise TextCsvError(f"CSV: line 1 cannot be read ({exc})") from exc
    return [h.strip() for h in header], reader


def _column(header: list[str], name: str, role: str) -> int:
    if name not in header:
        raise TextCsvError(f"{role}: no column '{name}' in the CSV (columns: {', '.join(header[:20])})")
    return header.index(name)


def read_text_csv(
    source: str | os.PathLike | io.TextIOBase,
    *,
    text_column: str,
    label_column: str,
    max_classes: int = MAX_CLASSES,
    max_rows: int = MAX_ROWS,
) -> TextTable:
    """The text and label columns of a CSV with a header row; classes are the sorted distinct labels."""
    if text_column == label_column:
        raise TextCsvError("text_column: must differ from the label column")
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8-sig", newline="") as f:
            return read_text_csv(
                f, text_column=text_column, label_column=label_column, max_classes=max_classes, max_rows=max_rows
            )
    header, rows = _rows(source)
    ti, li = _column(header, text_column, "text_column"), _column(header, label_column, "target")
    texts, labels = [], []
    try:
        for line, row in enumerate(rows, 2):
            if not row:
                continue
            if len(texts) >= max_rows:
                raise TextCsvError(f"CSV: more than {max_rows:,} rows")
            if max(ti, li) >= len(row) or not row[li].strip():
                raise TextCsvError(f"{label_column}: line {line} has no label")
            texts.append(row[ti])
            labels.append(row[li].strip())
    except csv.Error as exc:
        raise TextCsvError(f"CSV: line {line} cannot be read ({exc})") from exc
    return _table(texts, labels, text_column, label_column, max_classes)


def _table(texts: list[str], labels: list[str], text_column: str, label_column: str, max_classes: int) -> TextTable:
    if not any(tokenize(t) for t in texts):
        raise TextCsvError(f"{text_column}: the text column has no words")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise TextCsvError(f"{label_column}: only one class ({classes[0] if classes else 'none'}); need at least 2")
    if len(classes) > max_classes:
        raise TextCsvError(f"{label_column}: {len(classes)} classes, more than the limit of {max_classes}")
    index = {c: i for i, c in enumerate(classes)}
    return TextTable(texts, np.asarray([index[c] for c in labels], np.int64), classes)


def build_vocab(texts: Iterable[str], max_size: int) -> dict[str, int]:
    """word → id for the max_size - 2 most frequent words (ties alphabetical); 0 is padding, 1 unknown."""
    counts = Counter(w for t in texts for w in tokenize(t))
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_size - 2]
    return {w: i + 2 for i, (w, _) in enumerate(words)}


def encode(texts: Iterable[str], vocab: dict[str, int], max_tokens: int) -> np.ndarray:
    """Token ids int64 N×max_tokens: the first max_tokens words, right-padded with 0; unknown words are 1.

    A text with no words gets one unknown token, so every row has a length ≥ 1.
    """
    rows = [[vocab.get(w, UNK) for w in tokenize(t)[:max_tokens]] or [UNK] for t in texts]
    out = np.zeros((len(rows), max_tokens), np.int64)
    for i, ids in enumerate(rows):
        out[i, : len(ids)] = ids
    return out

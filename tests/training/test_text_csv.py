"""A team's text CSV: text and label columns → token ids with a training-split vocabulary; refusals name the column."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from tests.training.conftest import make_config
from tests.training.standard_fixtures import topic_texts
from workers.training.engine import train
from workers.training.reporter import NullReporter
from workers.training.text import TextCsvError, build_vocab, encode, read_text_csv, tokenize


def csv_text(rows: list[list[str]], header=("review", "stars")) -> io.StringIO:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    buf.seek(0)
    return buf


def test_it_reads_the_two_columns_and_sorts_the_classes():
    table = read_text_csv(
        csv_text([["Great, loved it!", "good"], ["Awful.", "bad"], ["Fine", "good"]]),
        text_column="review",
        label_column="stars",
    )
    assert table.texts == ["Great, loved it!", "Awful.", "Fine"]
    assert table.classes == ["bad", "good"] and table.labels.tolist() == [1, 0, 1]


def test_the_tokenizer_keeps_words_and_inner_apostrophes():
    assert tokenize("Don't STOP-me now, 2024!") == ["don't", "stop", "me", "now", "2024"]


def test_the_vocabulary_comes_from_the_training_texts_only():
    vocab = build_vocab(["a b b c", "b c"], max_size=4)  # room for 2 words besides padding and unknown
    assert vocab == {"b": 2, "c": 3}
    ids = encode(["b a zebra c", ""], vocab, max_tokens=3)
    assert ids.tolist() == [[2, 1, 1], [1, 0, 0]]  # unknown words → 1, cut at 3, an empty text keeps one token
    assert ids.dtype == np.int64


@pytest.mark.parametrize(
    "rows,kwargs,words",
    [
        ([["x", "a"], ["y", "b"]], {"text_column": "body"}, "text_column: no column 'body' in the CSV"),
        ([["x", "a"], ["y", "b"]], {"label_column": "label"}, "target: no column 'label'"),
        ([["", "a"], ["  ", "b"], ["!!", "a"]], {}, "review: the text column has no words"),
        ([["x", "a"], ["y", "a"]], {}, "stars: only one class (a)"),
        ([["x", "a"], ["y", ""]], {}, "stars: line 3 has no label"),
        ([[f"t{i}", f"c{i}"] for i in range(5)], {"max_classes": 4}, "stars: 5 classes, more than the limit of 4"),
        ([["x", "a"]], {"label_column": "review"}, "text_column: must differ from the label column"),
    ],
)
def test_each_refusal_names_the_column(rows, kwargs, words):
    args = {"text_column": "review", "label_column": "stars", **kwargs}
    with pytest.raises(TextCsvError) as exc:
        read_text_csv(csv_text(rows), **args)
    assert words in str(exc.value)


def test_an_empty_file_is_refused():
    with pytest.raises(TextCsvError, match="CSV: the file is empty"):
        read_text_csv(io.StringIO(""), text_column="a", label_column="b")


def test_the_engine_trains_on_an_uploaded_text_csv(tmp_path):
    texts, y = topic_texts(400, seed=5)
    with open(tmp_path / "11.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["headline", "topic"])
        writer.writerows(zip(texts, [str(v) for v in y]))
    config = make_config(
        dataset={
            "name": "text",
            "upload": 11,
            "target": "topic",
            "text_column": "headline",
            "max_tokens": 12,
            "vocab_size": 100,
        },
        model={"arch": "gru", "hidden": [16], "embed_dim": 16, "pooling": "mean", "dropout": 0.0},
        epochs=4,
        batch_size=32,
    )
    result = train(config, NullReporter(), data_dir=tmp_path)
    assert result.final["val_accuracy"] > 0.6, result.final  # chance: 0.25

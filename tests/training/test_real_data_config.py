"""The config refuses architectures that do not fit the data, and augmentation where it cannot apply."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.training.config import RunConfig


def validate(**data) -> RunConfig:
    return RunConfig.model_validate(data)


@pytest.mark.parametrize(
    "dataset,model,field,words",
    [
        ({"name": "cifar10"}, {"arch": "lstm"}, "model.arch", "needs sequences or text"),  # a text model on images
        ({"name": "iris"}, {"arch": "resnet"}, "model.arch", "needs image data"),  # an image model on a table
        ({"name": "wine"}, {"arch": "cnn"}, "model.arch", "needs image data"),
        ({"name": "ag_news"}, {"arch": "cnn"}, "model.arch", "needs image data"),
        ({"name": "ag_news"}, {"arch": "mlp"}, "model.arch", "text ('ag_news') needs rnn, lstm, gru or transformer"),
        ({"name": "mnist"}, {"arch": "cnn", "pooling": "mean"}, "model.pooling", "applies to rnn/lstm/gru/transformer"),
        ({"name": "iris", "augment": {"flip": True}}, {}, "augment", "applies to image datasets, not 'iris'"),
        ({"name": "text", "upload": 3, "target": "label"}, {"arch": "lstm"}, "text_column", "needs the column"),
        ({"name": "images"}, {"arch": "cnn"}, "upload", "needs 'upload'"),
    ],
)
def test_it_refuses_a_mismatch_naming_the_field(dataset, model, field, words):
    with pytest.raises(ValidationError) as exc:
        validate(dataset=dataset, model=model)
    message = str(exc.value)
    assert f"{field}:" in message and words in message, message


@pytest.mark.parametrize("augment", [{"crop_padding": 9}, {"crop_padding": -1}, {"flip": "sometimes"}, {"rotate": 5}])
def test_it_bounds_the_augmentation_fields(augment):
    with pytest.raises(ValidationError, match="augment"):
        validate(dataset={"name": "cifar10", "augment": augment}, model={"arch": "resnet"})


def test_it_accepts_the_fitting_pairs():
    validate(dataset={"name": "mnist"}, model={"arch": "cnn", "depth": 2})
    validate(dataset={"name": "cifar10", "augment": {"crop_padding": 4, "flip": True}}, model={"arch": "resnet"})
    validate(dataset={"name": "ag_news"}, model={"arch": "transformer", "hidden": [32], "pooling": "max"})
    validate(dataset={"name": "text", "upload": 1, "target": "y", "text_column": "review"}, model={"arch": "gru"})
    validate(dataset={"name": "images", "upload": 2}, model={"arch": "mlp"})

"""Presets: valid configs, and the tutorial MLP reaches 95% on digits within its 30 epochs."""

from __future__ import annotations

from workers.training.config import RunConfig
from workers.training.engine import train
from workers.training.presets import PRESETS
from workers.training.reporter import NullReporter


class StopAtAccuracy(NullReporter):
    """Stops the run as soon as an epoch reaches the target accuracy (keeps the test short)."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target

    def should_stop(self) -> bool:
        return any(v >= self.target for v in self.series("val_accuracy"))


def test_every_preset_is_a_labelled_valid_config():
    assert {"tutorial_mlp", "digits_cnn", "sequence_lstm", "sequence_transformer"} <= set(PRESETS)
    for label, config in PRESETS.values():
        assert label and RunConfig.model_validate(config.model_dump()) == config


def test_the_tutorial_preset_is_the_classic_mlp():
    _, config = PRESETS["tutorial_mlp"]
    assert (config.model.arch, config.model.hidden, config.model.dropout, config.model.batchnorm) == (
        "mlp",
        [256, 128],
        0.5,
        True,
    )
    assert (config.optimizer.name, config.optimizer.lr, config.batch_size, config.epochs, config.loss.name) == (
        "adam",
        0.001,
        32,
        30,
        "cross_entropy",
    )


def test_the_tutorial_mlp_reaches_95_percent_within_30_epochs():
    _, config = PRESETS["tutorial_mlp"]
    reporter = StopAtAccuracy(0.95)
    result = train(config.model_copy(update={"device": "cpu"}), reporter)
    assert max(reporter.series("val_accuracy")) >= 0.95
    assert result.epochs_run <= 30

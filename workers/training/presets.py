"""Named starting points for the launch form: (label, validated config)."""

from __future__ import annotations

from .config import RunConfig, tutorial_mlp


def _config(**data) -> RunConfig:
    return RunConfig.model_validate(data)


PRESETS: dict[str, tuple[str, RunConfig]] = {
    "tutorial_mlp": (
        "Tutorial MLP on digits: Dense 256 → BN → Dropout 0.5 → Dense 128 → BN → Dropout 0.5, Adam 0.001, batch 32",
        tutorial_mlp(),
    ),
    "digits_cnn": (
        "Small CNN on 8×8 digit images: conv 16 → conv 32 with batch norm, Adam 0.003",
        _config(
            dataset={"name": "digits"},
            model={"arch": "cnn", "hidden": [16, 32], "dropout": 0.1, "batchnorm": True},
            optimizer={"name": "adam", "lr": 0.003},
            batch_size=32,
            epochs=15,
        ),
    ),
    "sequence_lstm": (
        "LSTM (32 units) on the synthetic sequence task, Adam 0.01",
        _config(
            dataset={"name": "sequence", "n_samples": 2000},
            model={"arch": "lstm", "hidden": [32], "dropout": 0.0, "batchnorm": False},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=32,
            epochs=15,
        ),
    ),
    "sequence_transformer": (
        "Transformer encoder (2 layers, width 32, 4 heads) on the synthetic sequence task, AdamW with warm-up + cosine",
        _config(
            dataset={"name": "sequence", "n_samples": 2000},
            model={"arch": "transformer", "hidden": [32, 32], "heads": 4, "dropout": 0.1, "batchnorm": False},
            optimizer={"name": "adamw", "lr": 0.003, "weight_decay": 0.01},
            schedule={"name": "warmup_cosine", "warmup_epochs": 2},
            batch_size=32,
            epochs=20,
        ),
    ),
}

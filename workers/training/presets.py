"""Named starting points for the launch form: (label, validated config), and for the recipes the literature
has measured, the test accuracy it reports (REFERENCES, shown beside the preset)."""

from __future__ import annotations

from dataclasses import dataclass

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
    "mnist_cnn": (
        "CNN on MNIST: 2 × (conv 3×3 → BN → ReLU → max-pool), 32 and 64 channels, dropout 0.25, Adam 0.001, batch 128",
        _config(
            dataset={"name": "mnist"},
            model={"arch": "cnn", "hidden": [32, 64], "dropout": 0.25, "batchnorm": True},
            optimizer={"name": "adam", "lr": 0.001},
            batch_size=128,
            epochs=12,
        ),
    ),
    "fashion_mnist_cnn": (
        "CNN on Fashion-MNIST: 2 × (conv 3×3 → BN → ReLU → max-pool), 32 and 64 channels, dropout 0.25, Adam, "
        "batch 128",
        _config(
            dataset={"name": "fashion_mnist"},
            model={"arch": "cnn", "hidden": [32, 64], "dropout": 0.25, "batchnorm": True},
            optimizer={"name": "adam", "lr": 0.001},
            batch_size=128,
            epochs=20,
        ),
    ),
    "cifar10_resnet20": (
        "ResNet-20 on CIFAR-10 with random crop (pad 4) and flip: SGD momentum 0.9, lr 0.1, weight decay 1e-4, "
        "batch 128, cosine schedule, 164 epochs",
        _config(
            dataset={"name": "cifar10", "augment": {"crop_padding": 4, "flip": True}},
            model={"arch": "resnet", "hidden": [16, 32, 64], "depth": 3, "dropout": 0.0, "batchnorm": True},
            optimizer={"name": "momentum", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0001},
            schedule={"name": "cosine"},
            batch_size=128,
            epochs=164,
        ),
    ),
    "ag_news_lstm": (
        "Word LSTM on AG News: embedding 128 → LSTM 256, mean over words, Adam 0.001, batch 64, 64 words per text",
        _config(
            dataset={"name": "ag_news", "vocab_size": 30000, "max_tokens": 64},
            model={
                "arch": "lstm",
                "hidden": [256],
                "embed_dim": 128,
                "pooling": "mean",
                "dropout": 0.2,
                "batchnorm": False,
            },
            optimizer={"name": "adam", "lr": 0.001},
            batch_size=64,
            epochs=5,
        ),
    ),
}


@dataclass(frozen=True)
class Reference:
    """What the literature reports for a preset's recipe: the form shows it beside the preset."""

    test_accuracy: float
    source: str
    url: str
    differences: str  # where our preset departs from the published recipe

    def label(self) -> str:
        return f"published: {self.test_accuracy:.2%} test accuracy ({self.source})"


REFERENCES: dict[str, Reference] = {
    "mnist_cnn": Reference(
        0.9925,
        "Keras example mnist_cnn.py: 2 conv (32, 64) + max-pool + dense 128, 12 epochs",
        "https://github.com/keras-team/keras/blob/2.3.1/examples/mnist_cnn.py",
        "ours pools after each conv, adds batch norm and has no dense 128 layer; Adam instead of Adadelta",
    ),
    "fashion_mnist_cnn": Reference(
        0.934,
        "Fashion-MNIST benchmark table, '2 Conv+pooling+BN', no preprocessing",
        "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        "the submitted notebook's exact widths and optimizer may differ",
    ),
    "cifar10_resnet20": Reference(
        0.9125,
        "He et al. 2016, Deep Residual Learning, Table 6: ResNet-20, 8.75% error",
        "https://arxiv.org/abs/1512.03385",
        "projection (1×1 conv) shortcuts instead of zero padding, per-channel instead of per-pixel mean, "
        "cosine instead of steps at 32k/48k iterations; validation is the official test split",
    ),
    "ag_news_lstm": Reference(
        0.8606,
        "Zhang, Zhao & LeCun 2015, Character-level ConvNets for Text Classification, Table 4: word LSTM, "
        "13.94% error on AG News",
        "https://arxiv.org/abs/1509.01626",
        "embeddings learned from scratch (the paper starts from word2vec), 64 words per text, LSTM 256 not 512",
    ),
}

"""The run config: one schema for the launch form, the API, the stored config and the trainer.

Every key of DESIGN.md's run config lives here. The trainer accepts only a
validated `RunConfig`; bounds protect the GPUs from a typo (epochs=1e9).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["classification", "regression"]

# Which task each bundled dataset poses, and how many classes (None: regression).
DATASETS: dict[str, tuple[Task, Optional[int]]] = {
    "digits": ("classification", 10),
    "iris": ("classification", 3),
    "wine": ("classification", 3),
    "breast_cancer": ("classification", 2),
    "diabetes": ("regression", None),
    "synthetic_classification": ("classification", 3),
    "synthetic_regression": ("regression", None),
    "moons": ("classification", 2),
    "sequence": ("classification", 2),
    "csv": ("classification", None),  # task and classes come from the upload
}

# Which datasets each non-tabular architecture can read: digits rows are 8×8 images or 8 steps × 8 features.
IMAGE_DATASETS = {"digits"}
SEQUENCE_DATASETS = {"sequence", "digits"}
SEQUENCE_ARCHS = {"rnn", "lstm", "gru", "transformer"}

CLASSIFICATION_LOSSES = {"cross_entropy", "focal", "bce"}
REGRESSION_LOSSES = {"mse", "mae", "huber"}

# Limits that keep one launch from monopolising a GPU; shown in form help texts.
MAX_EPOCHS = 500
MAX_WIDTH = 4096
MAX_DEPTH = 8
MAX_BATCH = 65536
MAX_SAMPLES = 200_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Preprocessing(_Strict):
    impute: Literal["none", "drop", "mean", "median"] = Field(
        "mean", description="Missing values: drop the rows, or fill with the training split's mean/median."
    )
    drop_duplicates: bool = Field(False, description="Drop duplicate rows before splitting.")
    normalize: Literal["none", "standard", "minmax"] = Field(
        "standard", description="Feature scaling, fitted on the training split only."
    )
    one_hot: bool = Field(True, description="One-hot encode categorical (text) columns of an uploaded CSV.")


class DatasetConfig(_Strict):
    name: Literal[tuple(DATASETS)] = Field("digits", description="Bundled or generated data; never downloaded.")  # type: ignore[valid-type]
    val_fraction: float = Field(0.2, ge=0.05, le=0.5, description="Share of rows held out for validation.")
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    n_samples: int = Field(1000, ge=50, le=MAX_SAMPLES, description="Rows generated for synthetic datasets.")
    n_features: int = Field(
        20, ge=3, le=MAX_WIDTH, description="Columns generated for synthetic_classification/regression."
    )
    upload: Optional[int] = Field(None, ge=1, description="Uploaded CSV id (dataset 'csv' only).")
    target: Optional[str] = Field(None, max_length=200, description="Target column of the uploaded CSV.")
    task: Optional[Task] = Field(None, description="Override the task inferred from an uploaded CSV.")

    @model_validator(mode="after")
    def _csv_needs_upload(self) -> DatasetConfig:
        if self.name == "csv" and (self.upload is None or not self.target):
            raise ValueError("upload: dataset 'csv' needs 'upload' and 'target'")
        return self


class ModelConfig(_Strict):
    arch: Literal["mlp", "cnn", "rnn", "lstm", "gru", "transformer"] = Field(
        "mlp", description="mlp for tables; cnn for digit images; rnn/lstm/gru/transformer for sequences."
    )
    hidden: list[int] = Field(
        default_factory=lambda: [256, 128],
        min_length=1,
        max_length=MAX_DEPTH,
        description=f"Layer widths (channels for cnn, hidden size per layer for rnn/transformer); each 1–{MAX_WIDTH}.",
    )
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout probability after each hidden layer.")
    batchnorm: bool = Field(True, description="Batch normalisation after each hidden layer (mlp, cnn).")
    activation: Literal["relu", "tanh", "gelu", "sigmoid", "leaky_relu"] = "relu"
    heads: int = Field(4, ge=1, le=16, description="Attention heads (transformer); must divide the width.")

    @model_validator(mode="after")
    def _widths_in_range(self) -> ModelConfig:
        for w in self.hidden:
            if not 1 <= w <= MAX_WIDTH:
                raise ValueError(f"hidden: each width must be between 1 and {MAX_WIDTH}")
        if self.arch == "transformer" and self.hidden[0] % self.heads:
            raise ValueError("heads: heads must divide hidden[0] for a transformer")
        return self


class OptimizerConfig(_Strict):
    name: Literal["gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"] = Field(
        "adam", description="gd takes one full-batch step per epoch; adamw decouples weight decay."
    )
    lr: float = Field(0.001, gt=0.0, le=10.0, description="Learning rate.")
    momentum: float = Field(
        0.0, ge=0.0, lt=1.0, description="Momentum (momentum, nesterov, rmsprop); 0 means 0.9 for momentum/nesterov."
    )
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="Optimizer weight decay (decoupled for adamw).")


class ScheduleConfig(_Strict):
    name: Literal["constant", "exponential", "step", "cosine", "warmup_cosine", "plateau"] = Field(
        "constant", description="How the learning rate changes from epoch to epoch."
    )
    gamma: float = Field(0.95, gt=0.0, le=1.0, description="Decay factor (exponential, step).")
    step_size: int = Field(10, ge=1, le=MAX_EPOCHS, description="Epochs between decays (step).")
    warmup_epochs: int = Field(5, ge=0, le=MAX_EPOCHS, description="Linear warm-up length (warmup_cosine).")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="LR multiplier on a plateau (plateau).")
    patience: int = Field(
        5,
        ge=1,
        le=MAX_EPOCHS,
        description="Epochs without val improvement tolerated; the next one cuts the LR (plateau).",
    )
    min_lr: float = Field(0.0, ge=0.0, le=1.0, description="Floor for the learning rate.")


class RegularizationConfig(_Strict):
    l1: float = Field(0.0, ge=0.0, le=1.0, description="L1 penalty λ·Σ|w| on weights (not biases) added to the loss.")
    l2: float = Field(0.0, ge=0.0, le=1.0, description="L2 penalty λ·Σw² on weights added to the loss.")
    early_stopping_patience: Optional[int] = Field(
        None, ge=1, le=MAX_EPOCHS, description="Stop after this many epochs without val improvement; best weights kept."
    )
    grad_clip_norm: Optional[float] = Field(None, gt=0.0, le=1e6, description="Clip the global gradient norm.")


class LossConfig(_Strict):
    name: Literal["mse", "mae", "huber", "cross_entropy", "bce", "focal"] = Field(
        "cross_entropy", description="mse/mae/huber for regression; cross_entropy/focal for classes; bce for binary."
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing (cross_entropy).")
    focal_gamma: float = Field(2.0, ge=0.0, le=10.0, description="Focusing parameter γ (focal; γ=0 is cross-entropy).")
    huber_delta: float = Field(1.0, gt=0.0, le=1e3, description="Transition point δ (huber).")


def loss_problem(loss: str, task: Task | None, n_classes: int | None, target: str) -> str | None:
    """Why `loss` cannot train `target` (a task with n_classes), or None: the one "loss fits task" rule.

    The schema asks it with what the dataset name says; the engine asks again once the data is
    loaded and the task and number of classes are known (an uploaded CSV). None means unknown.
    """
    if task == "regression" and loss in CLASSIFICATION_LOSSES:
        return f"loss.name: loss '{loss}' needs class labels, but {target} is a regression task"
    if task == "classification" and loss in REGRESSION_LOSSES:
        return f"loss.name: loss '{loss}' is for regression targets, but {target} is classification"
    if loss == "bce" and n_classes not in (2, None):
        return f"loss.name: loss 'bce' is for two classes (binary tasks), but {target} has {n_classes} classes"
    return None


class RunConfig(_Strict):
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    batch_size: int = Field(32, ge=1, le=MAX_BATCH, description="Rows per step (gd takes the whole training split).")
    epochs: int = Field(30, ge=1, le=MAX_EPOCHS, description="Passes over the training split.")
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto uses the worker's GPU when it has one.")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="Mixed precision autocast; applies on CUDA only."
    )

    @model_validator(mode="after")
    def _loss_fits_task(self) -> RunConfig:
        task, classes = DATASETS[self.dataset.name]
        if self.dataset.name == "csv":
            # An uploaded table's task and classes are known once it is read (the engine checks again
            # then); only a task the user chose says something now.
            task, classes = (self.dataset.task if self.dataset.task == "regression" else None), None
        problem = loss_problem(self.loss.name, task, classes, f"dataset '{self.dataset.name}'")
        if problem:
            raise ValueError(problem)
        if self.loss.label_smoothing and self.loss.name != "cross_entropy":
            raise ValueError(f"loss.label_smoothing: applies to cross_entropy only, not '{self.loss.name}'")
        return self

    @model_validator(mode="after")
    def _arch_fits_dataset(self) -> RunConfig:
        arch, name = self.model.arch, self.dataset.name
        if arch == "cnn" and name not in IMAGE_DATASETS:
            raise ValueError(f"model.arch: cnn needs image data (digits), not dataset '{name}'")
        if arch in SEQUENCE_ARCHS and name not in SEQUENCE_DATASETS:
            raise ValueError(f"model.arch: {arch} needs sequence data (sequence or digits), not dataset '{name}'")
        return self

    @property
    def task(self) -> Task:
        if self.dataset.name == "csv" and self.dataset.task:
            return self.dataset.task
        return DATASETS[self.dataset.name][0]

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """Hash of the whole canonical config: identical configs group together."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def group_hash(self) -> str:
        """Hash without the seed (and device): runs differing only in seed form one group."""
        data = self.model_dump(mode="json")
        data.pop("seed")
        data.pop("device")
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def tutorial_mlp() -> RunConfig:
    """The classic tutorial: MLP 256-128 with batch norm and dropout 0.5, Adam 0.001, batch 32, cross-entropy, digits."""
    return RunConfig()


# What each choice does and when to use it: shown beside the choice in the launch form.
CHOICE_HELP: dict[str, dict[str, str]] = {
    "dataset.name": {
        "digits": "8×8 handwritten digits, 10 classes, 1,797 rows (also as images for cnn)",
        "iris": "3 iris species from 4 measurements, 150 rows",
        "wine": "3 wine cultivars from 13 chemical features, 178 rows",
        "breast_cancer": "benign vs malignant from 30 features, 569 rows (binary)",
        "diabetes": "disease progression from 10 features, 442 rows (regression)",
        "synthetic_classification": "generated classes; n_samples × n_features",
        "synthetic_regression": "generated linear target with noise",
        "moons": "two interleaving half-circles (binary, non-linear)",
        "sequence": "generated sequences for rnn/lstm/gru/transformer",
        "csv": "an uploaded CSV of your team (pick upload and target)",
    },
    "model.activation": {
        "relu": "the default",
        "tanh": "bounded; classic for recurrent nets",
        "gelu": "smooth relu; transformers",
        "sigmoid": "bounded; prone to vanishing gradients in deep nets",
        "leaky_relu": "relu that keeps a small slope below 0",
    },
    "dataset.preprocessing.impute": {
        "none": "leave gaps (fails if there are any)",
        "drop": "drop rows with a gap; fine when gaps are rare",
        "mean": "fill with the training mean; the usual default",
        "median": "fill with the training median; robust to outliers",
    },
    "dataset.preprocessing.normalize": {
        "none": "raw features; only for already-scaled data",
        "standard": "zero mean, unit variance; the default for gradient descent",
        "minmax": "scale to [0, 1]; for bounded features such as pixels",
    },
    "model.arch": {
        "mlp": "dense layers; tabular data",
        "cnn": "convolutions over 8×8 digit images",
        "rnn": "plain recurrent net; short sequences",
        "lstm": "gated recurrent net; longer sequences",
        "gru": "lighter gated recurrent net",
        "transformer": "self-attention encoder; sequences, needs more data",
    },
    "optimizer.name": {
        "gd": "full-batch gradient descent, one step per epoch; small data, smooth curves",
        "sgd": "plain stochastic gradient descent; a baseline",
        "momentum": "SGD with momentum; faster through ravines",
        "nesterov": "SGD with Nesterov momentum; often a little better than momentum",
        "adagrad": "per-weight rates that only shrink; sparse features",
        "rmsprop": "per-weight rates from recent gradients; recurrent nets",
        "adam": "adaptive moments; the safe default",
        "adamw": "adam with decoupled weight decay; pair with weight_decay",
    },
    "schedule.name": {
        "constant": "same LR every epoch",
        "exponential": "lr·γ^epoch; smooth decay",
        "step": "×γ every step_size epochs",
        "cosine": "anneal to min_lr over the run",
        "warmup_cosine": "linear warm-up, then cosine; transformers, large batches",
        "plateau": "cut by factor when val loss stalls for patience epochs",
    },
    "loss.name": {
        "mse": "mean squared error; regression, punishes large errors",
        "mae": "mean absolute error; regression robust to outliers",
        "huber": "squared near 0, absolute beyond δ; regression with some outliers",
        "cross_entropy": "softmax cross-entropy; classification (label_smoothing optional)",
        "bce": "binary cross-entropy on one logit; two-class tasks",
        "focal": "cross-entropy that down-weights easy examples; imbalanced classes",
    },
    "precision": {
        "fp32": "full precision",
        "bf16": "bfloat16 autocast on CUDA; faster, no loss scaling needed",
        "fp16": "float16 autocast with loss scaling on CUDA",
    },
}

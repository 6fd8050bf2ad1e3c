"""The run config: one schema for the launch form, the API, the stored config and the trainer.

Every key of DESIGN.md's run config lives here. The trainer accepts only a
validated `RunConfig`; bounds protect the GPUs from a typo (epochs=1e9).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Literal, Optional

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
    # Standard sets from the shared store (manage.py datasets); their official test split is the validation split.
    "mnist": ("classification", 10),
    "fashion_mnist": ("classification", 10),
    "cifar10": ("classification", 10),
    "ag_news": ("classification", 4),
    # A team's own data: a ZIP of class folders decoded at upload (images) or a CSV with a text column (text).
    "images": ("classification", None),
    "text": ("classification", None),
}

# Which datasets each non-tabular architecture can read: digits rows are 8×8 images or 8 steps × 8 features.
IMAGE_DATASETS = {"digits", "mnist", "fashion_mnist", "cifar10", "images"}
TEXT_DATASETS = {"ag_news", "text"}
SEQUENCE_DATASETS = {"sequence", "digits"} | TEXT_DATASETS
SEQUENCE_ARCHS = {"rnn", "lstm", "gru", "transformer"}
IMAGE_ARCHS = {"cnn", "resnet"}

CLASSIFICATION_LOSSES = {"cross_entropy", "focal", "bce"}
REGRESSION_LOSSES = {"mse", "mae", "huber"}

# Limits that keep one launch from monopolising a GPU; shown in form help texts.
MAX_EPOCHS = 500
MAX_WIDTH = 4096
MAX_DEPTH = 8
MAX_BATCH = 65536
MAX_SAMPLES = 200_000


class _Strict(BaseModel):
    # NaN/±inf (JSON's 1e999 reads as inf) are refused by field, whatever the field's bounds say.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Preprocessing(_Strict):
    impute: Literal["none", "drop", "mean", "median"] = Field(
        "mean", description="Missing values: drop the rows, or fill with the training split's mean/median."
    )
    drop_duplicates: bool = Field(False, description="Drop duplicate rows before splitting.")
    normalize: Literal["none", "standard", "minmax"] = Field(
        "standard", description="Feature scaling, fitted on the training split only."
    )
    one_hot: bool = Field(True, description="One-hot encode categorical (text) columns of an uploaded CSV.")


class Augment(_Strict):
    """Training-batch augmentation for images, applied on the device to whole batches; never on validation."""

    crop_padding: int = Field(
        0,
        ge=0,
        le=8,
        description="Random crop after zero-padding each side by this many pixels (4 is the CIFAR recipe); 0: no crop.",
    )
    flip: bool = Field(False, description="Random horizontal flip (objects, not digits or text).")

    @property
    def active(self) -> bool:
        return bool(self.crop_padding or self.flip)


class DatasetConfig(_Strict):
    name: Literal[tuple(DATASETS)] = Field("digits", description="Bundled or generated data; never downloaded.")  # type: ignore[valid-type]
    val_fraction: float = Field(0.2, ge=0.05, le=0.5, description="Share of rows held out for validation.")
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    n_samples: int = Field(1000, ge=50, le=MAX_SAMPLES, description="Rows generated for synthetic datasets.")
    n_features: int = Field(
        20, ge=3, le=MAX_WIDTH, description="Columns generated for synthetic_classification/regression."
    )
    upload: Optional[int] = Field(
        None, ge=1, le=2**63 - 1, description="Uploaded file id (datasets csv, images, text)."
    )
    target: Optional[str] = Field(None, max_length=200, description="Target column of the uploaded CSV.")
    task: Optional[Task] = Field(None, description="Override the task inferred from an uploaded CSV.")
    text_column: Optional[str] = Field(None, max_length=200, description="Column holding the text (dataset 'text').")
    vocab_size: int = Field(
        20000,
        ge=100,
        le=200_000,
        description="Most frequent training-split words kept; others become one unknown token (text).",
    )
    max_tokens: int = Field(64, ge=4, le=1024, description="Words kept per text, the rest cut (text).")
    augment: Augment = Field(
        default_factory=Augment, description="Random crop/flip of training images (image datasets); off by default."
    )

    @model_validator(mode="after")
    def _csv_needs_upload(self) -> DatasetConfig:
        if self.name in ("csv", "text") and (self.upload is None or not self.target):
            raise ValueError(f"upload: dataset '{self.name}' needs 'upload' and 'target'")
        if self.name == "images" and self.upload is None:
            raise ValueError("upload: dataset 'images' needs 'upload' (an image ZIP of the team)")
        if self.name == "text" and not self.text_column:
            raise ValueError("text_column: dataset 'text' needs the column holding the text")
        if self.augment.active and self.name not in IMAGE_DATASETS:
            raise ValueError(f"augment: augmentation applies to image datasets, not '{self.name}'")
        return self


class ModelConfig(_Strict):
    arch: Literal["mlp", "cnn", "resnet", "rnn", "lstm", "gru", "transformer"] = Field(
        "mlp", description="mlp for tables; cnn or resnet for images; rnn/lstm/gru/transformer for sequences and text."
    )
    hidden: list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]] = Field(
        default_factory=lambda: [256, 128],
        min_length=1,
        max_length=MAX_DEPTH,
        description=f"Layer widths (channels for cnn, hidden size per layer for rnn/transformer); each 1–{MAX_WIDTH}.",
    )
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout probability after each hidden layer.")
    batchnorm: bool = Field(True, description="Batch normalisation after each hidden layer (mlp, cnn).")
    activation: Literal["relu", "tanh", "gelu", "sigmoid", "leaky_relu"] = "relu"
    heads: int = Field(4, ge=1, le=16, description="Attention heads (transformer); must divide the width.")
    depth: int = Field(
        1,
        ge=1,
        le=18,
        description="Convs per block (cnn) or residual blocks per stage (resnet: "
        "3 with hidden [16, 32, 64] is ResNet-20).",
    )
    embed_dim: int = Field(64, ge=4, le=1024, description="Word embedding width (rnn/lstm/gru on text).")
    pooling: Literal["last", "mean", "max"] = Field(
        "last",
        description="How a sequence becomes one vector: last step (rnn/lstm/gru), mean or max over steps "
        "('last' is the mean for a transformer).",
    )

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
        if arch in IMAGE_ARCHS and name not in IMAGE_DATASETS:
            raise ValueError(
                f"model.arch: {arch} needs image data ({', '.join(sorted(IMAGE_DATASETS))}), not dataset '{name}'"
            )
        if arch in SEQUENCE_ARCHS and name not in SEQUENCE_DATASETS:
            raise ValueError(
                f"model.arch: {arch} needs sequences or text ({', '.join(sorted(SEQUENCE_DATASETS))}), "
                f"not dataset '{name}'"
            )
        if name in TEXT_DATASETS and arch not in SEQUENCE_ARCHS:
            raise ValueError(f"model.arch: text ('{name}') needs rnn, lstm, gru or transformer, not {arch}")
        if self.model.pooling != "last" and arch not in SEQUENCE_ARCHS:
            raise ValueError(f"model.pooling: applies to rnn/lstm/gru/transformer, not {arch}")
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


# Parameters that a choice ignores, as (dotted path, "is it ignored by this config?"). Each is reset to
# its default by `canonical_config`, so that it cannot split one configuration into two groups. Only what
# the engine is known to ignore is listed: a new dataset or architecture keeps all its parameters.
STORED_DATASETS_FIXED = {"mnist", "fashion_mnist", "cifar10", "ag_news", "images", "text"}
FIXED_SIZE_DATASETS = {"digits", "iris", "wine", "breast_cancer", "diabetes", "csv"} | STORED_DATASETS_FIXED
UPLOADED_DATASETS = {"csv", "images", "text"}
NO_MOMENTUM_OPTIMIZERS = {"gd", "sgd", "adagrad", "adam", "adamw"}
DEFAULT_MOMENTUM = 0.9  # what momentum/nesterov use when momentum is left at 0 (workers/training/optim.py)
_UNUSED: list[tuple[str, Callable[[RunConfig], bool]]] = [
    ("dataset.task", lambda c: c.dataset.name != "csv"),
    ("dataset.upload", lambda c: c.dataset.name not in UPLOADED_DATASETS),
    ("dataset.target", lambda c: c.dataset.name not in ("csv", "text")),
    ("dataset.text_column", lambda c: c.dataset.name != "text"),
    ("dataset.vocab_size", lambda c: c.dataset.name not in TEXT_DATASETS),
    ("dataset.max_tokens", lambda c: c.dataset.name not in TEXT_DATASETS),
    ("dataset.preprocessing.one_hot", lambda c: c.dataset.name != "csv"),
    ("dataset.n_samples", lambda c: c.dataset.name in FIXED_SIZE_DATASETS),
    ("dataset.n_features", lambda c: c.dataset.name in FIXED_SIZE_DATASETS | {"moons", "sequence"}),
    ("model.batchnorm", lambda c: c.model.arch in SEQUENCE_ARCHS),
    ("model.activation", lambda c: c.model.arch in SEQUENCE_ARCHS - {"transformer"}),
    ("model.heads", lambda c: c.model.arch in {"mlp", "cnn", "resnet", "rnn", "lstm", "gru"}),
    ("model.depth", lambda c: c.model.arch not in IMAGE_ARCHS),
    # A word embedding's width: recurrent models on text only (a transformer embeds to its own width).
    ("model.embed_dim", lambda c: not (c.model.arch in {"rnn", "lstm", "gru"} and c.dataset.name in TEXT_DATASETS)),
    ("optimizer.momentum", lambda c: c.optimizer.name in NO_MOMENTUM_OPTIMIZERS),
    ("batch_size", lambda c: c.optimizer.name == "gd"),
    ("schedule.gamma", lambda c: c.schedule.name not in ("exponential", "step")),
    ("schedule.step_size", lambda c: c.schedule.name != "step"),
    ("schedule.warmup_epochs", lambda c: c.schedule.name != "warmup_cosine"),
    ("schedule.factor", lambda c: c.schedule.name != "plateau"),
    ("schedule.patience", lambda c: c.schedule.name != "plateau"),
    # A constant schedule only reads min_lr when it lies above the LR (the floor then lifts it).
    ("schedule.min_lr", lambda c: c.schedule.name == "constant" and c.schedule.min_lr <= c.optimizer.lr),
    ("loss.label_smoothing", lambda c: c.loss.name != "cross_entropy"),
    ("loss.focal_gamma", lambda c: c.loss.name != "focal"),
    ("loss.huber_delta", lambda c: c.loss.name != "huber"),
]


def canonical_config(config: RunConfig) -> RunConfig:
    """The one form of a configuration that every entry point (form, API, sweep, CSV upload) stores.

    Parameters the chosen options ignore are reset to their defaults, and values that mean the same
    training are written one way (momentum 0 of momentum/nesterov is 0.9; a transformer has one
    width and only gelu or relu), so `group_hash` changes only with what changes training.
    Idempotent. A CSV task equal to the one the data implies is left to the caller, who reads the data.
    """
    data = config.model_dump(mode="json")
    for path, unused in _UNUSED:
        if unused(config):
            _reset(data, path)
    if config.optimizer.name in ("momentum", "nesterov") and config.optimizer.momentum == 0:
        data["optimizer"]["momentum"] = DEFAULT_MOMENTUM
    if config.model.arch == "transformer":
        data["model"]["activation"] = "gelu" if config.model.activation == "gelu" else "relu"
        data["model"]["hidden"] = [config.model.hidden[0]] * len(config.model.hidden)
    return RunConfig.model_validate(data)


def _reset(data: dict, path: str) -> None:
    """Set the field at dotted `path` of a dumped config to the schema's default."""
    *parents, leaf = path.split(".")
    node, model = data, RunConfig
    for part in parents:
        node, model = node[part], model.model_fields[part].annotation
    node[leaf] = model.model_fields[leaf].get_default(call_default_factory=True)


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
        "mnist": "MNIST handwritten digits, 28×28, 60,000 + 10,000 test (from the worker's dataset store)",
        "fashion_mnist": "Fashion-MNIST clothing, 28×28, 60,000 + 10,000 test (dataset store)",
        "cifar10": "CIFAR-10 objects, 32×32 colour, 50,000 + 10,000 test (dataset store)",
        "ag_news": "AG News topics from headline + description, 120,000 + 7,600 test (dataset store)",
        "images": "an image ZIP of your team (one folder per class)",
        "text": "an uploaded CSV with a text column and a label column",
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
        "cnn": "conv–BN–activation–pool blocks over images; width per block, depth convs each",
        "resnet": "residual network with a CIFAR stem; stage widths in hidden, depth blocks per stage",
        "rnn": "plain recurrent net; short sequences",
        "lstm": "gated recurrent net; longer sequences",
        "gru": "lighter gated recurrent net",
        "transformer": "self-attention encoder; sequences, needs more data",
    },
    "model.pooling": {
        "last": "the state after the last real step; the classic for rnn/lstm/gru",
        "mean": "average over the real steps (padding excluded); steadier on long texts",
        "max": "strongest feature anywhere in the sequence; keyword-like signals",
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

"""What to change next, for a verdict, in terms of the run config's fields.

Pure Python, no Django. The suggestions read the run's config (a dict shaped
like the stored ``RunConfig``; missing keys mean "not known") and never
propose what is already set: no "normalise the inputs" for normalised
inputs, no "add batch norm" when it is on, no "add dropout" at dropout 0.5.
Each suggestion appears once.
"""

from __future__ import annotations

from typing import Any

_UNKNOWN = object()
BATCHNORM_ARCHS = {"mlp", "cnn"}  # where model.batchnorm applies


def _get(config: dict, path: str, default: Any = _UNKNOWN) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _is(config: dict, path: str, *values: Any) -> bool:
    """True only when the config is known to hold one of ``values`` at ``path``."""
    return _get(config, path) in values


def suggest(verdict: str, evidence: dict, config: dict) -> list[str]:
    """Concrete next steps for ``verdict``, none of which the config already does, without repeats."""
    out = _BY_VERDICT[verdict](evidence, config)
    grad = evidence.get("grad_health")
    if grad == "vanishing":
        if _get(config, "model.arch", "mlp") in BATCHNORM_ARCHS and not _is(config, "model.batchnorm", True):
            out.append("gradients are vanishing: enable batch norm (model.batchnorm)")
        if not _is(config, "model.activation", "relu", "leaky_relu", "gelu"):
            out.append("gradients are vanishing: use relu (model.activation relu)")
    elif grad == "exploding" and not any("grad_clip_norm" in line for line in out):
        out += [f"gradients are exploding: {line}" for line in _clip(config)]
    return list(dict.fromkeys(out))


def _lr_down(config: dict, factor: str) -> str:
    lr = _get(config, "optimizer.lr", None)
    now = f" from {lr:g}" if isinstance(lr, (int, float)) else ""
    return f"lower the learning rate{now} (optimizer.lr ×{factor})"


def _clip(config: dict) -> list[str]:
    clip = _get(config, "regularization.grad_clip_norm", None)
    if clip is None:
        return ["clip gradients (regularization.grad_clip_norm 1.0)"]
    if isinstance(clip, (int, float)) and clip > 1.0:
        return [f"clip gradients harder (regularization.grad_clip_norm {clip:g} → 1.0)"]
    return []


def _diverged(ev: dict, config: dict) -> list[str]:
    out = [_lr_down(config, "0.1"), *_clip(config)]
    if not _is(config, "schedule.name", "warmup_cosine"):
        out.append("warm the learning rate up (schedule.name warmup_cosine)")
    if _is(config, "dataset.preprocessing.normalize", "none"):
        out.append("normalise the inputs (dataset.preprocessing.normalize standard)")
    return out


def _unstable(ev: dict, config: dict) -> list[str]:
    out = [_lr_down(config, "0.1" if ev.get("collapsed_to_chance") else "0.1–0.5"), *_clip(config)]
    batch = _get(config, "batch_size", None)
    if not _is(config, "optimizer.name", "gd"):
        out.append(f"increase batch_size (now {batch})" if isinstance(batch, int) else "increase batch_size")
    if _is(config, "schedule.name", "constant", _UNKNOWN):
        out.append("use a schedule (schedule.name cosine / plateau)")
    return out


def _underfitting(ev: dict, config: dict) -> list[str]:
    hidden = _get(config, "model.hidden", None)
    out = [f"use a larger model (model.hidden, now {hidden})" if hidden else "use a larger model (model.hidden)"]
    if ev.get("finished", True):
        out.append("train longer (epochs)")
    out.append("raise the learning rate (optimizer.lr ×3–10)")
    if not _is(config, "optimizer.name", "adam", "adamw"):
        out.append("switch to adam (optimizer.name adam)")
    reg = [
        f"{name} {value:g}"
        for name in ("regularization.l2", "regularization.l1", "model.dropout", "optimizer.weight_decay")
        if isinstance(value := _get(config, name, None), (int, float)) and value > 0
    ]
    if reg:
        out.append(f"lower the regularization ({', '.join(reg)})")
    elif not config:
        out.append("lower the regularization (regularization.l2, model.dropout)")
    return out


def _overfitting(ev: dict, config: dict) -> list[str]:
    out = []
    if _get(config, "regularization.early_stopping_patience", None) is None:
        out.append(
            f"enable early stopping (regularization.early_stopping_patience 5) — best epoch was {ev.get('best_epoch')}"
        )
    dropout = _get(config, "model.dropout", None)
    if dropout is None or dropout < 0.3:
        out.append("add dropout (model.dropout 0.3–0.5)")
    no_l2 = not _get(config, "regularization.l2", 0) and not _get(config, "optimizer.weight_decay", 0)
    if no_l2:
        out.append("add an L2 penalty (regularization.l2 1e-4)")
    else:
        out.append("raise the L2 penalty (regularization.l2 ×10)")
    out.append("use a smaller model (model.hidden) or more training data (dataset.val_fraction lower)")
    return out


def _still_improving(ev: dict, config: dict) -> list[str]:
    epochs = _get(config, "epochs", None)
    if not ev.get("finished", True):
        out = ["let it run: the validation loss is still falling"]
    elif isinstance(epochs, int):
        out = [f"train longer (epochs {epochs} → {2 * epochs})"]
    else:
        out = ["train longer (epochs ×2)"]
    out.append("raise the learning rate a little (optimizer.lr ×2–3)")
    if _is(config, "schedule.name", "constant", _UNKNOWN):
        out.append("use a schedule (schedule.name cosine)")
    return out


def _good_fit(ev: dict, config: dict) -> list[str]:
    return ["keep this configuration; run more seeds before comparing it with others"]


_BY_VERDICT = {
    "diverged": _diverged,
    "unstable": _unstable,
    "underfitting": _underfitting,
    "overfitting": _overfitting,
    "still_improving": _still_improving,
    "good_fit": _good_fit,
}

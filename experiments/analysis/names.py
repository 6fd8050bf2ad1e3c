"""Run names made from differences: what sets a config apart from a reference, in a few short words.

Pure functions over config dicts (as stored, `model_dump(mode="json")`): no Django. A run is named
at launch by what it changes against its experiment's reference config ("l2 0.1 · seed 0"), and a
leaderboard group by the factors in which the groups differ ("sgd lr 0.01").
"""

from __future__ import annotations

from typing import Any

from experiments.analysis.tables import flatten_config
from workers.training.config import RunConfig

SEP = " · "
# The sections whose changed fields read as one phrase: "sgd lr 0.01", "cosine warmup 3", "focal γ 3".
PHRASES = ("optimizer", "schedule", "loss")
# Flat path -> short word before the value; "" shows the value alone (a name such as "adam" or "iris").
SHORT: dict[str, str] = {
    "optimizer.name": "",
    "optimizer.lr": "lr",
    "optimizer.momentum": "mom",
    "optimizer.weight_decay": "wd",
    "schedule.name": "",
    "schedule.gamma": "γ",
    "schedule.step_size": "every",
    "schedule.warmup_epochs": "warmup",
    "schedule.min_lr": "min lr",
    "loss.name": "",
    "loss.label_smoothing": "ls",
    "loss.focal_gamma": "γ",
    "loss.huber_delta": "δ",
    "batch_size": "bs",
    "epochs": "epochs",
    "regularization.l1": "l1",
    "regularization.l2": "l2",
    "regularization.early_stopping_patience": "patience",
    "regularization.grad_clip_norm": "clip",
    "model.dropout": "dropout",
    "model.batchnorm": "bn",
    "model.activation": "",
    "model.heads": "heads",
    "dataset.name": "",
    "dataset.task": "",
    "dataset.val_fraction": "val",
    "dataset.n_samples": "n",
    "dataset.n_features": "features",
    "dataset.upload": "upload",
    "dataset.target": "target",
    "dataset.preprocessing.normalize": "norm",
    "dataset.preprocessing.one_hot": "one-hot",
    "dataset.preprocessing.drop_duplicates": "dedup",
    "device": "",
    "precision": "",
}
ARCH = ("model.arch", "model.hidden")  # one word: "mlp 512-256"
NOT_NAMED = ("seed",)  # the seed always comes last, on its own


def value_text(value: Any) -> str:
    """A config value as a person reads it: lists as 256-128, floats short."""
    if isinstance(value, list):
        return "-".join(value_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def field_text(path: str, value: Any) -> str:
    """One changed field in a few characters: "lr 0.01", "adam", "no bn", "dropout 0.2"."""
    word = SHORT.get(path, path.rsplit(".", 1)[-1].replace("_", " "))
    if isinstance(value, bool) or value is None:
        word = word or path.rsplit(".", 1)[-1].replace("_", " ")
        return word if value else f"no {word}"
    return f"{word} {value_text(value)}" if word else value_text(value)


def arch_text(flat: dict[str, Any]) -> str:
    """ "mlp 256-128": the architecture and its widths."""
    return " ".join(value_text(flat[p]) for p in ARCH if flat.get(p) not in (None, []))


def describe(values: dict[str, Any], *, shortest_first: bool = True) -> list[str]:
    """The words for some flat fields and their values, shortest first (else, and among equals, in their order)."""
    words: list[str] = []
    phrases: dict[str, list[str]] = {}
    if "model.arch" in values:
        words.append(" ".join(value_text(values[p]) for p in ARCH if values.get(p) not in (None, [])))
    elif "model.hidden" in values:  # widths alone (the groups share an architecture) need their word
        words.append(f"hidden {value_text(values['model.hidden'])}")
    for path, value in values.items():
        if path in ARCH or path in NOT_NAMED:
            continue
        section = path.split(".", 1)[0]
        if section in PHRASES and "." in path:
            phrase = phrases.setdefault(section, [])
            # the name leads its phrase ("sgd lr 0.01"), whatever order the fields came in
            phrase.insert(0 if path.endswith(".name") else len(phrase), field_text(path, value))
        else:
            words.append(field_text(path, value))
    words += [" ".join(p) for p in phrases.values()]
    words = [w for w in words if w]
    return sorted(words, key=len) if shortest_first else words


def changes(config: dict, reference: dict) -> dict[str, Any]:
    """The flat fields of `config` that differ from `reference` (the seed aside); the arch comes whole."""
    flat, ref = flatten_config(config), flatten_config(reference)
    out = {p: v for p, v in flat.items() if p not in NOT_NAMED and ref.get(p, _MISSING) != v}
    if any(p in out for p in ARCH):
        out.update({p: flat.get(p) for p in ARCH})
    return out


def run_name(config: dict, reference: dict, *, base: str, with_base: bool = False, limit: int = 200) -> str:
    """ "l2 0.1 · sgd lr 0.01 · seed 1": what `config` changes against `reference`, shortest first, seed last.

    `base` (the reference's own name, e.g. "tutorial mlp") leads when asked, or when nothing but the seed differs.
    At most `limit` characters: the longest changes give way to "+3 more" (the full config is on hover).
    """
    words = describe(changes(config, reference))
    if with_base or not words:
        words.insert(0, base)
    seed = f"seed {config.get('seed', 0)}"
    kept: list[str] = []
    for word in words:
        if len(SEP.join([*kept, word, f"+{len(words)} more", seed])) > limit:
            break
        kept.append(word)
    if len(kept) < len(words):
        kept.append(f"+{len(words) - len(kept)} more")
    return SEP.join([*kept, seed])


def group_label(factors: dict[str, Any], *, missing: Any = "—") -> str:
    """A leaderboard configuration by the factors in which the groups differ: "l2 0.1 · sgd lr 0.01".

    In the factors' order, the same for every group, so that a column of labels reads as a table.
    """
    present = {path: v for path, v in factors.items() if v != missing}  # a field this config lacks says nothing
    return SEP.join(describe(present, shortest_first=False))


# Every field of the run schema in its declared order (dataset first, as the form shows it).
SCHEMA_ORDER = {path: i for i, path in enumerate(flatten_config(RunConfig().model_dump(mode="json")))}


def config_title(config: dict) -> str:
    """The full configuration, one `field = value` a line, in the schema's order: the hover text beside a short name.

    Ordered here, not by the stored JSON: PostgreSQL's jsonb keeps keys in its own order, SQLite as written.
    """
    config = config or {}
    key = repr(config)  # exact (nan stays nan); a page of runs, or the leaderboard's rows, repeats a few configs
    title = _titles.get(key)
    if title is None:
        if len(_titles) >= TITLES_KEPT:
            _titles.clear()
        title = _titles[key] = _title(config)
    return title


TITLES_KEPT = 4096
_titles: dict[str, str] = {}


def _title(config: dict) -> str:
    flat = flatten_config(config)
    paths = sorted(flat, key=lambda p: (SCHEMA_ORDER.get(p, len(SCHEMA_ORDER)), p))
    return "\n".join(f"{path} = {value_text(flat[path])}" for path in paths)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()

"""Forms. The launch form is generated from the run-config schema, so the two cannot drift apart."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

import annotated_types as at
from django import forms
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo

from experiments.analysis.tables import flatten_config
from experiments.errors import error_location
from experiments.models import Experiment, Membership, Upload
from experiments.services.sweeps import FACTORS
from workers.training import config as _cfg
from workers.training.config import CHOICE_HELP, RunConfig
from workers.training.datasets import SETS as STORED_DATASETS
from workers.training.images import ZipLimits

SEP = "__"

# Progressive disclosure: a field the chosen options ignore is hidden (by run_form.js; without JavaScript
# every field shows). field -> (the choice it depends on, the values of that choice it applies to).
_SYNTHETIC = {"synthetic_classification", "synthetic_regression", "moons", "sequence"}
APPLIES_WHEN: dict[str, tuple[str, set[str]]] = {
    "dataset__n_samples": ("dataset__name", _SYNTHETIC),
    "dataset__n_features": ("dataset__name", {"synthetic_classification", "synthetic_regression"}),
    "dataset__upload": ("dataset__name", {"csv", "images", "text"}),
    "dataset__target": ("dataset__name", {"csv", "text"}),
    "dataset__text_column": ("dataset__name", {"text"}),
    "dataset__vocab_size": ("dataset__name", {"ag_news", "text"}),
    "dataset__max_tokens": ("dataset__name", {"ag_news", "text"}),
    "dataset__augment__crop_padding": ("dataset__name", {"mnist", "fashion_mnist", "cifar10", "images"}),
    "dataset__augment__flip": ("dataset__name", {"mnist", "fashion_mnist", "cifar10", "images"}),
    "dataset__task": ("dataset__name", {"csv"}),
    "dataset__preprocessing__impute": ("dataset__name", {"csv"}),
    "dataset__preprocessing__one_hot": ("dataset__name", {"csv"}),
    "model__batchnorm": ("model__arch", {"mlp", "cnn", "resnet"}),
    "model__activation": ("model__arch", {"mlp", "cnn", "resnet", "transformer"}),
    "model__heads": ("model__arch", {"transformer"}),
    "model__depth": ("model__arch", {"cnn", "resnet"}),
    "model__embed_dim": ("model__arch", {"rnn", "lstm", "gru"}),
    "model__pooling": ("model__arch", {"rnn", "lstm", "gru", "transformer"}),
    "optimizer__momentum": ("optimizer__name", {"momentum", "nesterov", "rmsprop"}),
    "schedule__gamma": ("schedule__name", {"exponential", "step"}),
    "schedule__step_size": ("schedule__name", {"step"}),
    "schedule__warmup_epochs": ("schedule__name", {"warmup_cosine"}),
    "schedule__factor": ("schedule__name", {"plateau"}),
    "schedule__patience": ("schedule__name", {"plateau"}),
    "schedule__min_lr": ("schedule__name", {"exponential", "step", "cosine", "warmup_cosine", "plateau"}),
    "loss__label_smoothing": ("loss__name", {"cross_entropy"}),
    "loss__focal_gamma": ("loss__name", {"focal"}),
    "loss__huber_delta": ("loss__name", {"huber"}),
    "batch_size": ("optimizer__name", {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}),
}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _unwrap_optional(annotation) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bound_attrs(info: FieldInfo) -> dict[str, Any]:
    """The schema's bounds as data attributes, for the client-side hint (which words them as the help text does)."""
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, (at.Ge, at.Gt)):
            out["data-lo"] = m.ge if isinstance(m, at.Ge) else m.gt
            out["data-lo-open"] = "1" if isinstance(m, at.Gt) else ""
        if isinstance(m, (at.Le, at.Lt)):
            out["data-hi"] = m.le if isinstance(m, at.Le) else m.lt
            out["data-hi-open"] = "1" if isinstance(m, at.Lt) else ""
    text, _ = _limits(info)
    if out and text:
        out["data-allowed"] = f"Allowed: {text}."
    return out


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _limits(info: FieldInfo) -> tuple[str, list[str]]:
    """The allowed range as text ("0 ≤ value < 1"), and the numbers it names."""
    lo = hi = ""
    nums: list[str] = []
    for m in info.metadata:
        if isinstance(m, (at.Ge, at.Gt)):
            v = m.ge if isinstance(m, at.Ge) else m.gt
            lo = f"{_num(v)} {'≤' if isinstance(m, at.Ge) else '<'} "
            nums.append(_num(v))
        elif isinstance(m, (at.Le, at.Lt)):
            v = m.le if isinstance(m, at.Le) else m.lt
            hi = f" {'≤' if isinstance(m, at.Le) else '<'} {_num(v)}"
            nums.append(_num(v))
        elif isinstance(m, at.MaxLen):
            return f"at most {m.max_length} values", [str(m.max_length)]
    return (f"{lo}value{hi}" if nums else ""), nums


def _with_limits(help_text: str, info: FieldInfo) -> str:
    """Every bound that protects the GPUs is shown to the user, in the words the error and the hint use."""
    text, _ = _limits(info)
    return f"{help_text} Allowed: {text}.".strip() if text else help_text


def _form_field(name: str, info: FieldInfo) -> forms.Field:
    annotation, optional = _unwrap_optional(info.annotation)
    label = name.rsplit(SEP, 1)[-1].replace("_", " ").capitalize()
    common = {"label": label, "help_text": _with_limits(info.description or "", info), "required": not optional}
    if typing.get_origin(annotation) is Literal:
        # Short option texts (a select is narrow); what the chosen one does is written under it.
        helps = CHOICE_HELP.get(name.replace(SEP, "."), {})
        values = typing.get_args(annotation)
        choices = [(c, c) for c in values]
        if optional:  # None means "inferred from the data"; a form must be able to say it, as the API does
            choices.insert(0, ("", "— inferred from the data —"))
        field = forms.ChoiceField(choices=choices, **common)
        if helps:
            field.widget.attrs["data-choice-help"] = json.dumps({c: helps[c] for c in values if c in helps})
        return field
    if annotation is bool:
        return forms.BooleanField(**{**common, "required": False})
    if annotation is int:
        return forms.IntegerField(**common, widget=forms.NumberInput(attrs=_bound_attrs(info)))
    if annotation is float:
        return forms.FloatField(**common, widget=forms.NumberInput(attrs={"step": "any", **_bound_attrs(info)}))
    if typing.get_origin(annotation) is list:
        common["help_text"] += " Comma-separated, e.g. 256,128."
        return forms.CharField(**common)
    return forms.CharField(**common, max_length=200)


def schema_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, tuple[FieldInfo, type]]:
    """Leaf fields of the schema, flattened to `section__key` names."""
    out: dict[str, tuple[FieldInfo, type]] = {}
    for key, info in model.model_fields.items():
        name = f"{prefix}{key}"
        annotation, _ = _unwrap_optional(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(schema_fields(annotation, prefix=name + SEP))
        else:
            out[name] = (info, annotation)
    return out


def flatten(data: dict) -> dict[str, Any]:
    """A config as form values: `section__key` names, lists written as "256,128"."""
    flat = flatten_config(data, sep=SEP)
    return {k: ",".join(str(x) for x in v) if isinstance(v, list) else v for k, v in flat.items()}


def unflatten(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split(SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


# An uploaded dataset needs its file's fields to validate at all; any values do for asking what fits it.
_UPLOAD_FIELDS = {
    "csv": {"upload": 1, "target": "y"},
    "images": {"upload": 1},
    "text": {"upload": 1, "target": "y", "text_column": "t"},
}


def _fits(field: str, values: tuple[str, ...], default_loss: dict[str, str]) -> dict[str, list[str]]:
    """For each dataset, the values of `field` ("loss.name" or "model.arch") the schema accepts with it.

    Asked of RunConfig itself, so the form offers what the server would take (one source: the schema).
    """
    section, key = field.split(".")
    out: dict[str, list[str]] = {}
    for dataset, (task, _) in _cfg.DATASETS.items():
        base = {"dataset": {"name": dataset, **_UPLOAD_FIELDS.get(dataset, {})}}
        base["loss"] = {"name": default_loss[task]}
        if dataset in _cfg.TEXT_DATASETS:  # texts train only sequence models: ask about losses with one
            base["model"] = {"arch": "lstm"}
        fits = []
        for value in values:
            try:
                RunConfig.model_validate({**base, section: {**base.get(section, {}), key: value}})
                fits.append(value)
            except PydanticValidationError:
                pass
        out[dataset] = fits
    return out


_DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}
FITS_DATASET = {
    name: _fits(name.replace(SEP, "."), typing.get_args(schema_fields()[name][1]), _DEFAULT_LOSS)
    for name in ("loss__name", "model__arch")
}


_UNIT = {Upload.Kind.TABLE: "rows", Upload.Kind.IMAGES: "images", Upload.Kind.TEXT: "texts"}


class SelectWithDisabled(forms.Select):
    """A select whose listed options are shown but cannot be chosen."""

    def __init__(self, *args, disabled: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled = disabled

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.disabled:
            option["attrs"]["disabled"] = True
        return option


class RunLaunchForm(forms.Form):
    """Every key of the run config, with help texts and bounds from the schema."""

    name = forms.CharField(
        max_length=200,
        required=False,
        help_text="Optional; left empty, the run is named by what it changes against the experiment's first run, e.g. “l2 0.1 · seed 1”.",
    )

    def __init__(self, *args, initial_config: RunConfig | None = None, uploads=None, datasets_held=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.leaves = schema_fields()
        for name, (info, _) in self.leaves.items():
            self.fields[name] = _form_field(name, info)
        if uploads is not None:
            self._upload_fields(uploads)
        self.preset_values = flatten((initial_config or RunConfig()).model_dump(mode="json"))
        if datasets_held is not None:
            self._stored_datasets(set(datasets_held))
        if not self.is_bound:
            self.initial.update(self.preset_values)
        for name, field in self.fields.items():
            if name in self.preset_values:
                value = self.preset_values[name]
                field.widget.attrs["data-preset"] = (
                    "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                )
            if name in FITS_DATASET:
                field.widget.attrs["data-fits-dataset"] = json.dumps(FITS_DATASET[name])
            if name in APPLIES_WHEN:
                control, values = APPLIES_WHEN[name]
                field.widget.attrs.update({"data-when": control, "data-in": " ".join(sorted(values))})
        self.config: RunConfig | None = None

    def _upload_fields(self, uploads) -> None:
        """Dataset 'csv' picks one of the team's uploads by name, and a target column from it."""
        choices = [("", "— none —")] + [
            (str(u.pk), f"{u.original_name} ({u.get_kind_display()}, {u.rows} {_UNIT[u.kind]})") for u in uploads
        ]
        self.fields["dataset__upload"] = forms.ChoiceField(
            choices=choices,
            required=False,
            label="Upload",
            help_text="One of your team's uploads (add one on the Uploads page): a table CSV with dataset 'csv', "
            "an image ZIP with dataset 'images', a text CSV with dataset 'text'.",
        )
        self.fields["dataset__target"].widget.attrs["list"] = "target-columns"
        self.fields["dataset__target"].help_text = "With dataset 'csv': the column to predict."

    def _stored_datasets(self, held: set[str]) -> None:
        """Standard sets that no live worker holds are offered disabled, with the command that installs them.

        Not refused: a run on one queues and waits (its page says for what) until a worker that holds it beats.
        """
        field = self.fields["dataset__name"]
        absent = [name for name, _ in field.choices if name in STORED_DATASETS and name not in held]
        if not absent:
            return
        attrs = field.widget.attrs  # the bounds, the choice help and the show-when data stay on the new widget
        field.widget = SelectWithDisabled(attrs=attrs, choices=field.choices, disabled=set(absent))
        field.choices = [
            (name, f"{label} — on no live worker" if name in absent else label) for name, label in field.choices
        ]
        field.help_text += (
            f" Not on any live worker yet: {', '.join(absent)}. Install one on a worker's host with "
            "python manage.py datasets fetch NAME (or, offline, python manage.py datasets import NAME PATH)."
        )

    def add_service_error(self, exc) -> None:
        """Put a run_launch refusal next to the field it names ("dataset.upload" → dataset__upload)."""
        name = (exc.field or "").replace(".", SEP)
        self.add_error(name if name in self.fields else None, exc.message)

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) for each error, in form order: the summary at the top links to each field."""
        out = [("", "", str(e)) for e in self.non_field_errors()]
        for name in self.fields:
            for e in self.errors.get(name, []):
                out.append((self[name].id_for_label, self[name].label, str(e)))
        return out

    def sections(self) -> list[tuple[str, list]]:
        """Fields grouped by config section, for the template."""
        groups: dict[str, list] = {}
        for name in self.leaves:
            section = name.split(SEP)[0] if SEP in name else "training"
            groups.setdefault(section, []).append(self[name])
        return list(groups.items())

    def _raw_value(self, name: str, value: Any) -> Any:
        _, annotation = self.leaves[name]
        if typing.get_origin(_unwrap_optional(annotation)[0]) is list:
            parts = [p.strip() for p in str(value or "").split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError:
                self.add_error(name, "Enter whole numbers separated by commas.")
                return []
        if value == "":
            return None
        return value

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        flat = {n: self._raw_value(n, cleaned.get(n)) for n in self.leaves}
        flat = {n: v for n, v in flat.items() if v is not None or _unwrap_optional(self.leaves[n][0].annotation)[1]}
        try:
            self.config = RunConfig.model_validate(unflatten(flat))
        except PydanticValidationError as exc:
            for err in exc.errors():
                parts, msg = error_location(err["loc"], err["msg"])
                field = SEP.join(parts)
                if err["type"] in _BOUND_ERRORS and field in self.leaves:
                    msg = _limits(self.leaves[field][0])[0]
                    msg = f"Allowed: {msg}." if msg else err["msg"]
                self.add_error(field if field in self.fields else None, msg)
        return cleaned


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


def _csv_values(raw: str, cast, field: str) -> list:
    try:
        return [cast(p.strip()) for p in raw.split(",") if p.strip()]
    except ValueError:
        raise forms.ValidationError(f"Enter {field} values separated by commas.") from None


class SweepForm(forms.Form):
    """A grid over the strategy and loss choices, times N seeds. An empty field keeps the preset's value."""

    preset = forms.ChoiceField(help_text="The base config; the grid below replaces some of its values.")
    epochs = forms.IntegerField(min_value=1, max_value=_cfg.MAX_EPOCHS, initial=20)
    optimizer = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(c, c) for c in typing.get_args(_cfg.OptimizerConfig.model_fields["name"].annotation)],
    )
    lr = forms.CharField(required=False, label="Learning rates", help_text="e.g. 0.1, 0.01, 0.001")
    schedule = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(c, c) for c in typing.get_args(_cfg.ScheduleConfig.model_fields["name"].annotation)],
    )
    batch_size = forms.CharField(required=False, label="Batch sizes", help_text="e.g. 32, 128")
    l2 = forms.CharField(required=False, label="L2 penalties", help_text="e.g. 0, 0.0001, 0.001")
    l1 = forms.CharField(required=False, label="L1 penalties", help_text="e.g. 0, 0.0001")
    dropout = forms.CharField(required=False, label="Dropout", help_text="e.g. 0, 0.5")
    arch = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Architecture",
        choices=[(c, c) for c in typing.get_args(_cfg.ModelConfig.model_fields["arch"].annotation)],
    )
    hidden = forms.CharField(
        required=False, label="Layer widths", help_text="Alternatives separated by |, e.g. 256,128 | 64"
    )
    loss = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Loss",
        choices=[(c, c) for c in typing.get_args(_cfg.LossConfig.model_fields["name"].annotation)],
    )
    seeds = forms.IntegerField(min_value=1, max_value=20, initial=3, help_text="Runs per configuration, seeds 0…N−1.")

    def __init__(self, *args, presets: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.presets = presets
        self.fields["preset"].choices = [(k, label) for k, (label, _) in presets.items()]

    def clean_lr(self):
        return _csv_values(self.cleaned_data["lr"], float, "learning-rate")

    def clean_batch_size(self):
        return _csv_values(self.cleaned_data["batch_size"], int, "whole-number batch-size")

    def clean_l2(self):
        return _csv_values(self.cleaned_data["l2"], float, "L2")

    def clean_l1(self):
        return _csv_values(self.cleaned_data["l1"], float, "L1")

    def clean_dropout(self):
        return _csv_values(self.cleaned_data["dropout"], float, "dropout")

    def clean_hidden(self):
        alternatives = [a for a in self.cleaned_data["hidden"].split("|") if a.strip()]
        return [_csv_values(a, int, "whole-number width") for a in alternatives]

    def base_config(self) -> dict:
        base = self.presets[self.cleaned_data["preset"]][1].model_dump(mode="json")
        base["epochs"] = self.cleaned_data["epochs"]
        return base

    def grid(self) -> dict[str, list]:
        return {f: self.cleaned_data[f] for f in FACTORS if self.cleaned_data.get(f)}


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The username of someone who already has a LossLab account.")
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text="Admins can add and remove members; members can launch and see the team's work.",
    )


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=Upload.Kind.choices,
        initial=Upload.Kind.TABLE,
        required=False,  # a post of only a file (as before kinds existed) is a table CSV
        label="Kind",
        help_text="table CSV: columns to predict one from (dataset csv); image ZIP: one folder per class of PNG or "
        "JPEG images (dataset images); text CSV: a text column and a label column (dataset text).",
    )
    file = forms.FileField(
        label="File",
        help_text="A table CSV: UTF-8 text with a header row; comma, semicolon or tab separated; numeric or text columns.",
    )
    image_size = forms.IntegerField(
        min_value=4,
        max_value=ZipLimits.max_size,
        initial=32,
        required=False,
        label="Image size",
        help_text=f"Image ZIP: every image is resized to this many pixels square (4–{ZipLimits.max_size}).",
    )
    text_column = forms.CharField(
        max_length=200, required=False, initial="text", help_text="Text CSV: the header of the column holding the text."
    )
    label_column = forms.CharField(
        max_length=200,
        required=False,
        initial="label",
        help_text="Text CSV: the header of the column holding the class.",
    )

    def clean(self):
        cleaned = super().clean()
        cleaned["kind"] = cleaned.get("kind") or Upload.Kind.TABLE
        if cleaned["kind"] == Upload.Kind.IMAGES and cleaned.get("image_size") is None and not self.errors:
            self.add_error("image_size", "Choose the size images are resized to, e.g. 32.")
        return cleaned

    def upload_args(self) -> dict:
        """upload_create's arguments for the chosen kind."""
        d = self.cleaned_data
        args = {"file": d["file"], "kind": d["kind"]}
        if d["kind"] == Upload.Kind.IMAGES:
            args["image_size"] = d["image_size"]
        elif d["kind"] == Upload.Kind.TEXT:
            args.update(text_column=d["text_column"], label_column=d["label_column"])
        return args


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “nightly sweep script”.")

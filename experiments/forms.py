"""Forms. The launch form is generated from the run-config schema, so the two cannot drift apart."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import annotated_types as at
from django import forms
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo

from experiments.models import Experiment
from experiments.services import error_location
from workers.training.config import CHOICE_HELP, RunConfig

SEP = "__"


def _unwrap_optional(annotation) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, (at.Ge, at.Gt)):
            out["min_value"] = m.ge if isinstance(m, at.Ge) else m.gt
        if isinstance(m, (at.Le, at.Lt)):
            out["max_value"] = m.le if isinstance(m, at.Le) else m.lt
    return out


def _form_field(name: str, info: FieldInfo) -> forms.Field:
    annotation, optional = _unwrap_optional(info.annotation)
    label = name.rsplit(SEP, 1)[-1].replace("_", " ").capitalize()
    common = {"label": label, "help_text": info.description or "", "required": not optional}
    if typing.get_origin(annotation) is Literal:
        helps = CHOICE_HELP.get(name.replace(SEP, "."), {})
        choices = [(c, f"{c} — {helps[c]}" if c in helps else c) for c in typing.get_args(annotation)]
        return forms.ChoiceField(choices=choices, **common)
    if annotation is bool:
        return forms.BooleanField(**{**common, "required": False})
    if annotation is int:
        return forms.IntegerField(**common, **_bounds(info))
    if annotation is float:
        return forms.FloatField(**common, **_bounds(info))
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


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, prefix=f"{prefix}{key}{SEP}"))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = ",".join(str(v) for v in value)
        else:
            out[f"{prefix}{key}"] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split(SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


class RunLaunchForm(forms.Form):
    """Every key of the run config, with help texts and bounds from the schema."""

    name = forms.CharField(max_length=200, required=False, help_text="Optional; a name is made from the config.")

    def __init__(self, *args, initial_config: RunConfig | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.leaves = schema_fields()
        for name, (info, _) in self.leaves.items():
            self.fields[name] = _form_field(name, info)
        if not self.is_bound:
            self.initial.update(flatten((initial_config or RunConfig()).model_dump(mode="json")))
        self.config: RunConfig | None = None

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
                self.add_error(field if field in self.fields else None, msg)
        return cleaned


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

"""Every bound of the launch form reads the same in its help text, its client-side hint and the server's error."""

from __future__ import annotations

import annotated_types as at
import pytest

from tests.experiments.test_launch import form_data
from webapp.pages.forms import RunLaunchForm, schema_fields

BOUNDED = [
    (name, m)
    for name, (info, annotation) in schema_fields().items()
    if annotation in (int, float)
    for m in info.metadata
    if isinstance(m, (at.Ge, at.Gt, at.Le, at.Lt))
]


def _outside(m) -> float:
    """A value just past the bound `m`, on the side it forbids (the bound itself where it is strict)."""
    if isinstance(m, at.Gt):
        return m.gt
    if isinstance(m, at.Ge):
        return m.ge - 1
    if isinstance(m, at.Lt):
        return m.lt
    return m.le + 1


@pytest.mark.parametrize("name,bound", BOUNDED, ids=[f"{n}-{type(m).__name__}" for n, m in BOUNDED])
def test_a_value_past_a_bound_is_refused_in_the_words_of_the_help_text_and_the_hint(name, bound):
    form = RunLaunchForm(form_data(**{name: str(_outside(bound))}))
    assert not form.is_valid()
    allowed = form.fields[name].widget.attrs["data-allowed"]  # what run_form.js shows as you type
    assert form.errors[name] == [allowed], (name, form.errors)
    assert form.fields[name].help_text.endswith(allowed)
    assert allowed.startswith("Allowed: ") and "value" in allowed


def test_every_numeric_bound_is_covered():
    assert {"optimizer__lr", "epochs", "batch_size", "dataset__val_fraction", "model__dropout"} <= {
        n for n, _ in BOUNDED
    }

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


@register.filter
def config_value(value) -> str:
    """A config value as a person reads it: lists as 256-128, floats short, missing as a dash."""
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)


@register.filter
def verdict_label(verdict: str) -> str:
    return (verdict or "").replace("_", " ")


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)

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


def rough_duration(seconds: float) -> str:
    """A queue estimate is rough: say so ("~4 min"), never "3m 52s"."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60} min"


@register.simple_tag
def queue_place(run) -> str:
    """ "#3 in queue · starts in ~4 min" for a queued run; empty otherwise. Mirrored by queuePlace() in JS."""
    position = getattr(run, "queue_position", None)
    if not position:
        return ""
    starts = getattr(run, "starts_in", None)
    if starts is None:
        return f"#{position} in queue"
    if starts < 1:
        return f"#{position} in queue · starting"
    return f"#{position} in queue · starts in {rough_duration(starts)}"

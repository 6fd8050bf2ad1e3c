import json
from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

from experiments.analysis import names

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
def config_title(config) -> str:
    """The full configuration, one `field = value` a line: the hover text (title) of a run's short name."""
    return names.config_title(config if isinstance(config, dict) else {})


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
    waiting = getattr(run, "waiting_for", "")
    if waiting:
        return f"#{position} in queue · {waiting}"
    starts = getattr(run, "starts_in", None)
    if starts is None:
        return f"#{position} in queue"
    if starts < 1:
        return f"#{position} in queue · starting"
    return f"#{position} in queue · starts in {rough_duration(starts)}"


def relative_time(seconds: float) -> str:
    """ "3 min ago", "in 2 h": the one wording of a time on every page. Mirrored by LossLab.relativeTime in JS."""
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        words = f"{int(span // 60)} min"
    elif span < 86400:
        words = f"{int(span // 3600)} h"
    else:
        days = int(span // 86400)
        words = f"{days} day" if days == 1 else f"{days} days"
    return f"{words} ago" if seconds >= 0 else f"in {words}"


def exact_time(moment: datetime) -> str:
    """ "2026-11-30 23:42 UTC": the hover text, the same in JS (LossLab.exactTime)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@register.filter
def when(moment: datetime | None, empty: str = "–"):
    """A moment as `<time datetime=ISO title="exact">3 min ago</time>`; `empty` (e.g. "never") when there is none."""
    if moment is None:
        return empty
    iso = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    words = relative_time((timezone.now() - moment).total_seconds())
    return format_html('<time datetime="{}" title="{}">{}</time>', iso, exact_time(moment), words)

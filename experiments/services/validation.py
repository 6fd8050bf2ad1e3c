"""Checks every text a service stores: NUL bytes and lone surrogates break PostgreSQL and UTF-8."""

from __future__ import annotations

from typing import Any

from experiments.errors import Refused


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (NUL bytes and lone surrogates break PostgreSQL and UTF-8), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "must be valid Unicode text"
    return None


def check_text(value: str, field: str) -> None:
    problem = text_problem(value)
    if problem:
        raise Refused(f"{field.rsplit('.', 1)[-1].capitalize()} {problem}.", field=field)


def check_config_text(data: Any, path: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            check_config_text(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for value in data:
            check_config_text(value, path)
    elif isinstance(data, str):
        check_text(data, path)

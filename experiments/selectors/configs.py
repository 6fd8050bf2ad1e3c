"""Stored run configs, read defensively: a row may no longer parse (older rules, a hand edit, a bad restore).

Every read that interprets a run's config asks `config_read` first; a config that fails the one
schema shows as "invalid config" on its run and is left out (and counted) by the listings, the
leaderboard and the ranking, instead of breaking them for the whole team.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from experiments.errors import error_location
from workers.training.config import RunConfig

INVALID_CONFIG = "invalid config"


@dataclass(frozen=True)
class StoredConfig:
    config: RunConfig | None  # None: the stored config no longer parses
    problem: str = ""  # why, naming the field: "invalid config: epochs: Input should be ..."

    @property
    def valid(self) -> bool:
        return self.config is not None


def config_decode(text: str | bytes | None) -> Any:
    """A config read as JSON text (the leaderboard's Cast): orjson, else json for what orjson refuses (1e999, 2**64)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return None


def config_read(raw: Any) -> StoredConfig:
    """The run config a row stores, validated again by the one schema; never raises."""
    if not isinstance(raw, dict):
        return StoredConfig(None, f"{INVALID_CONFIG}: not a JSON object but {type(raw).__name__}")
    try:
        return StoredConfig(RunConfig.model_validate(raw))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        parts, msg = error_location(first.get("loc", ()), str(first.get("msg", "invalid")))
        return StoredConfig(None, f"{INVALID_CONFIG}: {'.'.join(parts) or 'config'}: {msg}")
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:  # a validator tripped on odd data
        return StoredConfig(None, f"{INVALID_CONFIG}: {exc}")


def config_valid(raw: Any) -> bool:
    return config_read(raw).valid


@functools.lru_cache(maxsize=4096)
def config_text_valid(text: str | None) -> bool:
    """config_valid for a config read as JSON text, cached by that text: the same text always gives the same
    answer, so a listing of 2,000 configurations validates each once per process, not on every request."""
    return config_valid(config_decode(text))

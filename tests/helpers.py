"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time


def tiny_config(**overrides) -> dict:
    """A config that trains in well under a second on the CPU."""
    config = {
        "dataset": {"name": "iris"},
        "model": {"arch": "mlp", "hidden": [16], "dropout": 0.0, "batchnorm": False},
        "optimizer": {"name": "adam", "lr": 0.01},
        "batch_size": 16,
        "epochs": 3,
        "seed": 0,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def wait_for(predicate, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def worker_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    host = s.get("HOST") or "127.0.0.1"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "") + "@" if s.get("USER") else ""
    return f"postgres://{auth}{host}:{s.get('PORT') or 5432}/{s['NAME']}"

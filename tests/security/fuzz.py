"""Reusable property-based fuzzing of JSON endpoints: no 500s, and every rejection names its field.

    sent = fuzz_post(client, "/api/diagnose", body_strategy, examples=500)

`body_strategy` draws either a JSON-able value (sent as JSON) or `Raw(bytes)`
(sent as is, to probe the parser). The helpers below build bodies that are
mostly valid with one hostile change, which reach deeper than random noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "=cmd|' /C calc'!A0",
    "=1+2",
    "@SUM(1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "9" * 400,
    "x" * 5000,
    "NaN",
    "Infinity",
    "-1e999",
    "\u202e\u0646",
    "{{ settings.SECRET_KEY }}",
    "%s%s%n",
]
HOSTILE_NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    -1e308,
    1e-320,
    0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(HOSTILE_TEXT)
    | st.sampled_from(HOSTILE_NUMBERS)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

hostile = st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS)
# What a mutation puts in place of a valid value: a known-nasty value half the time, anything else otherwise.
mutation_values = hostile | json_values


@dataclass(frozen=True)
class Raw:
    """A body sent byte for byte, not as JSON."""

    data: bytes


raw_bodies = st.builds(Raw, st.binary(max_size=200)) | st.builds(
    Raw,
    st.sampled_from(
        [
            b"",
            b"{",
            b"[1,2",
            b'{"a": NaN}',
            b"null",
            b"\xff\xfe",
            b'{"experiment": 1e999}',
            b'{"a":' * 200 + b"1" + b"}" * 200,
            b"\x00" * 10,
        ]
    ),
)


def leaf_paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(data, dict) and data:
        return [p for k, v in data.items() for p in leaf_paths(v, prefix + (k,))] + [prefix] * bool(prefix)
    return [prefix]


def _set(data: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    out = dict(data) if isinstance(data, dict) else {}
    if len(path) == 1 and delete:
        out.pop(path[0], None)
    else:
        out[path[0]] = _set(out.get(path[0]), path[1:], value, delete)
    return out


@st.composite
def mutated(draw, valid: dict, values=mutation_values) -> dict:
    """`valid` with one to three leaves (or whole sections) replaced by hostile values, dropped, or added."""
    data = valid
    for _ in range(draw(st.integers(1, 3))):
        paths = leaf_paths(data)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "add":
            path = path + (draw(st.text(min_size=1, max_size=12)),)
        data = _set(data, path, draw(values), delete=action == "delete")
    return data


def assert_clean(response, where: str) -> None:
    """Never a server error; a refusal carries errors that each name a field and say what is wrong."""
    assert response.status_code < 500, f"{where}: {response.status_code} {response.content[:500]!r}"
    if response.status_code >= 400:
        body = response.json()
        errors = body.get("errors")
        assert isinstance(errors, list) and errors, f"{where}: no field errors in {body}"
        for e in errors:
            assert isinstance(e.get("field"), str) and e["field"].strip(), f"{where}: unnamed field in {body}"
            assert isinstance(e.get("message"), str) and e["message"].strip(), f"{where}: empty message in {body}"


def post(client, path: str, body: Any, **extra):
    if isinstance(body, Raw):
        return client.generic("POST", path, body.data, content_type="application/json", **extra)
    # allow_nan: Python's json (and so the server) reads NaN/Infinity tokens; probe them too.
    return client.generic("POST", path, json.dumps(body), content_type="application/json", **extra)


def fuzz_post(client, path: str, bodies, *, examples: int, check=None) -> int:
    """POST `examples` drawn bodies to `path`; returns how many were sent. `check(body, response)` adds asserts."""
    sent = []

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck)
    )
    @given(body=bodies)
    def run(body):
        response = post(client, path, body)
        assert_clean(response, f"POST {path} {body!r:.300}")
        if check:
            check(body, response)
        sent.append(response.status_code)

    run()
    return len(sent)

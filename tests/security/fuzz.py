"""Reusable property-based fuzzing of JSON endpoints: no 500s, and every rejection names its field.

    sent = fuzz_post(client, "/api/diagnose", body_strategy, examples=500)

`body_strategy` draws either a JSON-able value (sent as JSON) or `Raw(bytes)`
(sent as is, to probe the parser); a value may hold `Token`s, JSON text put
in verbatim (1e999, a 400-digit number, nesting past any parser's depth).
`from_openapi` draws valid bodies from the API's own OpenAPI schema; the
helpers below make them hostile with one to three changes, which reach deeper
than random noise, and `content_types` sends them under any Content-Type.

Runs are reproducible: the "ci" profile is derandomized (the same examples on
every run); `HYPOTHESIS_PROFILE=explore` draws new ones, ten times as many
(with `--timeout=0`: 8,000 launches outlast pytest-timeout's 300 s on a busy machine).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_COMMON = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("explore", derandomize=False, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = 10 if PROFILE == "explore" else 1  # examples per test are multiplied by this

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
    2**53 + 1,
    2**63 - 1,
    10**400,
    -(10**400),
]


@dataclass(frozen=True)
class Token:
    """JSON text placed verbatim inside a body: what Python's json would never write."""

    text: str


HOSTILE_TOKENS = [
    Token("1e999"),
    Token("-1e999"),
    Token("1e-999"),
    Token("9" * 400 + ".5"),
    Token("-" + "9" * 400),
    Token("NaN"),
    Token("-Infinity"),
    Token("[" * 5000 + "]" * 5000),  # deeper than Python's recursion limit
    Token('{"a":' * 300 + "1" + "}" * 300),
    Token("[" * 60 + "1" + "]" * 60),
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

hostile = st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_TOKENS)
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
        if response.status_code in (401, 404) and isinstance(body.get("detail"), str):
            return  # not authenticated, or no such object (the id is the path): the API's documented shape
        errors = body.get("errors")
        assert isinstance(errors, list) and errors, f"{where}: no field errors in {body}"
        for e in errors:
            assert isinstance(e.get("field"), str) and e["field"].strip(), f"{where}: unnamed field in {body}"
            assert isinstance(e.get("message"), str) and e["message"].strip(), f"{where}: empty message in {body}"


def encode(body: Any) -> bytes:
    """A body as bytes: Raw as is, anything else as JSON with each Token's text put in verbatim."""
    if isinstance(body, Raw):
        return body.data
    tokens: list[str] = []

    def token(value):
        if not isinstance(value, Token):
            raise TypeError(type(value))
        tokens.append(value.text)
        return f"\x00TOKEN{len(tokens) - 1}\x00"

    # allow_nan: Python's json (and so the server) reads NaN/Infinity tokens; probe them too.
    text = json.dumps(body, default=token)
    for i, t in enumerate(tokens):
        text = text.replace(json.dumps(f"\x00TOKEN{i}\x00"), t, 1)
    return text.encode("utf-8", "surrogatepass")


# What a client may put in Content-Type: the API reads JSON only and must say so, never fail.
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=x",
    "multipart/form-data; boundary=" + "b" * 300,
    "multipart/mixed",
    "application/xml",
    "",
    ";;;",
    "application/json; charset=utf-16",
    "application/json; charset=nonsense",
]
# Not NUL, CR or LF: an HTTP server refuses such a header before Django sees it (Django itself would
# fail building the request, before any middleware, on `charset=\x00`).
header_text = st.text(st.characters(blacklist_characters="\x00\r\n", blacklist_categories=["Cs"]), max_size=40)
content_types = st.sampled_from(CONTENT_TYPES[:2]) | st.sampled_from(CONTENT_TYPES) | header_text


def post(client, path: str, body: Any, content_type: str = "application/json", **extra):
    data = encode(body)
    # CONTENT_TYPE in the environ: the test client drops content_type when the body is empty
    return client.generic("POST", path, data, content_type=content_type, CONTENT_TYPE=content_type, **extra)


def from_openapi(schema: dict, components: dict) -> st.SearchStrategy:
    """Bodies valid for a JSON schema as django-ninja writes it into the OpenAPI document.

    hypothesis-jsonschema would be the library for this, but its current release fails on the
    pinned Hypothesis (it reads a private API); the schemas here use only these keywords.
    """
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return st.deferred(lambda: from_openapi(components[name], components))
    if "allOf" in schema:
        return from_openapi(schema["allOf"][0], components)
    if "anyOf" in schema:
        return st.one_of([from_openapi(s, components) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        lo, hi = (
            schema.get("minimum", schema.get("exclusiveMinimum")),
            schema.get("maximum", schema.get("exclusiveMaximum")),
        )
        return st.floats(
            lo, hi, exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema, allow_nan=False
        )
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        lo = schema.get("minItems", 0)
        return st.lists(
            from_openapi(schema.get("items", {}), components),
            min_size=lo,
            max_size=max(lo, min(schema.get("maxItems", 5), 5)),
        )
    if kind == "object" or "properties" in schema:
        props = {k: from_openapi(v, components) for k, v in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    return json_values


def fuzz_post(client, path, bodies, *, examples: int, check=None, content_type=None) -> int:
    """POST `examples` drawn bodies to `path`; returns how many were sent. `check(body, response)` adds asserts.

    `path` may be a strategy (path parameters drawn too); `content_type` a strategy of Content-Type
    values (JSON otherwise).
    """
    sent = []
    paths = path if isinstance(path, st.SearchStrategy) else st.just(path)
    types = content_type if content_type is not None else st.just("application/json")

    @settings(settings.get_profile(PROFILE), max_examples=examples * SCALE)
    @given(url=paths, body=bodies, ctype=types)
    def run(url, body, ctype):
        response = post(client, url, body, ctype)
        assert_clean(response, f"POST {url} [{ctype!r}] {body!r:.300}")
        if check:
            check(body, response)
        sent.append(response.status_code)

    run()
    return len(sent)

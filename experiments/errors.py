"""The one way the domain refuses a request: `Refused(message, code=..., field=...)`.

Services, selectors and the queue raise it; they never speak HTTP. The edges
translate the code to a status in one place each: `experiments.api` for JSON
(see `HTTP_STATUS`) and `webapp.pages` (a middleware) for pages. Modelled on
Zulip's `JsonableError` with an `ErrorCode` and HackSoft's application errors.

Imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"  # a business rule refuses the input (400)
    MALFORMED = "malformed"  # the input does not parse as the schema says (422)
    NOT_FOUND = "not_found"  # absent, or not visible to this user: never a 403 that leaks existence (404)
    FORBIDDEN = "forbidden"  # visible, but this user may not change it (403)
    CONFLICT = "conflict"  # not in a state where this applies, e.g. cancelling a finished run (409)
    RATE_LIMITED = "rate_limited"  # too many launches; try later (429)


HTTP_STATUS = {
    ErrorCode.INVALID: 400,
    ErrorCode.MALFORMED: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
}


class Refused(Exception):
    """A request that cannot be carried out; `field` names the input at fault, `code` says what kind of no."""

    def __init__(self, message: str, *, field: str | None = None, code: ErrorCode = ErrorCode.INVALID):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    @property
    def status(self) -> int:
        """The HTTP status both edges answer with."""
        return HTTP_STATUS[self.code]


def not_found(what: str, *, field: str | None = None) -> Refused:
    return Refused(f"No such {what}.", field=field, code=ErrorCode.NOT_FOUND)


_PATH_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.+)$", re.S)


def error_location(loc: Sequence, msg: str) -> tuple[list[str], str]:
    """Where a schema error points, and its message.

    Cross-field checks in the schema name their field as a prefix ("loss.name: ..."),
    since pydantic locates model-level errors at the model itself. List indexes
    are dropped: the form field is `model.hidden`, not `model.hidden.1`.
    """
    msg = msg.removeprefix("Value error, ")
    parts = [str(p) for p in loc if not isinstance(p, int)]
    match = _PATH_PREFIX.match(msg)
    if match:
        prefix = match.group(1).split(".")
        # "hidden: ..." raised inside ModelConfig already sits at ["model"]; don't repeat it.
        parts = parts + [p for p in prefix if p not in parts[-1:]] if parts else prefix
        msg = match.group(2)
    return parts, msg

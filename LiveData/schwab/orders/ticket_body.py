"""An order request's body: read under a size limit, then JSON with exact numbers (Decimal from their
text). A ticket is a few hundred bytes; a body over MAX_BODY_BYTES is never parsed, let alone kept."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from LiveData.schwab.exceptions import RequestTooLarge

MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class Unreadable:
    """A request body that is no ticket at all: too large to read, or not JSON."""

    too_large: bool


TOO_LARGE, NOT_JSON = Unreadable(too_large=True), Unreadable(too_large=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # bare NaN / Infinity, which Python's json would accept


def read(body: bytes | None) -> Any:
    """The JSON of a request body (None: longer than MAX_BODY_BYTES, not read), numbers Decimal from
    their text; TOO_LARGE or NOT_JSON for what is no ticket (`parse` and `check_size` refuse them)."""
    if body is None or len(body) > MAX_BODY_BYTES:
        return TOO_LARGE
    try:
        return json.loads(body or b"null", parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        return NOT_JSON


def check_size(data: Any) -> None:
    """413 for a body too large to be a ticket (checked before anything else, so nothing of it is kept)."""
    if data is TOO_LARGE:
        raise RequestTooLarge

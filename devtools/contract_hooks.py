"""Schemathesis checks of our own, loaded by the contract check (SCHEMATHESIS_HOOKS=devtools.contract_hooks).

The document gives every error answer the one Error schema and lists, per operation and status, the
stable codes it may carry (`x-error-codes`): this check holds the server to that list."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def error_code_is_documented(ctx: Any, response: Any, case: Any) -> None:
    """An error answer's code is one its operation documents for that status."""
    if response.status_code < 400:
        return
    documented = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    codes = documented.get("x-error-codes")
    if codes is None:
        return  # an undocumented status is status_code_conformance's to report
    try:
        code = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return  # not JSON: content_type_conformance and response_schema_conformance report it
    if code not in codes:
        raise AssertionError(f"error code {code!r} is not documented for {response.status_code}: {codes}")

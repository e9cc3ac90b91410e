"""The OpenAPI document: valid, the same in the repository as served and from build to build, covering
every route, every body and nested document named, and true of what the views really answer (bodies
validated against the documented schema for their status, error codes among those it lists)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLPattern, get_resolver
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devtools.testing import connect, fault
from LiveData.schwab.web import api_types, openapi, openapi_schemas

pytestmark = pytest.mark.django_db
REPOSITORY_COPY = Path(__file__).resolve().parents[4] / "docs" / "openapi.json"
DOCUMENT_URI = "urn:thor:openapi"


def _validator(pointer: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(openapi.document(), default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry)


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def _body_schema(template: str, method: str, status: str) -> str:
    return f"/paths/{_escape(template)}/{method}/responses/{status}/content/application~1json/schema"


def conforms(template: str, method: str, response) -> None:
    """The response's status is documented for the operation, and its JSON body matches that schema."""
    responses = openapi.document()["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered undocumented {status}"
    content = responses[status].get("content")
    if content is None:
        return
    assert response["Content-Type"].startswith("application/json")
    _validator(_body_schema(template, method, status)).validate(response.json())
    if "x-error-codes" in responses[status]:
        assert response.json()["error"] in responses[status]["x-error-codes"]


def test_the_document_is_valid_openapi_3_1():
    validate(openapi.document())
    assert openapi.document()["openapi"] == "3.1.0"


def test_the_repository_copy_is_the_served_document(client):
    assert REPOSITORY_COPY.read_text() == openapi.document_text(), (
        "run: manage.py schwab_openapi > docs/openapi.json"
    )
    assert client.get("/schwab/openapi.json").json() == json.loads(REPOSITORY_COPY.read_text())


def test_every_route_is_documented_and_every_documented_path_exists():
    routes = {
        "/schwab/"
        + str(pattern.pattern)
        .replace("<str:account_id>", "{account_id}")
        .replace("<str:order_id>", "{order_id}")
        for pattern in get_resolver("LiveData.schwab.web.urls").url_patterns
        if isinstance(pattern, URLPattern) and not str(pattern.pattern).startswith("test/")
    }
    assert routes == set(openapi.document()["paths"])


def test_documented_examples_match_their_schemas():
    checked = 0
    for template, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                example = response.get("content", {}).get("application/json", {}).get("example")
                if example is not None:
                    _validator(_body_schema(template, method, status)).validate(example)
                    checked += 1
    assert checked >= 6


def test_real_answers_match_the_document(client, browser, schwab, trader, settings):
    for path in ("/schwab/accounts/", "/schwab/oauth/status/", "/schwab/account/summary/"):
        conforms(path, "get", client.get(path))  # anonymous: 401
    conforms("/schwab/accounts/", "get", browser.get("/schwab/accounts/"))  # not connected: 404
    conforms("/schwab/oauth/status/", "get", browser.get("/schwab/oauth/status/"))
    conforms("/schwab/oauth/callback/", "get", browser.get("/schwab/oauth/callback/?state=forged"))
    assert connect(browser, schwab).status_code == 302
    accounts = browser.get("/schwab/accounts/")
    conforms("/schwab/accounts/", "get", accounts)
    account_id = accounts.json()["accounts"][0]["account_id"]
    item = "/schwab/accounts/{account_id}/"
    latest = item + "positions/latest/"
    conforms(latest, "get", browser.get(f"/schwab/accounts/{account_id}/positions/latest/"))  # null
    conforms(item + "positions/", "get", browser.get(f"/schwab/accounts/{account_id}/positions/"))
    conforms(item + "balances/", "get", browser.get(f"/schwab/accounts/{account_id}/balances/"))
    conforms(latest, "get", browser.get(f"/schwab/accounts/{account_id}/positions/latest/"))
    conforms("/schwab/account/summary/", "get", browser.get("/schwab/account/summary/"))
    conforms(item + "positions/", "get", browser.get("/schwab/accounts/NOT-MINE/positions/"))  # 404
    conforms("/schwab/accounts/", "get", browser.post("/schwab/accounts/"))  # 405
    conforms("/schwab/health/", "get", browser.get("/schwab/health/"))
    fault(schwab, kind="503", count=3, path_prefix=f"/trader/v1/accounts/{account_id}")
    conforms(item + "balances/", "get", browser.get(f"/schwab/accounts/{account_id}/balances/"))  # 502
    conforms("/schwab/oauth/disconnect/", "post", browser.post("/schwab/oauth/disconnect/"))
    conforms("/schwab/accounts/", "get", browser.get("/schwab/accounts/"))  # disconnected: 404


def test_the_document_is_byte_stable_across_processes():
    """Built in fresh processes with different hash seeds (set and dict orders), the bytes are the same."""
    texts = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "DEBUG": "true"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        texts.add(
            subprocess.run(
                [sys.executable, "manage.py", "schwab_openapi"],
                cwd=REPOSITORY_COPY.parents[1],
                env=env,
                capture_output=True,
                check=True,
                timeout=120,
            ).stdout
        )
    assert texts == {REPOSITORY_COPY.read_bytes()}


def _schemas_with(key, node, path=""):
    """Every schema in `node` that has `key` (not following references), with where it is."""
    if isinstance(node, dict):
        if key in node:
            yield path, node
        for name, value in node.items():
            yield from _schemas_with(key, value, f"{path}/{name}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas_with(key, value, f"{path}/{index}")


def test_every_body_and_nested_document_is_a_named_schema():
    document = openapi.document()
    for name, schema in document["components"]["schemas"].items():
        # An object with properties is a document (a map of one type of value is not): named, if nested.
        nested = [path for path, _ in _schemas_with("properties", schema) if path]
        assert nested == [], f"{name} has unnamed objects at {nested}"
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                for media, content in body.get("content", {}).items():
                    if media == "application/json" and template != "/schwab/openapi.json":
                        assert set(content["schema"]) == {"$ref"}, (template, method, media)


def test_required_names_only_defined_properties():
    undefined = [
        f"{path}: {sorted(set(found['required']) - set(found.get('properties', {})))}"
        for path, found in _schemas_with("required", openapi.document())
        if isinstance(found["required"], list)  # not a parameter's `required: true`
        and set(found["required"]) - set(found.get("properties", {}))
    ]
    assert undefined == []


def test_every_error_answer_is_the_one_error_schema_listing_its_codes():
    codes = set(api_types._codes())
    for template, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and (template, status) != ("/schwab/health/", "503"):
                    assert response["content"]["application/json"]["schema"] == openapi_schemas.ref("Error")
                    assert set(response["x-error-codes"]) <= codes, (template, method, status)


def test_the_ticket_schema_names_what_tickets_accepts():
    from LiveData.schwab.orders import spread_tickets, tickets

    schemas = openapi.document()["components"]["schemas"]
    kinds = tickets.FIELDS | spread_tickets.FIELDS | {"orders"}
    assert set(schemas["Ticket"]["properties"]) == kinds
    assert set(schemas["SpreadLeg"]["properties"]) == spread_tickets.LEG_FIELDS

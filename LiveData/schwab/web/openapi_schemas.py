"""The OpenAPI document's schemas, generated: the /schwab/ bodies from their types (`api_types`, the same
types the views answer with), the Redis contract's documents from LiveData.shared's JSON Schemas with each
nested object named, and one frame per event of the live channel."""

from __future__ import annotations

import inspect
import json
from importlib import resources
from typing import Any

import msgspec

from LiveData.schwab.web import api_types

JSON = "application/json"
REF = "#/components/schemas/{name}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


# --- Schemas: the bodies' types ---------------------------------------------------------------------------


def _tidy(node: Any) -> Any:
    """msgspec's schema as the document keeps it: no titles (the names say it), docstrings dedented, and a
    reference with nothing beside it but a description."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {key: node[key] for key in ("$ref", "description") if key in node}
    if set(node) == {"enum"} and len(node["enum"]) == 1 and isinstance(node["enum"][0], bool):
        return {"type": "boolean", "const": node["enum"][0]}  # Literal[True]: as client generators read it
    tidy = {key: _tidy(value) for key, value in node.items() if key != "title"}
    if isinstance(tidy.get("description"), str):
        tidy["description"] = inspect.cleandoc(tidy["description"]).replace("\n", " ")
    return tidy


def _body_schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(api_types.BODIES, ref_template=REF)
    return {name: _tidy(schema) for name, schema in components.items()}


# --- Schemas: the Redis contract's documents ---------------------------------------------------------------

# (file, the component its root becomes; None: only its named parts are used)
CONTRACT = (
    ("positions.v2", "PositionsSnapshot"),
    ("balances.v2", "BalancesSnapshot"),
    ("orders.v2", None),
    ("order_event.v2", "OrderEvent"),
)
# A nested object's component name, where the owner's name + the property's would read badly.
NESTED_NAMES = {
    ("BalancesSnapshot", "balances"): "Balances",
    ("BalancesSnapshot", "positions_totals"): "PositionsTotals",
    ("Position", "option"): "OptionDetails",
}
# A nested object that is another component (the event's order has live_data.orders.v2 order shape).
SAME_AS = {("OrderEvent", "order"): "Order"}


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _is_object(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "object" or "properties" in schema)


def _contract_schemas() -> dict[str, Any]:
    """The contract's schemas with every object named: their `$defs` objects become components (scalar
    `$defs` are written in place), and so does each object nested in a property."""
    found: dict[str, Any] = {}
    for file, root in CONTRACT:
        text = resources.files("LiveData.shared").joinpath(f"schemas/{file}.schema.json").read_text()
        document = json.loads(text)
        definitions = document.pop("$defs", {})
        for key in ("$schema", "$id"):
            document.pop(key, None)

        def resolve(node: Any, owner: str, definitions: dict[str, Any] = definitions) -> Any:
            if isinstance(node, list):
                return [resolve(item, owner) for item in node]
            if not isinstance(node, dict):
                return node
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                name = reference.removeprefix("#/$defs/")
                besides = {key: value for key, value in node.items() if key != "$ref"}
                if not _is_object(definitions[name]):
                    return resolve({**definitions[name], **besides}, owner)
                component = _camel(name)
                if component not in found:
                    found[component] = resolve(definitions[name], component)
                return {**ref(component), **besides}
            resolved = {}
            for key, value in node.items():
                if key == "properties":
                    resolved[key] = {prop: nested(schema, owner, prop) for prop, schema in value.items()}
                else:
                    resolved[key] = resolve(value, owner)
            return resolved

        def nested(schema: Any, owner: str, prop: str) -> Any:
            if (owner, prop) in SAME_AS:
                return {**ref(SAME_AS[owner, prop]), "description": schema.get("description", "")}
            if _is_object(schema):
                component = NESTED_NAMES.get((owner, prop), owner + _camel(prop))
                found[component] = resolve(schema, component)
                return ref(component)
            if isinstance(schema, dict) and "oneOf" in schema:
                return {**schema, "oneOf": [nested(option, owner, prop) for option in schema["oneOf"]]}
            return resolve(schema, owner)

        resolved_root = resolve(document, root or "")
        if root is not None:
            found[root] = resolved_root
    return found


# --- Schemas: the live channel's frames ------------------------------------------------------------------

# Each event of the live channel and the schema of its data.
LIVE_EVENTS = {
    "order": "OrderEvent",
    "positions": "PositionsSnapshot",
    "balances": "BalancesSnapshot",
    "summary": "SummaryEvent",
    "connection": "ConnectionState",
    "ready": "ReadyEvent",
    "reset": "ResetEvent",
}


def frame_name(event: str) -> str:
    return f"{_camel(event)}Frame"


def _frames() -> dict[str, Any]:
    """One server-sent event per name: the event, the cursor to resume from, JSON data of its schema."""
    return {
        frame_name(event): {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"const": event},
                "id": {"type": "string", "description": "the cursor to resume from (Last-Event-ID)"},
                "data": {"type": "string", "contentMediaType": JSON, "contentSchema": ref(data)},
                "retry": {"type": "integer"},
            },
            "additionalProperties": False,
        }
        for event, data in LIVE_EVENTS.items()
    }


def schemas() -> dict[str, Any]:
    """Every component schema, by name (a name given twice is an error)."""
    parts = (_body_schemas(), _contract_schemas(), _frames())
    names = [name for part in parts for name in part]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ValueError(f"two schemas named {clashes}")
    return {name: part[name] for part in parts for name in sorted(part)}

"""Pure: Schwab's streamer frames (schwab-api.md section 6), built and read. No I/O.

Requests go out as `{"requests": [...]}`; what comes back is parsed into a few plain messages the stream
worker acts on: a command reply (code), a heartbeat, a notice (code), and order activity (account number,
message type, order id). Field 3 of ACCT_ACTIVITY is JSON inside a string; anything unexpected in it
(including Schwab's occasional plain-text notices) yields an activity without an order id, which the
worker answers with a catch-up of the whole account instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUCCESS = 0
LOGIN_DENIED = 3
CLOSE_CONNECTION = 12  # one streamer connection per Schwab user
STOP_STREAMING = 30
SUBSCRIPTION_KEY = "Account Activity"


@dataclass(frozen=True)
class StreamerInfo:
    url: str
    customer_id: str
    correl_id: str
    channel: str
    function_id: str

    @classmethod
    def from_preferences(cls, preferences: Any) -> StreamerInfo:
        """userPreference's `streamerInfo` (a list with one element); ValueError when unusable."""
        info = (preferences or {}).get("streamerInfo") if isinstance(preferences, dict) else None
        item = info[0] if isinstance(info, list) and info and isinstance(info[0], dict) else None
        url = item.get("streamerSocketUrl") if item else None
        if not item or not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
            raise ValueError("userPreference has no usable streamerInfo")
        return cls(
            url=url,
            customer_id=str(item.get("schwabClientCustomerId") or ""),
            correl_id=str(item.get("schwabClientCorrelId") or ""),
            channel=str(item.get("schwabClientChannel") or ""),
            function_id=str(item.get("schwabClientFunctionId") or ""),
        )


def _request(
    info: StreamerInfo, service: str, command: str, request_id: int, parameters: dict[str, Any]
) -> dict[str, Any]:
    return {
        "service": service,
        "command": command,
        "requestid": str(request_id),
        "SchwabClientCustomerId": info.customer_id,
        "SchwabClientCorrelId": info.correl_id,
        "parameters": parameters,
    }


def login_and_subscribe(info: StreamerInfo, access_token: str) -> str:
    """One frame: LOGIN with the access token, then SUBS to ACCT_ACTIVITY (requestids 0 and 1)."""
    login = _request(
        info,
        "ADMIN",
        "LOGIN",
        0,
        {
            "Authorization": access_token,
            "SchwabClientChannel": info.channel,
            "SchwabClientFunctionId": info.function_id,
        },
    )
    subscribe = _request(info, "ACCT_ACTIVITY", "SUBS", 1, {"keys": SUBSCRIPTION_KEY, "fields": "0,1,2,3"})
    return json.dumps({"requests": [login, subscribe]})


def logout(info: StreamerInfo) -> str:
    return json.dumps({"requests": [_request(info, "ADMIN", "LOGOUT", 2, {})]})


@dataclass(frozen=True)
class Reply:
    service: str
    command: str
    code: int


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class Notice:
    code: int


@dataclass(frozen=True)
class Activity:
    account_number: str
    message_type: str
    order_id: str | None  # None: field 3 did not name one (catch up the account)
    timestamp_ms: int | None


Message = Reply | Heartbeat | Notice | Activity


def _code(item: dict[str, Any]) -> int:
    content = item.get("content")
    code = content.get("code") if isinstance(content, dict) else None
    return code if isinstance(code, int) else -1


def _order_id(text: Any) -> str | None:
    try:
        body = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    order_id = body.get("SchwabOrderID") if isinstance(body, dict) else None
    order_id = str(order_id) if isinstance(order_id, str | int) else None
    return order_id if order_id and order_id.isdigit() and len(order_id) <= 20 else None


def parse(frame: str | bytes) -> list[Message]:
    """The messages in one frame; unknown parts are skipped (Schwab adds fields and services)."""
    try:
        document = json.loads(frame)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    messages: list[Message] = []
    for item in document.get("response") or []:
        if isinstance(item, dict):
            messages.append(Reply(str(item.get("service")), str(item.get("command")), _code(item)))
    for item in document.get("notify") or []:
        if isinstance(item, dict):
            messages.append(Heartbeat() if "heartbeat" in item else Notice(_code(item)))
    for data in document.get("data") or []:
        if not isinstance(data, dict) or data.get("service") != "ACCT_ACTIVITY":
            continue
        stamp = data.get("timestamp")
        for content in data.get("content") or []:
            if not isinstance(content, dict) or not isinstance(content.get("1"), str):
                continue
            messages.append(
                Activity(
                    account_number=content["1"],
                    message_type=str(content.get("2") or ""),
                    order_id=_order_id(content.get("3")),
                    timestamp_ms=stamp if isinstance(stamp, int) else None,
                )
            )
    return messages

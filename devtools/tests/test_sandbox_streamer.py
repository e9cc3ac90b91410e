"""The sandbox's streamer speaks Schwab's protocol (schwab-api.md section 6): LOGIN with the access token
and the streamerInfo ids, SUBS/UNSUBS to ACCT_ACTIVITY, the response codes, heartbeats, one connection per
user, order changes as data with field 3 JSON inside a string, and faults on demand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from devtools.sandbox import activity
from devtools.testing import api, limit_buy, login, stream_fault


@pytest.fixture
def token(sandbox) -> str:
    return str(login(sandbox)["access_token"])


@pytest.fixture
def info(sandbox, token) -> dict[str, Any]:
    streamer_info = api(sandbox, token, "/userPreference").json()["streamerInfo"]
    assert isinstance(streamer_info, list) and len(streamer_info) == 1
    return dict(streamer_info[0])


def request(
    info: dict[str, Any], service: str, command: str, requestid: str, **parameters: Any
) -> dict[str, Any]:
    return {
        "service": service,
        "command": command,
        "requestid": requestid,
        "SchwabClientCustomerId": info["schwabClientCustomerId"],
        "SchwabClientCorrelId": info["schwabClientCorrelId"],
        "parameters": parameters,
    }


def send(socket: ClientConnection, *requests_: dict[str, Any]) -> None:
    socket.send(json.dumps({"requests": list(requests_)}))


def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=5)))


def code(frame: dict[str, Any]) -> int:
    return int(frame["response"][0]["content"]["code"])


@pytest.fixture
def subscribed(info, token) -> Iterator[ClientConnection]:
    with connect(info["streamerSocketUrl"]) as socket:
        login_request = request(
            info,
            "ADMIN",
            "LOGIN",
            "0",
            Authorization=token,
            SchwabClientChannel="N9",
            SchwabClientFunctionId="APIAPP",
        )
        send(
            socket,
            login_request,
            request(info, "ACCT_ACTIVITY", "SUBS", "1", keys="Account Activity", fields="0,1,2,3"),
        )
        assert code(receive(socket)) == 0
        reply = receive(socket)
        assert reply["response"][0]["service"] == "ACCT_ACTIVITY" and code(reply) == 0
        yield socket


def place(sandbox, token) -> tuple[str, str]:
    account = api(sandbox, token, "/accounts/accountNumbers").json()[0]
    answer = api(
        sandbox, token, f"/accounts/{account['hashValue']}/orders", "POST", json=limit_buy("KO", 2, 1.5)
    )
    return account["accountNumber"], answer.headers["Location"].rsplit("/", 1)[1]


def test_streamer_info_points_at_the_sandbox_never_at_schwab(info):
    assert info["streamerSocketUrl"].startswith("ws://127.0.0.1:")
    assert {"schwabClientChannel": "N9", "schwabClientFunctionId": "APIAPP"}.items() <= info.items()


def test_login_reply_echoes_the_request(info, token):
    with connect(info["streamerSocketUrl"]) as socket:
        send(socket, request(info, "ADMIN", "LOGIN", "7", Authorization=token))
        reply = receive(socket)["response"][0]
    assert (reply["service"], reply["command"], reply["requestid"], reply["content"]["code"]) == (
        "ADMIN",
        "LOGIN",
        "7",
        0,
    )
    assert reply["SchwabClientCorrelId"] == info["schwabClientCorrelId"] and isinstance(
        reply["timestamp"], int
    )


@pytest.mark.parametrize("bad", ["not-a-token", "customer"])
def test_a_bad_login_is_denied_with_code_3_and_closed(info, token, bad):
    login_request = request(info, "ADMIN", "LOGIN", "0", Authorization=token if bad == "customer" else bad)
    if bad == "customer":
        login_request["SchwabClientCustomerId"] = "someone-else"
    with connect(info["streamerSocketUrl"]) as socket:
        send(socket, login_request)
        assert receive(socket)["response"][0]["content"] == {
            "code": 3,
            "msg": "Login Denied.: token is invalid or has expired.",
        }
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)


def test_commands_before_login_and_bad_frames_get_their_codes(info):
    with connect(info["streamerSocketUrl"]) as socket:
        send(socket, request(info, "ACCT_ACTIVITY", "SUBS", "1", keys="k"))
        assert code(receive(socket)) == 20
        socket.send("not json")
        assert code(receive(socket)) == 21


def test_order_changes_stream_as_acct_activity_with_seq(sandbox, token, subscribed):
    account_number, order_id = place(sandbox, token)
    requests.post(f"{sandbox.url}/sandbox/orders/{order_id}/execute", json={}, timeout=5)
    expected = [*activity.PLACED, *activity.FILLED]
    items = [receive(subscribed)["data"][0] for _ in expected]
    assert {item["service"] for item in items} == {"ACCT_ACTIVITY"}
    contents = [item["content"][0] for item in items]
    assert [content["seq"] for content in contents] == list(range(1, len(expected) + 1))
    assert [content["2"] for content in contents] == expected
    assert expected[:5] == [  # schwab-api.md section 6: a new limit order
        "OrderCreated", "OrderAccepted", "ExecutionRequested", "ExecutionRequestCreated",
        "ExecutionRequestCompleted",
    ]  # fmt: skip
    assert {content["1"] for content in contents} == {account_number}
    fill = json.loads(contents[-1]["3"])  # JSON inside a string
    assert fill["SchwabOrderID"] == order_id and fill["BaseEvent"]["EventType"] == "OrderFillCompleted"
    assert fill["BaseEvent"]["OrderFillCompletedEvent"]["CumulativeQuantity"] == {
        "lo": "2000000",
        "signScale": 12,
    }


def test_unsubs_stops_the_messages_and_add_is_refused(sandbox, token, info, subscribed):
    send(subscribed, request(info, "ACCT_ACTIVITY", "ADD", "2", keys="k"))
    assert code(receive(subscribed)) == 25
    send(subscribed, request(info, "ACCT_ACTIVITY", "UNSUBS", "3"))
    assert code(receive(subscribed)) == 0
    place(sandbox, token)
    send(subscribed, request(info, "ADMIN", "LOGOUT", "4"))
    assert receive(subscribed)["response"][0]["command"] == "LOGOUT"  # nothing came before it


def test_one_streamer_connection_per_user(info, token, subscribed):
    with connect(info["streamerSocketUrl"]) as second:
        send(second, request(info, "ADMIN", "LOGIN", "0", Authorization=token))
        assert code(receive(second)) == 12


def test_heartbeats_and_stop_streaming_without_a_subscription(sandbox, info, token):
    sandbox.state.config.stream_heartbeat_seconds = 0.05
    sandbox.state.config.stream_idle_seconds = 0.3
    with connect(info["streamerSocketUrl"]) as socket:
        send(socket, request(info, "ADMIN", "LOGIN", "0", Authorization=token))
        assert code(receive(socket)) == 0
        frames = []
        with pytest.raises(ConnectionClosed):
            while True:
                frames.append(receive(socket))
    assert "heartbeat" in frames[0]["notify"][0]
    assert frames[-1]["notify"][0]["content"]["code"] == 30


def test_drop_fault_closes_without_a_close_frame_and_the_message_is_lost(sandbox, token, subscribed):
    stream_fault(sandbox, kind="drop")
    place(sandbox, token)
    with pytest.raises(ConnectionClosed) as closed:
        receive(subscribed)
    assert closed.value.rcvd is None  # abnormal closure (1006): no close frame


def test_expire_token_fault_ends_the_session_and_the_token(sandbox, token, subscribed):
    stream_fault(sandbox, kind="expire_token")
    place(sandbox, token)
    assert receive(subscribed)["notify"][0]["content"]["code"] == 3
    assert api(sandbox, token, "/accounts/accountNumbers").status_code == 401


def test_a_cancel_streams_schwabs_sequence_with_the_urout(sandbox, token, subscribed):
    _, order_id = place(sandbox, token)
    placed = [receive(subscribed) for _ in activity.PLACED]
    assert len(placed) == len(activity.PLACED)
    hash_value = api(sandbox, token, "/accounts/accountNumbers").json()[0]["hashValue"]
    answer = api(sandbox, token, f"/accounts/{hash_value}/orders/{order_id}", "DELETE")
    assert answer.status_code == 200, answer.text
    contents = [receive(subscribed)["data"][0]["content"][0] for _ in activity.CANCELED]
    assert [content["2"] for content in contents] == [
        "CancelAccepted", "ExecutionRequested", "ExecutionRequestCompleted", "ExecutionCreated",
        "OrderUROutCompleted",
    ]  # fmt: skip
    events = [json.loads(content["3"])["BaseEvent"] for content in contents]
    assert events[1]["ExecutionRequestedEvent"]["RouteRequestedType"] == "Cancel"
    assert events[3]["ExecutionCreatedEvent"]["ExecutionTransType"] == "UROut"

"""Session-authenticated JSON views under /schwab/ for the Thor frontend. Views only translate HTTP:
the work is in services and the Trader API client, and errors are raised and rendered in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_variables

from LiveData.schwab.api import SchwabTraderAPI
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.connection import flow, oauth, services
from LiveData.schwab.exceptions import (
    MethodNotAllowed,
    NotAuthenticated,
    OAuthCodeMissing,
    OAuthDenied,
    SchwabNotConnected,
    StreamNeedsAsgi,
    TicketInvalid,
)
from LiveData.schwab.live_data import selectors
from LiveData.schwab.orders import order_service, quotes, ticket_body
from LiveData.schwab.streaming import order_stream, stream_logins
from LiveData.schwab.web import api_types, health_checks, openapi
from LiveData.schwab.web.api_types import respond

View = Callable[..., HttpResponse]


def api_login_required(view: View) -> View:
    """Like login_required, but an anonymous API call gets a 401 JSON error instead of a redirect."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            raise NotAuthenticated
        return view(request, *args, **kwargs)

    return wrapper


def allow_methods(*methods: str) -> Callable[[View], View]:
    """Like Django's require_http_methods, but a wrong method is a 405 in the JSON error shape."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                raise MethodNotAllowed(allowed=list(methods))
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, who must be logged in and active."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        raise NotAuthenticated
    return user


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    """`candidate` when it stays on this site, else the configured frontend URL (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return schwab_settings().frontend_url


def with_outcome(url: str, **outcome: str) -> str:
    """`url` with the outcome added to its query (before any #fragment, where a query belongs)."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(outcome)}" if parts.query else urlencode(outcome)
    return urlunsplit(parts._replace(query=query))


@allow_methods("GET")
@login_required
def oauth_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to Schwab's consent page with a fresh, session-bound state."""
    redirect_uri = schwab_settings().callback_url
    next_url = safe_next_url(request, request.GET.get("next"))
    state = flow.begin(request.session, next_url=next_url, redirect_uri=redirect_uri)
    return HttpResponseRedirect(oauth.authorization_url(state=state, redirect_uri=redirect_uri))


@allow_methods("GET")
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Finish the connect flow: check the user and the state, only then spend the code, store the tokens
    and go back to Thor."""
    return finish_connect(request, signed_in_user(request))


@sensitive_variables("code")
def finish_connect(request: HttpRequest, user: User) -> HttpResponse:
    """Every check that can refuse comes before the code is exchanged: exchanging it is a new login at
    Schwab, which revokes the user's earlier tokens, so it must never happen for tokens we would drop."""
    if not user.is_active:
        raise NotAuthenticated
    pending = flow.finish(request.session, state=request.GET.get("state"))
    if request.GET.get("error"):
        raise OAuthDenied
    code = request.GET.get("code")  # Django has decoded it exactly once: "...%40" is now "...@"
    if not code:
        raise OAuthCodeMissing
    SchwabTraderAPI(user).exchange_code_for_tokens(code, redirect_uri=pending.redirect_uri)
    return HttpResponseRedirect(with_outcome(pending.next_url, schwab="connected"))


@allow_methods("GET")
@api_login_required
def oauth_status(request: HttpRequest) -> HttpResponse:
    """Connected or not, the connection's state and expiries; never a token."""
    state = selectors.connection_status(user_id=signed_in_user(request).pk)
    return respond(api_types.ConnectionStatus, {"success": True, **state})


@allow_methods("POST")
@api_login_required
def oauth_disconnect(request: HttpRequest) -> HttpResponse:
    """Forget the user's Schwab tokens (CSRF-protected)."""
    try:
        connection = services.connection_get(user=signed_in_user(request))
    except SchwabNotConnected:
        return respond(
            api_types.Disconnected,
            api_types.Disconnected(success=True, connected=False, status="not_connected"),
        )
    services.connection_disconnect(connection=connection)
    return respond(
        api_types.Disconnected, api_types.Disconnected(success=True, connected=False, status="disconnected")
    )


@allow_methods("GET")
@api_login_required
def list_accounts(request: HttpRequest) -> HttpResponse:
    """The user's Schwab accounts: `hashValue` (the account_id used in URLs), type, masked number."""
    accounts = SchwabTraderAPI(signed_in_user(request)).fetch_accounts()
    return respond(api_types.AccountList, {"success": True, "accounts": accounts})


def _published(
    request: HttpRequest,
    account_id: str,
    kind: str,
    body: type[api_types.PositionsPublished | api_types.BalancesPublished],
) -> HttpResponse:
    """Refresh the account (one upstream call publishes both snapshots) and answer with one of them."""
    payload = SchwabTraderAPI(signed_in_user(request)).refresh_account(account_id)[kind]
    message = f"{kind.title()} published to Redis for account {account_id}"
    return respond(body, {"success": True, "message": message, "payload": payload})


@allow_methods("GET")
@api_login_required
def get_positions(request: HttpRequest, account_id: str) -> HttpResponse:
    """Fetch positions (and balances, from the same call) and publish both to Redis."""
    return _published(request, account_id, "positions", api_types.PositionsPublished)


@allow_methods("GET")
@api_login_required
def get_balances(request: HttpRequest, account_id: str) -> HttpResponse:
    """Fetch balances (and positions, from the same call) and publish both to Redis."""
    return _published(request, account_id, "balances", api_types.BalancesPublished)


@allow_methods("GET")
@api_login_required
def latest_positions(request: HttpRequest, account_id: str) -> HttpResponse:
    """The latest published positions snapshot, from Redis, without calling Schwab (null if none yet)."""
    payload = SchwabTraderAPI(signed_in_user(request)).latest_positions(account_id)
    return respond(api_types.LatestPositions, {"success": True, "payload": payload})


@allow_methods("GET")
@api_login_required
def account_summary(request: HttpRequest) -> HttpResponse:
    """The Account Summary card; the first account when `account_hash` is omitted."""
    # Without a hash: the first account of the (cached) list, so no extra upstream call per request.
    api = SchwabTraderAPI(signed_in_user(request))
    account_hash, summary = api.account_summary(request.GET.get("account_hash") or None)
    return respond(
        api_types.AccountSummary, {"success": True, "account_hash": account_hash, "summary": summary}
    )


@allow_methods("GET")
def health(request: HttpRequest) -> HttpResponse:
    """Redis, the database, and the age of the oldest published snapshot; 503 when a service is down.
    Public (for load balancers): it says nothing about any account or user."""
    checks = health_checks.checks()
    healthy = checks["redis"] == checks["database"] == "ok"
    return respond(api_types.Health, {"success": healthy, **checks}, status=200 if healthy else 503)


async def orders_stream(request: HttpRequest) -> HttpResponseBase:
    """The page's live channel (ASGI only): `order` events with the order_event document; the states of
    the user's accounts (`positions`, `balances`, `summary`) and connection (`connection`); ids to resume
    from with Last-Event-ID; heartbeat comments. See order_stream."""
    if request.method != "GET":
        raise MethodNotAllowed(allowed=["GET"])
    user = await request.auser()
    if not user.is_authenticated:
        raise NotAuthenticated
    if not isinstance(request, ASGIRequest):
        raise StreamNeedsAsgi  # WSGI would hold a worker for the stream's whole life
    cursor = order_stream.read_last_event_id(request.headers.get("Last-Event-ID"))
    accounts = await order_stream.user_accounts(user.pk)
    if not accounts and not await order_stream.has_login(user.pk):
        raise SchwabNotConnected
    still_signed_in = stream_logins.checker(type(request.session), request.session.session_key, user.pk)
    connection = await sync_to_async(selectors.connection_status)(user_id=user.pk)
    response = StreamingHttpResponse(
        order_stream.events(user.pk, accounts, cursor, still_signed_in, connection),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # proxies (nginx) must pass each event on at once
    return response


@allow_methods("GET")
def openapi_document(request: HttpRequest) -> HttpResponse:
    """This API's OpenAPI 3.1 document (public: it describes the endpoints, nothing about anyone)."""
    return JsonResponse(openapi.document(), json_dumps_params={"ensure_ascii": False})


# --- Orders ---------------------------------------------------------------------------------------------


def _ticket(request: HttpRequest) -> Any:
    """The JSON body (numbers Decimal from their text), or what `tickets` refuses as no ticket; a body
    longer than a ticket can be is never read, let alone kept."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > ticket_body.MAX_BODY_BYTES:
        return ticket_body.read(None)
    try:
        return ticket_body.read(request.read(ticket_body.MAX_BODY_BYTES + 1))
    except RawPostDataException:  # already read as a form: no ticket
        return ticket_body.read(b"")


def _outcome(outcome: order_service.Outcome, *, cancel: bool = False) -> HttpResponse:
    """An order request's outcome (replayed as stored for the same key) as the body its status says."""
    kind: type[api_types.Body]
    if outcome.status >= 400:
        kind = api_types.Error
    elif cancel:
        kind = api_types.OrderAnswer if outcome.status == 200 else api_types.CancelPending
    else:
        kind = api_types.OrderPlaced
    return respond(kind, outcome.body, status=outcome.status)


def _moment(request: HttpRequest, name: str, *, end_of_day: bool = False) -> datetime | None:
    text = request.GET.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TicketInvalid(fields={name: "A date (2026-11-25) or an ISO-8601 time."}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment


@allow_methods("GET")
@api_login_required
def quotes_list(request: HttpRequest) -> HttpResponse:
    """Quotes for the order ticket: `?symbols=AAPL,MSFT` (at most 20); unknown symbols are named."""
    symbols = quotes.symbols_parse(request.GET.get("symbols"))
    found, unknown = SchwabTraderAPI(signed_in_user(request)).get_quotes(symbols)
    return respond(api_types.QuoteList, {"success": True, "quotes": found, "unknown": unknown})


@allow_methods("POST")
@api_login_required
def order_preview(request: HttpRequest, account_id: str) -> HttpResponse:
    """Preview a ticket at Schwab: estimated value, commission and fees, projected funds, rejects."""
    preview = SchwabTraderAPI(signed_in_user(request)).preview_order(account_id, _ticket(request))
    return respond(api_types.PreviewAnswer, {"success": True, "preview": preview})


@allow_methods("GET", "POST")
@api_login_required
def account_orders(request: HttpRequest, account_id: str) -> HttpResponse:
    """GET: the account's orders (status, from, to), newest first. POST: place an order (Idempotency-Key)."""
    user = signed_in_user(request)
    api = SchwabTraderAPI(user)
    if request.method == "POST":
        key = request.headers.get("Idempotency-Key")
        return _outcome(api.place_order(account_id, _ticket(request), idempotency_key=key))
    found = api.get_orders(
        account_id,
        status=request.GET.get("status") or None,
        since=_moment(request, "from"),
        until=_moment(request, "to", end_of_day=True),
    )
    trading = order_service.trading_state(user=user)
    return respond(api_types.OrderList, {"success": True, "orders": found, "trading": trading})


@allow_methods("GET", "PUT", "DELETE")
@api_login_required
def account_order(request: HttpRequest, account_id: str, order_id: str) -> HttpResponse:
    """GET: one order. PUT: replace it (Idempotency-Key; answers the new order id). DELETE: cancel it."""
    api = SchwabTraderAPI(signed_in_user(request))
    if request.method == "PUT":
        key = request.headers.get("Idempotency-Key")
        return _outcome(api.replace_order(account_id, order_id, _ticket(request), idempotency_key=key))
    if request.method == "DELETE":
        return _outcome(api.cancel_order(account_id, order_id), cancel=True)
    return respond(api_types.OrderAnswer, {"success": True, "order": api.get_order(account_id, order_id)})

"""Schwab's OAuth 2.0 endpoints: the consent page (/v1/oauth/authorize) and the token endpoint."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from html import escape
from urllib.parse import quote, urlencode

from devtools.sandbox.http import Request, Response, oauth_error
from devtools.sandbox.state import Grant, SandboxState

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title><style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}"
        "label{display:block;margin:.5rem 0}button{margin-right:.5rem;padding:.4rem 1rem}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>",
        status,
    )


def _check_client(state: SandboxState, client_id: str | None, redirect_uri: str | None) -> Response | None:
    """An unknown app or an unregistered callback never gets a redirect: Schwab shows an error page."""
    if not client_id or client_id != state.config.app_key:
        return _page("We are unable to complete your request", "<p>Unknown client_id.</p>", 400)
    if not redirect_uri or redirect_uri not in state.config.callback_urls:
        return _page(
            "We are unable to complete your request",
            "<p>The redirect_uri does not match a callback URL registered for this app.</p>",
            400,
        )
    return None


def _with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return url + separator + urlencode(params, quote_via=quote, safe="")


def authorize_page(state: SandboxState, request: Request) -> Response:
    client_id, redirect_uri = request.arg("client_id"), request.arg("redirect_uri")
    refused = _check_client(state, client_id, redirect_uri)
    if refused is not None:
        return refused
    auto_user = state.config.auto_approve_user
    if auto_user and auto_user in state.users:
        return _approve(
            state, state.users[auto_user].username, redirect_uri or "", request.arg("state"), None
        )
    return _consent_form(client_id or "", redirect_uri or "", request.arg("state") or "", error=None)


def _consent_form(client_id: str, redirect_uri: str, state_value: str, error: str | None) -> Response:
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{escape(value, quote=True)}'>"
        for name, value in (("client_id", client_id), ("redirect_uri", redirect_uri), ("state", state_value))
    )
    problem = f"<p role='alert' style='color:#b00'>{escape(error)}</p>" if error else ""
    return _page(
        "Schwab sandbox: log in and allow access",
        f"{problem}<p>Thor is asking to read your accounts and place orders on your behalf.</p>"
        "<form method='post' action='/v1/oauth/authorize'>"
        f"{hidden}"
        "<label>Login ID <input name='username' autocomplete='username' autofocus></label>"
        "<label>Password <input name='password' type='password' autocomplete='current-password'></label>"
        "<label>Accounts to share (account numbers, comma-separated; empty shares all) "
        "<input name='accounts'></label>"
        "<button name='action' value='approve' id='approve'>Allow</button>"
        "<button name='action' value='deny' id='deny'>Cancel</button>"
        "</form>",
    )


def authorize_submit(state: SandboxState, request: Request) -> Response:
    form = request.form()
    client_id, redirect_uri, state_value = form.get("client_id"), form.get("redirect_uri"), form.get("state")
    refused = _check_client(state, client_id, redirect_uri)
    if refused is not None or redirect_uri is None:
        return refused or _page("We are unable to complete your request", "", 400)
    if form.get("action") != "approve":
        params = {"error": "access_denied", "error_description": "The user denied the request."}
        if state_value:
            params["state"] = state_value
        return Response.redirect(_with_query(redirect_uri, params))
    user = state.users.get(form.get("username", ""))
    if user is None or not hmac.compare_digest(user.password, form.get("password", "")):
        return _consent_form(
            client_id or "", redirect_uri, state_value or "", "Login ID or password is wrong."
        )
    return _approve(state, user.username, redirect_uri, state_value, form.get("accounts"))


def _approve(
    state: SandboxState, username: str, redirect_uri: str, state_value: str | None, accounts: str | None
) -> Response:
    user = state.users[username]
    owned = [account.account_number for account in user.accounts]
    wanted = [number.strip() for number in (accounts or "").split(",") if number.strip()]
    shared = tuple(number for number in owned if not wanted or number in wanted)
    grant = Grant(user, shared, state.now(), redirect_uri)
    params = {"code": state.issue_code(grant), "session": state.new_session_id()}
    if state_value:
        params["state"] = state_value
    return Response.redirect(_with_query(redirect_uri, params))


def token(state: SandboxState, request: Request) -> Response:
    credentials = request.basic_auth()
    if credentials is None or not (
        hmac.compare_digest(credentials[0], state.config.app_key)
        and hmac.compare_digest(credentials[1], state.config.app_secret)
    ):
        return oauth_error(401, "invalid_client", "Unauthorized")
    if not request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPE):
        return oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    form = request.form()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return _exchange_code(state, form)
    if grant_type == "refresh_token":
        return _refresh(state, form)
    return oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type or ''}")


def _exchange_code(state: SandboxState, form: dict[str, str]) -> Response:
    code, redirect_uri = form.get("code"), form.get("redirect_uri")
    if not code or not redirect_uri:
        return oauth_error(400, "invalid_request", "Missing code or redirect_uri")
    with state.lock:
        stored = state.codes.get(code)
        if stored is None or stored.used or stored.expires_at <= state.now():
            return oauth_error(400, "invalid_grant", "Invalid, expired or already used authorization code")
        if redirect_uri != stored.grant.redirect_uri:
            return oauth_error(
                400, "invalid_request", "redirect_uri does not match the authorization request"
            )
        stored.used = True
        state.revoke_grants_of(stored.grant.user)
        access, refresh = state.issue_tokens(stored.grant)
        state.token_grants["authorization_code"] += 1
    return _token_response(state, access, refresh)


def _refresh(state: SandboxState, form: dict[str, str]) -> Response:
    presented = state.valid_token(form.get("refresh_token"), "refresh")
    if presented is None:
        return oauth_error(400, "refresh_token_authentication_error", "Failed refresh token authentication")
    with state.lock:
        access, new_refresh = state.issue_tokens(presented.grant)
        if state.config.rotate_refresh_token:
            presented.revoked = True
            refresh = new_refresh
        else:
            state.tokens.pop(new_refresh, None)
            refresh = form["refresh_token"]
        state.token_grants["refresh_token"] += 1
    return _token_response(state, access, refresh)


def _token_response(state: SandboxState, access: str, refresh: str) -> Response:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).decode().rstrip("=")
    return Response.json(
        {
            "expires_in": int(state.config.access_token_ttl.total_seconds()),
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": refresh,
            "access_token": access,
            "id_token": f"{header}.{secrets.token_urlsafe(24)}.",
        },
        headers=[("Cache-Control", "no-store")],
    )

"""Trader API v1 account endpoints: accountNumbers, accounts, accounts/{hash}, userPreference."""

from __future__ import annotations

from devtools.sandbox.accounts import account_json
from devtools.sandbox.book import Account
from devtools.sandbox.http import Request, Response, service_error
from devtools.sandbox.state import SandboxState, Token

UNAUTHORIZED_DETAIL = (
    "Either the authorization token is invalid or there are no accounts the caller is allowed to view "
    "or use for trading that are registered with the provided third party application"
)


def authenticate(state: SandboxState, request: Request) -> Token | Response:
    """The bearer token's grant, or Schwab's 401 for a missing, expired or unknown token."""
    token = state.valid_token(request.bearer_token(), "access")
    if token is None:
        return service_error(401, "Client not authorized", UNAUTHORIZED_DETAIL)
    return token


def shared_accounts(state: SandboxState, token: Token) -> list[Account]:
    numbers = set(token.grant.account_numbers)
    return [account for account in token.grant.user.accounts if account.account_number in numbers]


def account_for(state: SandboxState, token: Token, account_hash: str) -> Account | Response:
    """The caller's account with this hash; any other hash is Schwab's 400 "Invalid account number"."""
    for account in shared_accounts(state, token):
        if account.hash_value == account_hash:
            return account
    return service_error(400, "Invalid account number")


def _with_positions(request: Request) -> bool | Response:
    fields = request.arg("fields")
    if fields is None or fields == "":
        return False
    if fields == "positions":
        return True
    return service_error(400, "Invalid fields parameter", f"Unsupported value for fields: {fields[:40]}")


def account_numbers(state: SandboxState, request: Request, token: Token) -> Response:
    return Response.json(
        [
            {"accountNumber": account.account_number, "hashValue": account.hash_value}
            for account in shared_accounts(state, token)
        ]
    )


def accounts(state: SandboxState, request: Request, token: Token) -> Response:
    positions = _with_positions(request)
    if isinstance(positions, Response):
        return positions
    now = state.now()
    with state.lock:
        body = [
            account_json(account, now, with_positions=positions) for account in shared_accounts(state, token)
        ]
    return Response.json(body)


def account(state: SandboxState, request: Request, token: Token, account_hash: str) -> Response:
    positions = _with_positions(request)
    if isinstance(positions, Response):
        return positions
    found = account_for(state, token, account_hash)
    if isinstance(found, Response):
        return found
    with state.lock:
        body = account_json(found, state.now(), with_positions=positions)
    return Response.json(body)


def user_preference(state: SandboxState, request: Request, token: Token) -> Response:
    user = token.grant.user
    return Response.json(
        {
            "accounts": [
                {
                    "accountNumber": account.account_number,
                    "primaryAccount": index == 0,
                    "type": "BROKERAGE",
                    "nickName": f"{account.type.title()} ...{account.account_number[-3:]}",
                    "displayAcctId": f"...{account.account_number[-3:]}",
                    "autoPositionEffect": False,
                    "accountColor": "Green",
                }
                for index, account in enumerate(shared_accounts(state, token))
            ],
            "streamerInfo": [
                {
                    "streamerSocketUrl": state.config.streamer_url or state.streamer_url,
                    "schwabClientCustomerId": f"sandbox-{user.username}",
                    "schwabClientCorrelId": state.new_session_id(),
                    "schwabClientChannel": "N9",
                    "schwabClientFunctionId": "APIAPP",
                }
            ],
            "offers": [{"level2Permissions": True, "mktDataPermission": "NP"}],
        }
    )

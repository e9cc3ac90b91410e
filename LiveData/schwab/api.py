"""SchwabTraderAPI(user): the Trader API for one Thor user, with tokens handled for every call."""

from __future__ import annotations

from typing import Any

from LiveData.schwab import client, oauth, services
from LiveData.schwab.conf import schwab_settings
from LiveData.schwab.exceptions import SchwabUnauthorized
from LiveData.schwab.models import BrokerConnection


class SchwabTraderAPI:
    """Calls Schwab on behalf of `user`: refreshes the access token when it is about to expire and once
    more on a 401, and raises SchwabReauthRequired when only a new browser login can help."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self._connection: BrokerConnection | None = None

    @property
    def connection(self) -> BrokerConnection:
        if self._connection is None:
            self._connection = services.connection_get(user=self.user)
        return self._connection

    # --- OAuth -------------------------------------------------------------------------------------------
    def exchange_code_for_tokens(self, code: str, redirect_uri: str | None = None) -> BrokerConnection:
        """Trade an authorization code for tokens and store them on the user's connection."""
        tokens = oauth.exchange_code(code=code, redirect_uri=redirect_uri or schwab_settings().callback_url)
        self._connection = services.connection_connect(user=self.user, tokens=tokens)
        return self._connection

    def refresh_tokens(self) -> None:
        """Refresh the access token now, whatever its age."""
        services.connection_refresh(connection=self.connection, force=True)

    # --- Trader API --------------------------------------------------------------------------------------
    def _get(self, path: str, *, path_name: str, params: dict[str, str] | None = None) -> Any:
        token = services.connection_access_token(connection=self.connection)
        try:
            return client.get_json(path, access_token=token, path_name=path_name, params=params)
        except SchwabUnauthorized:
            # The token may have been revoked early (say, by a newer login): refresh once and retry once.
            token = services.connection_refresh(connection=self.connection, stale_access_token=token)
            return client.get_json(path, access_token=token, path_name=path_name, params=params)

    def fetch_account_numbers(self) -> list[dict[str, Any]]:
        """Schwab's accountNumbers map: [{"accountNumber", "hashValue"}]."""
        data = self._get("/accounts/accountNumbers", path_name="accounts.numbers")
        return data if isinstance(data, list) else []

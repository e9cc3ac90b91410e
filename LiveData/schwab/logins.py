"""The user's current Schwab login, as every process sees it, read from Redis instead of the database.

Every request that talks to Schwab or answers from Redis first checks the user's connection: its id,
generation and status (connected? a new login needed?). The summary, polled by every open tab, would
otherwise make that one database query per poll. A copy of the three is kept in the live-data Redis,
tagged with the connection's change token: a random token replaced whenever the user's connection is
saved or deleted, and again once that change is committed (`connection_changed`). A copy counts only
while its tag is the current token, and copy and token are read in one MGET, with whatever else the
caller needs from Redis (the summary: its balances snapshot).

Why both replacements: the one at the save makes the change visible at once to the writer's own
transaction (and to tests, whose transactions never commit); the one after the commit supersedes any
copy another process made from the row it read before the commit. A process tags its copy with the
token it read before reading the database, so its copy is, or is about to be, superseded when the row
has changed since. Were Redis unreachable for the second replacement, a copy made meanwhile from the
old row would count until it expires (COPY_SECONDS): the same bound as the cached user's. So would one
made before a change that bypasses the model's signals (QuerySet.update, raw SQL): change connections
through save(), as services.py does.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import redis
from django.db import connection as db_connection
from django.db import transaction

from LiveData.schwab.exceptions import SchwabNotConnected, SchwabReauthRequired
from LiveData.schwab.models import BrokerConnection, Login
from LiveData.shared import contract
from LiveData.shared.redis_client import get_redis

logger = logging.getLogger(__name__)

COPY_SECONDS = 60
_NONE = "none"  # the copy of "no connection row"

State = tuple[int, int, str] | None  # a connection's (id, generation, status); None: the user has none


def current(*, user_id: int, also: Sequence[str] = ()) -> tuple[Login, list[Any]]:
    """The user's current login, or SchwabNotConnected / SchwabReauthRequired; with the values of the
    `also` keys, read in the same round trip (RedisError when Redis cannot answer them)."""
    copy_key, token_key = contract.login_copy_key(user_id), contract.login_token_key(user_id)
    try:
        read: list[Any] = get_redis().mget([copy_key, token_key, *also])  # text: the client decodes
    except redis.RedisError:
        if also:
            raise
        return _usable(_from_database(user_id)), []  # the database answers while Redis cannot
    copy, token, *values = read
    found, state = _from_copy(copy, token)
    if not found:
        state = _from_database(user_id)
        with contextlib.suppress(redis.RedisError):  # then the next request reads the database again
            _keep(user_id, state, token)
    return _usable(state), values


def _from_database(user_id: int) -> State:
    """(id, generation, status) of the user's connection row; one cheap query, no tokens decrypted."""
    table = db_connection.ops.quote_name(BrokerConnection._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, generation, status FROM {table} WHERE user_id = %s",  # noqa: S608 - fixed table
            [user_id],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]))


def _keep(user_id: int, state: State, token: str | None) -> None:
    client = get_redis()
    if token is None:  # never set, or evicted: made before anything is cached under it
        token = _new_token()
        if not client.set(contract.login_token_key(user_id), token, nx=True):
            return  # another process made it first: cache nothing this time
    text = _NONE if state is None else " ".join(str(part) for part in state)
    client.set(contract.login_copy_key(user_id), f"{token} {text}", ex=COPY_SECONDS)


def _from_copy(copy: str | None, token: str | None) -> tuple[bool, State]:
    """(True, the state) from a copy tagged with the current token; (False, None) for anything else."""
    if copy is None or token is None:
        return False, None
    tag, _, text = copy.partition(" ")
    if tag != token:
        return False, None
    if text == _NONE:
        return True, None
    try:
        connection_id, generation, status = text.split(" ")
        return True, (int(connection_id), int(generation), status)
    except ValueError:  # not a copy this module wrote: the database answers, and the copy is replaced
        return False, None


def _usable(state: State) -> Login:
    if state is None or state[2] == BrokerConnection.Status.DISCONNECTED:
        raise SchwabNotConnected
    if state[2] == BrokerConnection.Status.REAUTH_REQUIRED:
        raise SchwabReauthRequired
    return Login(connection_id=state[0], generation=state[1])


def _new_token() -> str:
    return secrets.token_hex(8)


def connection_changed(sender: Any, instance: BrokerConnection, **kwargs: Any) -> None:
    """Supersede every copy of the user's login now, and again once the change is committed (post_save,
    post_delete)."""
    user_id = instance.user_id
    _supersede(user_id)
    transaction.on_commit(lambda: _supersede(user_id))


def _supersede(user_id: int) -> None:
    try:
        get_redis().set(contract.login_token_key(user_id), _new_token())
    except redis.RedisError:
        logger.warning(
            "login copies not superseded (redis unavailable): they expire within %ss", COPY_SECONDS
        )


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(connection_changed, sender=BrokerConnection, dispatch_uid="schwab_login_saved")
    post_delete.connect(connection_changed, sender=BrokerConnection, dispatch_uid="schwab_login_deleted")

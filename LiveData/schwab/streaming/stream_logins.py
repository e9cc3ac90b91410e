"""Whether an open stream's login still holds, decided as Django decides a login on every request: the
session row exists and has not expired (no logout), it names the user, the user exists and may log in
(active), and the session's hash still matches the user's password. Unlike django.contrib.auth.get_user,
it changes nothing (no flush, no new session key): the answer has started, so the stream can only end.

The checks run on one thread per process (`check`), so a thousand open streams cost one database
connection, not a thousand; it is closed when the process's last stream ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.db import close_old_connections, connections
from django.utils.crypto import constant_time_compare

from LiveData.schwab.conf import schwab_settings

Check = Callable[[], bool]
T = TypeVar("T")
_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-logins")


def signed_in(engine: type[SessionBase], session_key: str | None, user_id: Any) -> bool:
    """Whether session `session_key` (of the session engine `engine`) is still a login of `user_id`."""
    if not session_key:
        return False
    data = engine(session_key).load()  # {} once logged out or expired
    if data.get(SESSION_KEY) is None or str(data[SESSION_KEY]) != str(user_id):
        return False
    path = data.get(BACKEND_SESSION_KEY)
    if path not in schwab_settings().authentication_backends:
        return False
    user = auth.load_backend(path).get_user(user_id)  # None: deleted, or not allowed to log in
    if user is None:
        return False
    stored = str(data.get(HASH_SESSION_KEY) or "")
    current = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, expected) for expected in current)


def checker(engine: type[SessionBase], session_key: str | None, user_id: Any) -> Check:
    return partial(signed_in, engine, session_key, user_id)


def _on_thread(read: Callable[[], T]) -> T:
    close_old_connections()  # CONN_MAX_AGE, and a connection the database dropped
    return read()


async def read(query: Callable[[], T]) -> T:
    """Run an open stream's database read (its login check, its connection's state) on the checks'
    thread."""
    return await asyncio.get_running_loop().run_in_executor(_thread, _on_thread, query)


async def check(still_signed_in: Check) -> bool:
    """Run a login check on the checks' thread."""
    return await read(still_signed_in)


def let_go() -> None:
    """Close the checks' database connection, on its thread, once no open stream needs it."""
    _thread.submit(connections.close_all)

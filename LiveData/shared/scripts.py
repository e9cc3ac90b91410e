"""Lua scripts run by their SHA-1 (EVALSHA), so a call sends the digest, not the script's text.

A Redis that has not seen the script (restarted, flushed, or a new server) answers NOSCRIPT: the script is
then loaded and the call made once more. A script either ran or did not, so this never runs one twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis
from redis.exceptions import NoScriptError


class Script:
    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: redis.Redis, *, keys: list[str], args: list[Any]) -> Any:
        """Run on `client`; the script's result."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.text)
            return client.evalsha(self.sha, len(keys), *keys, *args)


def run_after_sets(
    client: redis.Redis,
    sets: list[tuple[str, bytes, int]],
    script: Script,
    *,
    keys: list[str],
    args: list[Any],
) -> Any:
    """SET each (key, value, expiry in seconds), then run `script`, in one round trip; the script's result.
    The pipeline is not a transaction: the script is the atomic step, and the SETs before it write keys of
    their own, so sending them twice (after a NOSCRIPT) changes nothing."""
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        for key, value, expiry in sets:
            pipe.set(key, value, ex=expiry)
        pipe.evalsha(script.sha, len(keys), *keys, *args)
        results = pipe.execute(raise_on_error=False)
        if attempt == 1 and isinstance(results[-1], NoScriptError):  # nothing of the script ran
            client.script_load(script.text)
            continue
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results[-1]
    raise AssertionError("unreachable")  # pragma: no cover

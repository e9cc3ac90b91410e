"""A local stand-in for Schwab's OAuth and Trader API v1, faithful to ../shared/design/schwab-api.md.

Development tooling only: it runs as its own server (`python manage.py schwab_sandbox`, or the
`schwab_sandbox` pytest fixture) and is never mounted in the project's URLconf.

Modules: `http` (a tiny WSGI toolkit), `book` (the seeded users, accounts and moving prices), `state`
(everything the server remembers, behind one lock), `oauth`, `trader` and `orders` (the Schwab endpoints),
`control` (fault injection, counters and the clock, under /sandbox/), `server` (threaded WSGI server).
"""

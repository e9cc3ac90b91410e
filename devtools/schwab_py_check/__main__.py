"""Start a sandbox, log trader1 in, and run `with_schwab_py.py` in schwab-py's own venv against it.

.venv/bin/python -m devtools.schwab_py_check <the schwab-py venv's python>
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools.sandbox.server import SandboxServer
from devtools.testing import login

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "LiveData" / "schwab" / "tests" / "fixtures" / "schwab_py"


def main() -> None:
    python = sys.argv[1]
    server = SandboxServer().start()
    try:
        server.state.config.public_base_url = "https://api.schwabapi.com"  # Location as Schwab writes it
        account = server.state.users["trader1"].accounts[0]
        calls = sorted(
            o.symbol for o in server.state.option_chain if o.underlying == "SPY" and o.put_call == "CALL"
        )
        box = {
            "url": server.url,
            "token": login(server)["access_token"],
            "account": account.hash_value,
            "held": account.holdings[0].security.symbol,
            "calls": calls,
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json") as details:
            json.dump(box, details)
            details.flush()
            done = subprocess.run(  # noqa: S603 - the venv named by scripts/check-schwab-py
                [python, str(HERE / "with_schwab_py.py"), str(FIXTURES), details.name], check=False
            )
    finally:
        server.stop()
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()

"""Private PostgreSQL and Redis servers for tests that kill, hang or empty them: started on free ports in
a temporary folder, stopped and removed afterwards. The machine's shared servers are never touched.

PostgreSQL refuses to run as root: as root, the cluster is made and run as the `postgres` system user.
Without `initdb` or `redis-server` installed the tests that need them are skipped, naming what is missing
(`.ci/run` installs both).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_binaries() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them out of PATH), if installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class PrivatePostgres:
    port: int
    data: Path
    bin: Path
    log: Path

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *arguments: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), *arguments]
        subprocess.run(_as_server_user(command), check=True, capture_output=True, timeout=60)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.log), "-w", "start")

    def kill(self) -> None:
        """Stop at once, as a crash would (no checkpoint, every connection cut)."""
        self._ctl("-m", "immediate", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError("initdb (PostgreSQL's server programs) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="thor-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(free_port(), folder / "data", binaries, folder / "server.log")
    initdb = [str(binaries / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True, timeout=120)  # noqa: S603
    server.start()
    try:
        yield server
    finally:
        subprocess.run(  # noqa: S603 - fixed arguments
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        self._wait_for_port()

    def _wait_for_port(self) -> None:
        for _ in range(500):  # bounded: a server that never listens fails the test
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                if self.process is not None and self.process.poll() is not None:
                    break
                time.sleep(0.02)  # between attempts to connect
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """Gone at once, with everything it held (no persistence)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def pause(self) -> None:
        """Hung: it keeps its connections and answers nothing (SIGSTOP)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        raise FileNotFoundError("redis-server is not installed")
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.resume()
            server.kill()

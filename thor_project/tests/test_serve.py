"""scripts/serve, the production-like local run: every process of the Procfile starts, both servers answer
health, and a SIGTERM stops them all (no process left behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import requests

from devtools.private_services import free_port
from devtools.testing import eventually

ROOT = Path(__file__).resolve().parents[2]
SERVE = str(ROOT / "scripts" / "serve")


def _processes_marked(marker: str) -> list[int]:
    """The processes whose environment carries `marker` (this run's, whatever they forked)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to read
    return found


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_serve_starts_every_process_answers_health_and_stops_clean(private_redis, tmp_path):
    marker = f"THOR_SERVE_TEST={uuid.uuid4().hex}"
    web, stream = free_port(), free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")},
        "DEBUG": "true",
        "REDIS_URL": private_redis.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "WEB_PORT": str(web),
        "STREAM_PORT": str(stream),
        "CELERY_BEAT_SCHEDULE": str(tmp_path / "beat-schedule"),
        marker.split("=")[0]: marker.split("=")[1],
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        serve = subprocess.Popen(  # noqa: S603 - fixed arguments
            [SERVE], cwd=ROOT, env=environment, stdout=output, stderr=output
        )
    try:
        eventually(lambda: _healthy(f"http://127.0.0.1:{web}/schwab/health/"), within=120)
        eventually(lambda: _healthy(f"http://127.0.0.1:{stream}/schwab/health/"), within=60)
        ready = ("worker.1", " ready."), ("beat.1", "beat: Starting"), ("streamer.1", "stream worker")
        for process, line in ready:  # each up (a SIGTERM while Celery forks its pool is Celery's problem)
            eventually(lambda p=process, t=line: any(p in x and t in x for x in log.read_text().splitlines()))
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        eventually(lambda: not _processes_marked(marker), within=30)
    finally:
        if serve.poll() is None:
            serve.kill()
        for pid in _processes_marked(marker):
            os.kill(pid, signal.SIGKILL)
    assert "Traceback" not in log.read_text()
    assert not _healthy(f"http://127.0.0.1:{web}/schwab/health/")


def test_serve_without_a_real_redis_says_what_to_set():
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [SERVE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "set REDIS_URL to a real Redis" in result.stderr

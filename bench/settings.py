"""Benchmark settings: the project's, plus a bare JSON view to compare against (bench/urls.py)."""

from thor_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

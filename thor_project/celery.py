"""The Celery app: Redis as the broker, the beat schedule in settings (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thor_project.settings")

app = Celery("thor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""Print the OpenAPI document of /schwab/ (the repository keeps it as docs/openapi.json)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from LiveData.schwab.web import openapi


class Command(BaseCommand):
    help = "Print the /schwab/ OpenAPI document: manage.py schwab_openapi > docs/openapi.json"

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(openapi.document_text(), ending="")

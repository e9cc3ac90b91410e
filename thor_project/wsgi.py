"""WSGI entry point for the Thor project."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thor_project.settings")

application = get_wsgi_application()

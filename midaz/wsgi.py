"""WSGI entry point (gunicorn midaz.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midaz.settings")

application = get_wsgi_application()

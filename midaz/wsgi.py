"""WSGI entry point (gunicorn midaz.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midaz.settings")

from midaz import tracing

# Before the application loads its middleware: the Django instrumentation adds its own.
tracing.init("api")

application = get_wsgi_application()

"""The Django project: settings, URLs, the Celery app, the database router and the shared API
plumbing (errors, validation, pagination, metadata filters, health) every app builds on."""

from midaz.celery import app as celery_app

__all__ = ["celery_app"]

"""Static files outside DEBUG (WhiteNoise): collectstatic into a temporary STATIC_ROOT with the
production storage (hashed, compressed copies and their manifest), then the admin's stylesheet
and the Swagger UI are served by the application itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

PRODUCTION_STORAGES: dict[str, Any] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_the_production_settings_use_whitenoise() -> None:
    middleware = list(settings.MIDDLEWARE)
    security = middleware.index("django.middleware.security.SecurityMiddleware")
    assert middleware[security + 1] == "whitenoise.middleware.WhiteNoiseMiddleware"


@pytest.mark.django_db
def test_static_files_are_served_with_debug_off(tmp_path: Path) -> None:
    root = tmp_path / "static"
    assert settings.DEBUG is False
    with override_settings(STATIC_ROOT=root, STORAGES=PRODUCTION_STORAGES):
        call_command("collectstatic", "--noinput", verbosity=0)
        assert (root / "staticfiles.json").is_file()
        client = Client()  # its WhiteNoise indexes STATIC_ROOT now
        plain = client.get("/static/admin/css/base.css")
        assert plain.status_code == 200
        assert b"body" in plain.getvalue()
        assert plain["Content-Type"].startswith("text/css")
        # The admin's pages (the console's look, django-unfold) link the hashed copy of their
        # stylesheet, served for a year.
        login = client.get("/admin/login/").content.decode()
        hashed = next(
            part.split('"')[0] for part in login.split('href="') if "unfold/css/styles." in part
        )
        assert hashed != "/static/unfold/css/styles.css"
        answer = client.get(hashed, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200
        assert "immutable" in answer["Cache-Control"]
        assert answer["Content-Encoding"] == "gzip"
        # The Swagger UI's assets (drf-spectacular-sidecar) too.
        docs = client.get("/v1/docs").content.decode()
        bundle = next(
            part.split('"')[0] for part in docs.split('src="') if "swagger-ui-bundle" in part
        )
        assert client.get(bundle).status_code == 200
    assert Client().get("/static/admin/css/base.css").status_code == 404  # none collected

"""The API key in the OpenAPI schema: an HTTP bearer scheme (imported by the app config)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.auth.BearerKeyAuthentication"
    name = "BearerKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`mdz_...`) made with `manage.py create_api_key` or in "
            "the admin. Required when AUTH_ENABLED is on (the default outside the embedded "
            "development default).",
        }

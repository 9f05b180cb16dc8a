from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console: the Django admin as the ledger's front end (README, "Operator
    console"): dashboard, actions through the API's services, staff groups, audit records."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin
        from django.db.models.signals import post_migrate

        from console.groups import ensure_groups

        # After every migrate (and every test database flush): the groups exist with exactly
        # their permissions, including those of models added since.
        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="console.ensure_groups")
        # The admin index is the dashboard (console/dashboard.py, UNFOLD DASHBOARD_CALLBACK).
        admin.site.index_template = "console/dashboard.html"
        admin.site.index_title = "Dashboard"

from django.apps import AppConfig


class MidazConfig(AppConfig):
    name = "midaz"
    verbose_name = "Midaz plumbing"

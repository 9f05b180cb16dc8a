"""Routes of the balance and operation endpoints."""

urlpatterns: list = []

"""Routes of the transactions app (assets and accounts, which open balances)."""

from django.urls import include, path

from transactions.api import accounts

L = "organizations/<str:organization_id>/ledgers/<str:ledger_id>"

urlpatterns = [
    path(f"{L}/assets", accounts.AssetCollection.as_view()),
    path(f"{L}/assets/metrics/count", accounts.AssetCount.as_view()),
    path(f"{L}/assets/<str:id>", accounts.AssetItem.as_view()),
    path(f"{L}/accounts", accounts.AccountCollection.as_view()),
    path(f"{L}/accounts/metrics/count", accounts.AccountCount.as_view()),
    path(f"{L}/accounts/alias/<str:alias>", accounts.AccountByAlias.as_view()),
    path(f"{L}/accounts/external/<str:code>", accounts.AccountByExternalCode.as_view()),
    path(f"{L}/accounts/<str:id>", accounts.AccountItem.as_view()),
    path("", include("transactions.api.read_urls")),
]

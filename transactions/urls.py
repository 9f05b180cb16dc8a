"""Ledger-scoped routes of the transactions app: relative to
``/v1/organizations/<organization_id>/ledgers/<ledger_id>/`` (``midaz.urls`` mounts them).

Django tries routes in order, so the posting routes, the hot path, come first."""

from django.urls import path

from transactions.api import accounts, rates, read_urls, routes
from transactions.api import transactions as tx

ledger_urlpatterns = [
    path("transactions/json", tx.JsonCreate.as_view()),
    path("transactions/inflow", tx.InflowCreate.as_view()),
    path("transactions/outflow", tx.OutflowCreate.as_view()),
    path("transactions/annotation", tx.AnnotationCreate.as_view()),
    path("transactions/block", tx.BlockCreate.as_view()),
    path("transactions/unblock", tx.UnblockCreate.as_view()),
    path("transactions/dsl", tx.DslCreate.as_view()),
    path("transactions/bulk", tx.BulkCreate.as_view()),
    path("transactions", tx.TransactionCollection.as_view()),
    path("transactions/metrics/count", tx.TransactionCount.as_view()),
    path("transactions/<str:transaction_id>", tx.TransactionItem.as_view()),
    path("transactions/<str:transaction_id>/commit", tx.TransactionCommit.as_view()),
    path("transactions/<str:transaction_id>/cancel", tx.TransactionCancel.as_view()),
    path("transactions/<str:transaction_id>/revert", tx.TransactionRevert.as_view()),
    path("assets", accounts.AssetCollection.as_view()),
    path("assets/metrics/count", accounts.AssetCount.as_view()),
    path("assets/<str:id>", accounts.AssetItem.as_view()),
    path("accounts", accounts.AccountCollection.as_view()),
    path("accounts/metrics/count", accounts.AccountCount.as_view()),
    path("accounts/alias/<str:alias>", accounts.AccountByAlias.as_view()),
    path("accounts/external/<str:code>", accounts.AccountByExternalCode.as_view()),
    path("accounts/<str:id>", accounts.AccountItem.as_view()),
    path("operation-routes", routes.OperationRouteCollection.as_view()),
    path("operation-routes/<str:operation_route_id>", routes.OperationRouteItem.as_view()),
    path("transaction-routes", routes.TransactionRouteCollection.as_view()),
    path("transaction-routes/<str:transaction_route_id>", routes.TransactionRouteItem.as_view()),
    path("asset-rates", rates.AssetRatePut.as_view()),
    path("asset-rates/from/<str:asset_code>", rates.AssetRatesFrom.as_view()),
    path("asset-rates/<str:external_id>", rates.AssetRateItem.as_view()),
    *read_urls.urlpatterns,
]

"""Routes of the transactions app (assets and accounts, which open balances)."""

from django.urls import include, path

from transactions.api import accounts
from transactions.api import transactions as tx

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
    path(f"{L}/transactions", tx.TransactionCollection.as_view()),
    path(f"{L}/transactions/metrics/count", tx.TransactionCount.as_view()),
    path(f"{L}/transactions/json", tx.JsonCreate.as_view()),
    path(f"{L}/transactions/inflow", tx.InflowCreate.as_view()),
    path(f"{L}/transactions/outflow", tx.OutflowCreate.as_view()),
    path(f"{L}/transactions/annotation", tx.AnnotationCreate.as_view()),
    path(f"{L}/transactions/block", tx.BlockCreate.as_view()),
    path(f"{L}/transactions/unblock", tx.UnblockCreate.as_view()),
    path(f"{L}/transactions/dsl", tx.DslCreate.as_view()),
    path(f"{L}/transactions/<str:transaction_id>", tx.TransactionItem.as_view()),
    path(f"{L}/transactions/<str:transaction_id>/commit", tx.TransactionCommit.as_view()),
    path(f"{L}/transactions/<str:transaction_id>/cancel", tx.TransactionCancel.as_view()),
    path(f"{L}/transactions/<str:transaction_id>/revert", tx.TransactionRevert.as_view()),
    path("", include("transactions.api.read_urls")),
]

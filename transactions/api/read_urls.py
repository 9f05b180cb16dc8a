"""Routes of the balance and operation endpoints (included under /v1/ by transactions.urls)."""

from django.urls import path

from transactions.api import balances, operations

L = "organizations/<str:organization_id>/ledgers/<str:ledger_id>"
A = f"{L}/accounts/<str:account_id>"

urlpatterns = [
    path(f"{L}/balances", balances.BalanceCollection.as_view()),
    path(f"{L}/balances/<str:balance_id>", balances.BalanceItem.as_view()),
    path(f"{L}/balances/<str:balance_id>/history", balances.BalanceHistory.as_view()),
    path(f"{L}/accounts/alias/<str:alias>/balances", balances.AliasBalances.as_view()),
    path(f"{L}/accounts/external/<str:code>/balances", balances.ExternalBalances.as_view()),
    path(f"{A}/balances", balances.AccountBalanceCollection.as_view()),
    path(f"{A}/balances/history", balances.AccountBalanceHistory.as_view()),
    path(f"{A}/operations", operations.AccountOperationCollection.as_view()),
    path(f"{A}/operations/<str:operation_id>", operations.AccountOperationItem.as_view()),
    path(
        f"{L}/transactions/<str:transaction_id>/operations/<str:operation_id>",
        operations.TransactionOperationItem.as_view(),
    ),
]

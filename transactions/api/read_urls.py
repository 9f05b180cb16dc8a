"""Routes of the balance and operation endpoints (ledger-scoped; see transactions.urls)."""

from django.urls import path

from transactions.api import balances, operations

A = "accounts/<str:account_id>"

urlpatterns = [
    path("balances", balances.BalanceCollection.as_view()),
    path("balances/<str:balance_id>", balances.BalanceItem.as_view()),
    path("balances/<str:balance_id>/history", balances.BalanceHistory.as_view()),
    path("accounts/alias/<str:alias>/balances", balances.AliasBalances.as_view()),
    path("accounts/external/<str:code>/balances", balances.ExternalBalances.as_view()),
    path(f"{A}/balances", balances.AccountBalanceCollection.as_view()),
    path(f"{A}/balances/history", balances.AccountBalanceHistory.as_view()),
    path(f"{A}/operations", operations.AccountOperationCollection.as_view()),
    path(f"{A}/operations/<str:operation_id>", operations.AccountOperationItem.as_view()),
    path(
        "transactions/<str:transaction_id>/operations/<str:operation_id>",
        operations.TransactionOperationItem.as_view(),
    ),
]

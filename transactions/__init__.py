"""Transactions: balances, transactions, operations, the posting engine and its APIs."""

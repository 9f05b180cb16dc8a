"""Onboarding: organizations, ledgers, assets, portfolios, segments, account types, accounts."""

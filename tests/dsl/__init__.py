"""Tests of the Gold DSL parser (pure Python, no database)."""

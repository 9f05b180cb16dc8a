"""HTTP endpoints of the transactions app."""

"""Shared HTTP plumbing of the API: body parsing and validation, the wire format, errors,
pagination, metadata filters and the base views every endpoint uses."""

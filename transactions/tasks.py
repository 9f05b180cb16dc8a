"""Celery tasks: applying asynchronous postings, the sweep that catches any whose message was
lost, and the relay of transaction events (all scheduled in ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from transactions import asynchronous, events


@shared_task(name="transactions.tasks.apply_postings", acks_late=True)
def apply_postings(ledger_id: str) -> int:
    """Applies the ledger's queued postings (all that no other worker holds)."""
    return asynchronous.apply_ledger(ledger_id)


@shared_task(name="transactions.tasks.sweep_accepted", acks_late=True)
def sweep_accepted() -> int:
    return asynchronous.sweep()


@shared_task(name="transactions.tasks.relay_events", acks_late=True)
def relay_events() -> int:
    return events.relay()

"""Hypothesis: random sequences of postings against a reference model of the balances.

Each example opens a fresh ledger, then applies random inflows, transfers (some beyond the
funds), multi-leg splits, holds with commit or cancel, reverts and annotations through the
engine. After every step the stored balances equal the model's, a refused step changed
nothing, and ``verify_ledger`` holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midaz.exceptions import LedgerError
from onboarding import services as onboarding
from onboarding.models import Ledger
from transactions import posting
from transactions import services as accounts
from transactions.models import Balance, Operation, Transaction
from transactions.spec import Entry, Share, TransactionSpec
from transactions.verify import ledger_verify

pytestmark = pytest.mark.django_db

ALIASES = ["@a0", "@a1", "@a2", "@a3"]
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2)
who = st.sampled_from(range(len(ALIASES)))

steps = st.one_of(
    st.tuples(st.just("inflow"), who, amounts),
    st.tuples(st.just("transfer"), who, who, amounts),
    st.tuples(st.just("split"), who, amounts, st.integers(1, 99)),
    st.tuples(st.just("hold"), who, who, amounts, st.booleans()),
    st.tuples(st.just("revert"), st.integers(0, 30)),
    st.tuples(st.just("annotate"), who, who, amounts),
)


def fresh_ledger() -> Ledger:
    org = onboarding.organization_create(data={"legalName": "P", "legalDocument": "1"})
    ledger = onboarding.ledger_create(organization=org, data={"name": f"p-{uuid.uuid4()}"})
    accounts.asset_create(ledger=ledger, data={"name": "Dollar", "type": "currency", "code": "USD"})
    for alias in ALIASES:
        accounts.account_create(
            ledger=ledger, data={"assetCode": "USD", "type": "deposit", "alias": alias}
        )
    return ledger


def one_to_one(src: str, dst: str, value: Decimal, pending: bool = False) -> TransactionSpec:
    return TransactionSpec(
        asset="USD",
        value=value,
        pending=pending,
        sources=(Entry(src, amount=value),),
        destinations=(Entry(dst, amount=value),),
    )


def state(ledger: Ledger) -> tuple[Any, ...]:
    rows = Balance.objects.filter(ledger=ledger).order_by("alias", "key")
    return (
        tuple((b.alias, b.available, b.on_hold, b.version) for b in rows),
        Operation.objects.filter(ledger=ledger).count(),
        Transaction.objects.filter(ledger=ledger).count(),
    )


class Model:
    """What the balances must be: available and on-hold per alias."""

    def __init__(self) -> None:
        self.available = dict.fromkeys(ALIASES, Decimal(0))
        self.on_hold = dict.fromkeys(ALIASES, Decimal(0))
        self.approved: list[tuple[str, list[tuple[str, Decimal]], list[tuple[str, Decimal]]]] = []
        self.reverted: set[str] = set()

    def check(self, ledger: Ledger) -> None:
        for alias in ALIASES:
            balance = Balance.objects.get(ledger=ledger, alias=alias, key="default")
            assert balance.available == self.available[alias], alias
            assert balance.on_hold == self.on_hold[alias], alias
            assert balance.available >= 0


def apply(ledger: Ledger, model: Model, step: tuple[Any, ...]) -> bool:
    """Apply one step to the ledger and the model; False when the ledger refused it."""
    kind = step[0]
    if kind == "inflow":
        _, i, value = step
        tx = posting.transaction_create(
            ledger=ledger, spec=one_to_one("@external/USD", ALIASES[i], value)
        )
        model.available[ALIASES[i]] += value
        model.approved.append(
            (str(tx.body["id"]), [("@external/USD", value)], [(ALIASES[i], value)])
        )
    elif kind == "transfer":
        _, i, j, value = step
        src, dst = ALIASES[i], ALIASES[j]
        if i == j:
            spec = one_to_one(src, dst, value)
            with pytest.raises(LedgerError) as refused:
                posting.transaction_create(ledger=ledger, spec=spec)
            assert refused.value.code == "0090"
            return False
        if model.available[src] < value:
            with pytest.raises(LedgerError) as refused:
                posting.transaction_create(ledger=ledger, spec=one_to_one(src, dst, value))
            assert refused.value.code == "0018"
            return False
        tx = posting.transaction_create(ledger=ledger, spec=one_to_one(src, dst, value))
        model.available[src] -= value
        model.available[dst] += value
        model.approved.append((str(tx.body["id"]), [(src, value)], [(dst, value)]))
    elif kind == "split":
        _, i, value, percent = step
        src = ALIASES[i]
        others = [a for a in ALIASES if a != src]
        spec = TransactionSpec(
            asset="USD",
            value=value,
            sources=(Entry(src, amount=value),),
            destinations=(Entry(others[0], share=Share(percent)), Entry(others[1], remaining=True)),
        )
        if model.available[src] < value:
            with pytest.raises(LedgerError) as refused:
                posting.transaction_create(ledger=ledger, spec=spec)
            assert refused.value.code == "0018"
            return False
        tx = posting.transaction_create(ledger=ledger, spec=spec)
        first = value * percent / 100
        model.available[src] -= value
        model.available[others[0]] += first
        model.available[others[1]] += value - first
        model.approved.append(
            (str(tx.body["id"]), [(src, value)], [(others[0], first), (others[1], value - first)])
        )
    elif kind == "hold":
        _, i, j, value, commit = step
        src, dst = ALIASES[i], ALIASES[j]
        if i == j or model.available[src] < value:
            with pytest.raises(LedgerError):
                posting.transaction_create(ledger=ledger, spec=one_to_one(src, dst, value, True))
            return False
        tx = posting.transaction_create(ledger=ledger, spec=one_to_one(src, dst, value, True))
        model.available[src] -= value
        model.on_hold[src] += value
        model.check(ledger)
        tx_id = uuid.UUID(str(tx.body["id"]))
        if commit:
            posting.transaction_commit(ledger=ledger, transaction_id=tx_id)
            model.on_hold[src] -= value
            model.available[dst] += value
            model.approved.append((str(tx_id), [(src, value)], [(dst, value)]))
        else:
            posting.transaction_cancel(ledger=ledger, transaction_id=tx_id)
            model.on_hold[src] -= value
            model.available[src] += value
        with pytest.raises(LedgerError) as again:
            posting.transaction_commit(ledger=ledger, transaction_id=tx_id)
        assert again.value.code == "0099"
    elif kind == "revert":
        _, pick = step
        if not model.approved:
            return False
        tx_id, sources, destinations = model.approved[pick % len(model.approved)]
        if tx_id in model.reverted:
            with pytest.raises(LedgerError) as refused:
                posting.transaction_revert(ledger=ledger, transaction_id=uuid.UUID(tx_id))
            assert refused.value.code == "0087"
            return False
        short = any(
            alias != "@external/USD" and model.available[alias] < amount
            for alias, amount in destinations
        )
        if short:
            with pytest.raises(LedgerError) as refused:
                posting.transaction_revert(ledger=ledger, transaction_id=uuid.UUID(tx_id))
            assert refused.value.code == "0018"
            return False
        posting.transaction_revert(ledger=ledger, transaction_id=uuid.UUID(tx_id))
        model.reverted.add(tx_id)
        for alias, amount in destinations:
            if alias != "@external/USD":
                model.available[alias] -= amount
        for alias, amount in sources:
            if alias != "@external/USD":
                model.available[alias] += amount
    elif kind == "annotate":
        _, i, j, value = step
        if i == j:
            return False
        posting.transaction_create(
            ledger=ledger, spec=one_to_one(ALIASES[i], ALIASES[j], value), kind="annotation"
        )
    return True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=15))
def test_random_postings_follow_the_model(script: list[tuple[Any, ...]]) -> None:
    run_script(fresh_ledger(), Model(), script, apply)


def run_script(
    ledger: Ledger,
    model: Any,
    script: list[tuple[Any, ...]],
    step_by: Callable[[Ledger, Any, tuple[Any, ...]], bool],
) -> None:
    """Applies each step to the ledger and the model (``step_by`` answers False when the
    ledger refused it); after each, a refused step has left no trace at all, the balances are
    the model's (``model.check``) and ``verify_ledger`` holds."""
    for step in script:
        before = state(ledger)
        if not step_by(ledger, model, step):
            assert state(ledger) == before
        model.check(ledger)
        report = ledger_verify(ledger_id=ledger.id)
        assert report.ok, report.problems

"""Hypothesis: random postings on balances with overdraft (SEMANTICS.md §4.4) against a
reference model written from the rules, not from the engine.

Balances: @a0 overdraft up to 100, @a1 overdraft without a limit, @a2 no overdraft, @a3
overdraft up to 0.5. Steps: inflows, transfers (many beyond the funds), holds left pending,
commits and cancels of any pending hold later (after other postings repaid or drew more), and
reverts. After every step each balance's available, on-hold and overdraft in use equal the
model's, its companion equals its overdraft in use, a refused step changed nothing, and
``verify_ledger`` holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from midaz.exceptions import LedgerError
from onboarding.models import Ledger
from tests.transactions.test_posting_properties import ALIASES, one_to_one, run_script
from tests.transactions.test_posting_properties import fresh_ledger as plain_ledger
from transactions import balances, posting
from transactions.models import Balance

pytestmark = pytest.mark.django_db

EXTERNAL = "@external/USD"
LIMITS: dict[str, Decimal | None] = {"@a0": Decimal(100), "@a1": None, "@a3": Decimal("0.5")}
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(150), places=2)
who = st.sampled_from(range(len(ALIASES)))

steps = st.one_of(
    st.tuples(st.just("inflow"), who, amounts),
    st.tuples(st.just("transfer"), who, who, amounts),
    st.tuples(st.just("hold"), who, who, amounts),
    st.tuples(st.just("settle"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("revert"), st.integers(0, 20)),
)


class Refused(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


@dataclass
class Account:
    available: Decimal = Decimal(0)
    on_hold: Decimal = Decimal(0)
    used: Decimal = Decimal(0)


@dataclass
class Model:
    accounts: dict[str, Account] = field(default_factory=lambda: {a: Account() for a in ALIASES})
    # (transaction id, source, destination, value) of approved one-to-one postings
    approved: list[tuple[str, str, str, Decimal]] = field(default_factory=list)
    reverted: set[str] = field(default_factory=set)
    # (transaction id, source, destination, value, drawn from overdraft at hold time)
    pending: list[tuple[str, str, str, Decimal, Decimal]] = field(default_factory=list)

    def debit(self, alias: str, value: Decimal, hold: bool = False) -> Decimal:
        """Takes ``value`` from ``alias`` (to hold when ``hold``); returns what overdraft gave.
        Raises Refused(0018 / 0167) without changing anything."""
        if alias == EXTERNAL:
            return Decimal(0)
        acc = self.accounts[alias]
        drawn = max(value - acc.available, Decimal(0))
        if drawn:
            if alias not in LIMITS:
                raise Refused("0018")
            limit = LIMITS[alias]
            if limit is not None and acc.used + drawn > limit:
                raise Refused("0167")
        acc.available -= value - drawn
        acc.used += drawn
        if hold:
            acc.on_hold += value
        return drawn

    def credit(self, alias: str, value: Decimal, repay_at_most: Decimal | None = None) -> None:
        if alias == EXTERNAL:
            return
        acc = self.accounts[alias]
        repay = min(value, acc.used, value if repay_at_most is None else repay_at_most)
        acc.used -= repay
        acc.available += value - repay

    def transfer(self, src: str, dst: str, value: Decimal) -> None:
        self.debit(src, value)  # refusals raise before anything changes
        self.credit(dst, value)

    def check(self, ledger: Ledger) -> None:
        rows = {(b.alias, b.key): b for b in Balance.objects.filter(ledger=ledger)}
        for alias, acc in self.accounts.items():
            b = rows[(alias, "default")]
            assert (b.available, b.on_hold, b.overdraft_used) == (
                acc.available,
                acc.on_hold,
                acc.used,
            ), alias
            if alias in LIMITS:
                assert rows[(alias, "overdraft")].available == acc.used, alias


def fresh_ledger() -> Ledger:
    """The property ledger of test_posting_properties (the same four accounts), with overdraft
    enabled as LIMITS says."""
    ledger = plain_ledger()
    for alias, limit in LIMITS.items():
        settings: dict[str, Any] = {"allowOverdraft": True}
        if limit is not None:
            settings |= {"overdraftLimitEnabled": True, "overdraftLimit": str(limit)}
        balance = Balance.objects.get(ledger=ledger, alias=alias, key="default")
        balances.balance_update(ledger=ledger, balance_id=balance.id, data={"settings": settings})
    return ledger


def expect(ledger: Ledger, model: Model, action: Any, change: Any) -> Any:
    """Runs ``change`` on a copy of the model first: if the model refuses, the ledger must
    refuse with the same code; otherwise the ledger's answer is returned and the model kept."""
    trial = Model(
        accounts={a: Account(**vars(acc)) for a, acc in model.accounts.items()},
        approved=model.approved,
        reverted=model.reverted,
        pending=model.pending,
    )
    code: str | None = None
    try:
        result = change(trial)
    except Refused as refused:
        code = refused.code
    if code is not None:
        with pytest.raises(LedgerError) as caught:
            action()
        assert caught.value.code == code
        return None
    answer = action()
    model.accounts = trial.accounts
    return answer, result


def apply(ledger: Ledger, model: Model, step: tuple[Any, ...]) -> bool:
    kind = step[0]
    if kind == "inflow":
        _, i, value = step
        dst = ALIASES[i]
        done = expect(
            ledger,
            model,
            lambda: posting.transaction_create(
                ledger=ledger, spec=one_to_one(EXTERNAL, dst, value)
            ),
            lambda m: m.transfer(EXTERNAL, dst, value),
        )
        assert done is not None  # an inflow is never refused
        model.approved.append((str(done[0].body["id"]), EXTERNAL, dst, value))
        return True
    if kind in ("transfer", "hold"):
        _, i, j, value = step
        if i == j:
            return False
        src, dst = ALIASES[i], ALIASES[j]
        pending = kind == "hold"
        done = expect(
            ledger,
            model,
            lambda: posting.transaction_create(
                ledger=ledger, spec=one_to_one(src, dst, value, pending)
            ),
            (lambda m: m.debit(src, value, hold=True))
            if pending
            else (lambda m: m.transfer(src, dst, value)),
        )
        if done is None:
            return False
        tx_id = str(done[0].body["id"])
        if pending:
            model.pending.append((tx_id, src, dst, value, done[1]))
        else:
            model.approved.append((tx_id, src, dst, value))
        return True
    if kind == "settle":
        _, pick, commit = step
        if not model.pending:
            return False
        tx_id, src, dst, value, drawn = model.pending.pop(pick % len(model.pending))
        tx = uuid.UUID(tx_id)
        acc = model.accounts[src]
        acc.on_hold -= value
        if commit:
            posting.transaction_commit(ledger=ledger, transaction_id=tx)
            model.credit(dst, value)
            model.approved.append((tx_id, src, dst, value))
        else:
            posting.transaction_cancel(ledger=ledger, transaction_id=tx)
            model.credit(src, value, repay_at_most=drawn)
        return True
    _, pick = step  # revert
    if not model.approved:
        return False
    tx_id, src, dst, value = model.approved[pick % len(model.approved)]
    if tx_id in model.reverted:
        with pytest.raises(LedgerError) as again:
            posting.transaction_revert(ledger=ledger, transaction_id=uuid.UUID(tx_id))
        assert again.value.code == "0087"
        return False
    done = expect(
        ledger,
        model,
        lambda: posting.transaction_revert(ledger=ledger, transaction_id=uuid.UUID(tx_id)),
        lambda m: m.transfer(dst, src, value),
    )
    if done is None:
        return False
    model.reverted.add(tx_id)
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=20))
# A cancel after more overdraft was drawn elsewhere repays only what its own hold drew.
@example(
    [
        ("inflow", 1, Decimal(30)),
        ("hold", 1, 2, Decimal(100)),
        ("transfer", 1, 2, Decimal(50)),
        ("settle", 0, False),
        ("revert", 1),
    ]
)
# Limits: a hold at the limit, a commit that repays, a draw refused at 0.5 (0167).
@example(
    [
        ("hold", 0, 1, Decimal(100)),
        ("transfer", 0, 1, Decimal("0.01")),
        ("inflow", 0, Decimal(40)),
        ("settle", 0, True),
        ("transfer", 3, 0, Decimal("0.5")),
        ("transfer", 3, 0, Decimal("0.01")),
        ("transfer", 2, 0, Decimal(1)),
        ("revert", 2),
    ]
)
def test_random_overdraft_postings_follow_the_model(script: list[tuple[Any, ...]]) -> None:
    run_script(fresh_ledger(), Model(), script, apply)

"""Findings of an adversarial review beyond the list it started from (issue 16), kept as
regression tests: each asserts the correct behaviour, and each failed when it was written. One
test (or one parametrized family) per finding; the docstring says what was wrong, the exact
request, and what must happen.

Run: ``make test PYTEST_ARGS=tests/hostile/test_review_findings.py``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from midaz.api.validation import amount_digits
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from transactions import asynchronous
from transactions.models import Balance, QueuedPosting, Transaction


def body_of(response: Any) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.content[:300]


def assert_4xx(response: Any) -> dict[str, Any]:
    """A refusal in the Midaz shape (any 4xx with a code), never a 500."""
    body = body_of(response)
    assert 400 <= response.status_code < 500, (response.status_code, body)
    if response.request["REQUEST_METHOD"] != "HEAD":
        assert isinstance(body, dict), body
        assert body.get("code"), body
    return body


def put_raw(api: Api, path: str, body: dict[str, Any]) -> Any:
    """PUT with the standard library's JSON (orjson cannot write every integer a client can)."""
    return api.request("PUT", path, raw=json.dumps(body).encode())


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    api.create_asset(ledger, code="EUR")
    b.account("@alice")
    b.account("@bob")
    b.account("@eve", asset="EUR")
    b.fund("@alice", "100")
    return b


# --- F1, F2: a NUL byte in a query or path parameter is a 500 --------------------------------

_NUL_QUERIES = [
    ("/accounts", "metadata.k"),
    ("/accounts", "name"),
    ("/accounts", "alias"),
    ("/accounts", "entity_id"),
    ("/accounts", "type"),
    ("/accounts", "asset_code"),
    ("/transactions", "metadata.k"),
    ("/portfolios", "metadata.k"),
    ("/balances", "metadata.k"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "param"), _NUL_QUERIES)
def test_f1_nul_byte_in_a_query_parameter_is_refused_not_a_500(
    api: Api, book: Book, route: str, param: str
) -> None:
    """F1. ``GET .../accounts?name=a%00b`` (and ``alias``, ``entity_id``, ``type``,
    ``asset_code``, any ``metadata.<k>``, on every list route, and ``?metadata.k=%00`` on
    ``GET /v1/organizations``) answers 500 0046: the value reaches PostgreSQL, which raises
    "text fields cannot contain NUL (0x00) bytes". Bodies are already guarded (0047, null
    byte); query parameters are not. Expected: 400 0047 (or 0082), nothing queried."""
    response = api.get(book.path(route), **{param: "a\x00b"})
    assert_4xx(response)


@pytest.mark.django_db
def test_f1_nul_byte_in_root_and_count_queries(api: Api, book: Book) -> None:
    """F1 (continued). ``GET /v1/organizations?metadata.k=%00`` is 500;
    ``HEAD .../transactions/metrics/count?route=%00`` is 500 (empty body). Expected 400."""
    assert_4xx(api.get("/organizations", **{"metadata.k": "\x00"}))
    assert_4xx(api.head(book.path("/transactions/metrics/count"), route="\x00"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "suffix",
    [
        "/accounts/alias/a%00b",
        "/accounts/external/A%00",
        "/accounts/alias/a%00/balances",
        "/accounts/external/A%00/balances",
    ],
)
def test_f2_nul_byte_in_a_path_parameter_is_refused_not_a_500(
    client: Client, book: Book, suffix: str
) -> None:
    """F2. ``GET .../accounts/alias/a%00b`` (and ``/accounts/external/A%00``,
    ``/accounts/alias/a%00/balances``, ``/accounts/external/A%00/balances``) answers 500: the
    alias path segment goes to PostgreSQL with its NUL. Expected: 404 0085 (no such alias) or
    400 0047; never a 500."""
    response = client.get("/v1" + book.path(suffix))
    assert_4xx(response)


# --- F3, F4, F5: asset rates whose scale or ttl the storage or the arithmetic cannot hold -----


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["scale", "ttl"])
def test_f3_asset_rate_scale_or_ttl_beyond_the_column_is_a_400(
    api: Api, book: Book, field: str
) -> None:
    """F3. ``PUT .../asset-rates {"from":"USD","to":"EUR","rate":1,"scale":1099511627776}``
    (or ``"ttl": 1099511627776``) answers 500: the columns are PostgreSQL ``integer``
    (PositiveIntegerField) and the value overflows on insert. Only ``>= 0`` is checked.
    Expected: 400 0047 naming the field, with the bound in the OpenAPI schema."""
    body = {"from": "USD", "to": "EUR", "rate": 1, field: 2**40}
    assert_error(put_raw(api, book.path("/asset-rates"), body), 400, "0047")


@pytest.mark.django_db
def test_f4_a_stored_rate_with_a_huge_scale_makes_conversions_500(api: Api, book: Book) -> None:
    """F4. ``PUT .../asset-rates {"from":"USD","to":"EUR","rate":1,"scale":20000}`` is
    accepted (201); then ``POST .../transactions/json`` converting to EUR at the stored rate
    (``"rate": {"from":"USD","to":"EUR"}`` on the destination, no value) answers 500: the
    converted amount 10E-20000 is computed exactly in Python but PostgreSQL ``numeric`` holds at
    most 16383 decimal places ("value overflows numeric format"). The digit limit
    (MAX_AMOUNT_DIGITS) is checked on amounts and inline rates, never on a stored rate's
    scale nor on the converted amount. Expected: the PUT refuses such a scale (400 0047), or the
    posting is refused 422 0125; never a 500."""
    put = put_raw(
        api, book.path("/asset-rates"), {"from": "USD", "to": "EUR", "rate": 1, "scale": 20000}
    )
    if put.status_code == 201:
        body = send(
            "USD",
            "10",
            [amt("@alice", "10")],
            [{**amt("@eve", "10"), "rate": {"from": "USD", "to": "EUR"}}],
        )
        assert_4xx(book.post(body))
    else:
        assert_error(put, 400, "0047")


@pytest.mark.django_db
def test_f5_async_poison_pill_through_a_stored_rate(api: Api, book: Book, settings: Any) -> None:
    """F5. The same as F4 with ``TRANSACTION_ASYNC=true``: the conversion posting is accepted
    (201 CREATED: the accept step computes the 10E-20000 leg but never casts it), then
    ``apply_ledger`` raises ``NumericValueOutOfRange`` on every run, so the ledger's queue is
    stalled: an ordinary ``@alice -> @bob 1`` accepted after it stays CREATED forever. This is
    item 1's class (accept-time validation != apply-time) through an input issue 16 does not
    list: a stored asset rate. Expected: refused before the 201 (400/422), or declined by the
    worker with a code while the next posting is applied."""
    put = put_raw(
        api, book.path("/asset-rates"), {"from": "USD", "to": "EUR", "rate": 1, "scale": 20000}
    )
    settings.TRANSACTION_ASYNC = True
    poison = book.post(
        send(
            "USD",
            "10",
            [amt("@alice", "10")],
            [{**amt("@eve", "10"), "rate": {"from": "USD", "to": "EUR"}}],
        )
    )
    later = book.ok(book.transfer("@alice", "@bob", "1"))
    asynchronous.apply_ledger(book.ledger["id"])  # must not raise
    assert Transaction.objects.get(pk=later["id"]).status == "APPROVED"
    if poison.status_code == 201:
        assert Transaction.objects.get(pk=body_of(poison)["id"]).status == "DECLINED"
    else:
        assert put.status_code != 201 or 400 <= poison.status_code < 500
    assert not QueuedPosting.objects.filter(ledger_id=book.ledger["id"]).exists()


# --- F6: a deleted organization's ledgers keep working ----------------------------------------


@pytest.mark.django_db
def test_f6_ledgers_of_a_deleted_organization_are_gone_too(api: Api, book: Book) -> None:
    """F6. ``DELETE /v1/organizations/{org}`` answers 204 (soft delete) and then
    ``GET /organizations/{org}/ledgers/{ledger}`` is 404 0038, but every ledger-scoped route
    still works: ``GET .../accounts`` 200 with the accounts, ``GET .../balances`` 200, and
    ``POST .../transactions/json`` 201 moves money. ``ledger_or_404`` and ``midaz_post`` check
    the ledger's ``deleted_at`` but never the organization's. Expected: either the delete is
    refused while the organization has live ledgers (409/422), or every route under the deleted
    organization answers 404 0038 and nothing is posted there."""
    org = book.ledger["organizationId"]
    deleted = api.delete(f"/organizations/{org}")
    if deleted.status_code != 204:
        assert_4xx(deleted)
        return
    assert_error(api.get(book.path("/accounts")), 404, "0038")
    assert_error(api.get(book.path("/balances")), 404, "0038")
    before = Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available
    assert_error(book.transfer("@alice", "@bob", "1"), 404, "0038")
    assert Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available == before


# --- F7: NUL byte inside a Gold DSL string ---------------------------------------------------


@pytest.mark.django_db
def test_f7_nul_byte_in_a_gold_string_is_refused_not_a_500(client: Client, book: Book) -> None:
    """F7. ``POST .../transactions/dsl`` with a Gold file whose ``(description "a\\x00b")``
    holds a NUL byte answers 500: the JSON routes refuse NUL anywhere (0047) but the DSL path
    checks only lengths and digits (``check_spec_limits``), so the NUL reaches the INSERT. The
    same NUL in an alias is a 400 0048 from the parser. Expected: 400 0047 (or 0048)."""
    text = (
        '(transaction V1 (chart-of-accounts-group-name G) (description "a\x00b") '
        "(send USD 10|0 (source (from @alice :amount USD 10|0)) "
        "(distribute (to @bob :amount USD 10|0))))"
    )
    upload = SimpleUploadedFile("x.gold", text.encode(), content_type="text/plain")
    response = client.post("/v1" + book.path("/transactions/dsl"), {"dsl": upload})
    assert_4xx(response)


# --- F8: conversions create balances beyond the digit limit ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "rate"),
    [("0.01", "1e-63"), ("0.5", "9" * 64)],
    ids=["tiny", "huge"],
)
def test_f8_a_converted_amount_stays_within_the_digit_limit(
    book: Book, settings: Any, value: str, rate: str
) -> None:
    """F8. ``POST .../transactions/json`` ``send USD 0.01 from @alice to @eve`` with
    ``"rate": {"from":"USD","to":"EUR","value":"1e-63"}`` on @eve is 201 and credits @eve
    ``1E-65`` EUR (65 digits); with ``"value": "9"*64`` and 0.5 USD, @eve gets
    ``4999…9.5`` (65 digits); repeated, the digits add up (130 seen). Every amount a client
    can send has at most MAX_AMOUNT_DIGITS (64)
    digits, so such a balance can never be moved out whole nor emptied, and the account can
    never be deleted (0012): a state that cannot be undone. The converted amount is never
    checked against the limit. Expected: 422 0125 (or 400 0047) when a converted amount
    exceeds MAX_AMOUNT_DIGITS, and no balance ever holds more digits than a posting can move."""
    body = send(
        "USD",
        value,
        [amt("@alice", value)],
        [{**amt("@eve", value), "rate": {"from": "USD", "to": "EUR", "value": rate}}],
    )
    response = book.post(body)
    eve = Balance.objects.get(ledger_id=book.ledger["id"], alias="@eve").available
    if response.status_code == 201:
        assert amount_digits(eve) <= settings.MAX_AMOUNT_DIGITS, eve
    else:
        assert_4xx(response)
        assert eve == 0


# --- F9: an asset code the external account's alias cannot hold ------------------------------


@pytest.mark.django_db
def test_f9_asset_code_longer_than_the_external_alias_allows_is_a_400(
    api: Api, ledger: dict[str, Any]
) -> None:
    """F9. ``POST .../assets {"name":"long","type":"crypto","code":"A"*95}`` answers 500: the
    code may be 100 characters, but the asset's external account alias is ``"@external/" +
    code`` (105 characters) in a 100-character column. Expected: 400 0047 for a code over 90
    characters (the schema says so), nothing stored."""
    response = api.post(
        ledger_path(ledger, "/assets"), {"name": "long", "type": "crypto", "code": "A" * 95}
    )
    assert_error(response, 400, "0047")


# --- F10: a unique metadata index is a cross-tenant oracle -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_f10_a_unique_metadata_index_does_not_reveal_other_tenants_values(api: Api) -> None:
    """F10. With ``POST /v1/settings/metadata-indexes/entities/account {"metadataKey":
    "customerId", "unique": true}`` (an operator's setting for everyone), organization A
    creates an account with ``metadata {"customerId": "C1"}``; organization B's
    ``POST .../accounts`` with the same metadata value in B's own ledger then answers 409
    0498: B learns that some other tenant holds customer C1 (and can enumerate values). The
    index is on the whole table, not per (organization, ledger). Issue 16 item 2: no answer
    may depend on data of a ledger outside the caller's organization. Expected: B's account is
    created (201); uniqueness holds within a ledger (or organization) only."""
    try:
        api.ok(
            api.post(
                "/settings/metadata-indexes/entities/account",
                {"metadataKey": "customerId", "unique": True},
            ),
            201,
        )
        tenants = []
        for _ in range(2):
            org = api.create_organization()
            led = api.create_ledger(org["id"])
            api.create_asset(led, code="USD")
            tenants.append(led)
        api.create_account(tenants[0], alias="@a", metadata={"customerId": "C1"})
        other = api.post(
            ledger_path(tenants[1], "/accounts"),
            {
                "assetCode": "USD",
                "type": "deposit",
                "alias": "@b",
                "metadata": {"customerId": "C1"},
            },
        )
        assert other.status_code == 201, body_of(other)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname "
                "LIKE 'mdx\\_%%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


# --- F11: a negative leg amount is silently read as zero -------------------------------------


@pytest.mark.django_db
def test_f11_a_negative_entry_amount_is_refused_not_ignored(book: Book) -> None:
    """F11. ``POST .../transactions/json`` with ``send USD 5``, ``from [{@alice amount 5},
    {@bob amount -5}]``, ``to [{@bob amount 5}]`` answers 201: ``_resolve_side`` skips an
    amount that is not > 0, so ``-5`` (and ``0``) resolve to a 0 leg that is dropped, and the
    client's explicit, inconsistent instruction (take -5 from @bob) is silently rewritten.
    Issue 16 item 1 names negative *shares*; negative and zero *amounts* are the same class
    through another input. (Midaz's CalculateTotal also skips a non-positive amount, but the
    alias then has no amount and its balance-count check refuses the posting, 0019.)
    Expected: a 4xx (400 0047, 422 0125 or 0019) for an entry amount <= 0, nothing posted."""
    body = send("USD", "5", [amt("@alice", "5"), amt("@bob", "-5")], [amt("@bob", "5")])
    assert_4xx(book.post(body))


# --- F12: the "alias#key" lookup lets a leg name a balance it does not name -----------------


@pytest.mark.django_db
def test_f12_a_leg_cannot_reach_a_balance_through_a_hash_in_its_key(api: Api, book: Book) -> None:
    """F12. Balance keys may contain ``#`` (only whitespace is refused), and ``midaz_post``
    finds a leg's balance by the text ``alias || '#' || key``. So after
    ``POST .../accounts/{alice}/balances {"key": "x#y"}`` (funded with 10), the posting
    ``send USD 10 from [{@alice#x, balanceKey y, 5}, {@alice, 5}] to [{@bob, 10}]`` is 201: the
    leg for the non-existent account ``@alice#x`` (key ``y``) debits @alice's ``x#y`` balance,
    and the transaction's ``source`` records ``@alice#x``, an alias no account has. Expected:
    422 0019 (no balance for @alice#x (y)) and nothing moved; and keys with ``#`` refused at
    creation (400 0047), or the lookup keyed by (alias, key), not by their concatenation."""
    alice = api.get(book.path("/accounts/alias/@alice"))
    alice_id = body_of(alice)["id"]
    made = api.post(book.path(f"/accounts/{alice_id}/balances"), {"key": "x#y"})
    if made.status_code == 400:
        return  # keys with '#' refused at creation: fixed that way
    book.ok(made)
    book.ok(
        book.post(
            send(
                "USD",
                "10",
                [amt("@external/USD", "10")],
                [{**amt("@alice", "10"), "balanceKey": "x#y"}],
            )
        )
    )
    body = send(
        "USD",
        "10",
        [{**amt("@alice#x", "5"), "balanceKey": "y"}, amt("@alice", "5")],
        [amt("@bob", "10")],
    )
    assert_error(book.post(body), 422, "0019")
    assert (
        Balance.objects.get(ledger_id=book.ledger["id"], alias="@alice", key="x#y").available == 10
    )


# --- F13: the external account's balance can be deleted, for good ---------------------------


@pytest.mark.django_db
def test_f13_the_external_balance_of_an_asset_cannot_be_deleted(api: Api, book: Book) -> None:
    """F13. ``DELETE .../balances/{id of @external/EUR default}`` answers 204 while it is zero
    (a fresh asset, or one whose flows net out). From then on the asset can never be used:
    every inflow, outflow or conversion through ``@external/EUR`` is 422 0019, and the balance
    cannot be re-created (``POST .../accounts/{external}/balances`` is 0124 on external
    accounts; the account itself cannot be changed, 0074). External accounts "cannot be changed
    or deleted" (0074) everywhere else. Expected: 422 0074 (or 0169), the balance kept."""
    ext = Balance.objects.get(ledger_id=book.ledger["id"], alias="@external/EUR")
    response = api.delete(book.path(f"/balances/{ext.id}"))
    assert_4xx(response)
    inflow = {
        "send": {"asset": "EUR", "value": "1", "distribute": {"to": [amt("@eve", "1", "EUR")]}}
    }
    book.ok(book.post(inflow, "inflow"))


# --- F14: commit/cancel/revert read another ledger's async queue ----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("verb", ["commit", "cancel", "revert"])
def test_f14_settling_does_not_see_another_ledgers_queue(
    api: Api, book: Book, settings: Any, verb: str
) -> None:
    """F14. ``asynchronous.settled`` (run first by commit, cancel and revert) asks
    ``QueuedPosting.objects.filter(transaction_id=...)`` without the ledger. With
    ``TRANSACTION_ASYNC=true``, organization B has a posting still queued (CREATED); organization
    A sends ``POST /organizations/A/ledgers/LA/transactions/{B's id}/commit`` (or cancel,
    revert): the request spins ``ASYNC_WAIT_SECONDS`` applying A's ledger, then answers 409 0099
    "still being applied", where an unknown id answers 404 0007: A learns that B's
    transaction exists and is queued (and each such request holds a worker for the wait).
    Expected: 404 0007 at once, as for any id outside A's ledger."""
    settings.ASYNC_WAIT_SECONDS = 0.2
    other_org = api.create_organization()
    other = api.create_ledger(other_org["id"])
    b = Book(api, other)
    api.create_asset(other, code="USD")
    b.account("@x")
    settings.TRANSACTION_ASYNC = True
    queued = b.ok(
        b.post(
            {"send": {"asset": "USD", "value": "1", "distribute": {"to": [amt("@x", "1")]}}},
            "inflow",
        )
    )
    assert QueuedPosting.objects.filter(transaction_id=queued["id"]).exists()
    response = api.post(book.path(f"/transactions/{queued['id']}/{verb}"))
    assert_error(response, 404, "0007")
    # leave B's queue applied, so that the ledger check after the test sees a settled ledger
    asynchronous.apply_ledger(other["id"])


# --- F15, F16: revert and commit follow the alias, not the account, after a delete ------------


def _reuse_alias(api: Api, book: Book, alias: str) -> str | None:
    """Deletes the (empty) account with ``alias`` and opens a new one with the same alias; None
    when the delete is refused (422 0012) because a posting in flight still names the account
    (one way of closing the hole: the alias is then never reused under it)."""
    old = body_of(api.get(book.path(f"/accounts/alias/{alias}")))
    deleted = api.delete(book.path(f"/accounts/{old['id']}"))
    if deleted.status_code == 422 and body_of(deleted).get("code") == "0012":
        return None
    assert deleted.status_code == 204, body_of(deleted)
    new = book.account(alias)
    assert new["id"] != old["id"]
    return new["id"]


@pytest.mark.django_db
def test_f15_revert_never_takes_money_from_an_account_that_was_not_in_the_transaction(
    api: Api, book: Book
) -> None:
    """F15. ``@alice -> @bob 10``; @bob pays the 10 on to @carol and his (empty) account is
    deleted; a new customer opens an account with the freed alias ``@bob`` and is funded 10.
    ``POST .../transactions/{first}/revert`` answers 201 and takes the 10 from the *new* @bob
    (an account that was never part of the transaction) back to @alice: the reversal is
    rebuilt from operation aliases (``op.account_alias``) and resolved by alias again. Expected:
    422 (the original account is gone: 0019, or 0089/0018) and the new account untouched; a
    reversal moves only the balances (ids) the original moved."""
    book.account("@carol")
    first = book.ok(book.transfer("@alice", "@bob", "10"))
    book.ok(book.transfer("@bob", "@carol", "10"))
    new_bob = _reuse_alias(api, book, "@bob")
    assert new_bob is not None, "nothing in flight names @bob: its empty account may go"
    book.fund("@bob", "10")
    response = book.action(first["id"], "revert")
    assert_4xx(response)
    assert Balance.objects.get(account_id=new_bob, key="default").available == 10


@pytest.mark.django_db
def test_f16_commit_never_credits_an_account_opened_after_the_hold(api: Api, book: Book) -> None:
    """F16. ``pending: true`` ``@alice -> @bob 10`` (held); @bob's empty account is deleted and
    a new account reuses the alias ``@bob``. ``POST .../transactions/{id}/commit`` answers 201
    and credits the *new* account: the hold checked the old @bob (``check`` leg) but the commit
    re-resolves the stored body by alias. Expected: the commit refused (422 0019: the
    destination of the hold is gone; the hold can still be canceled) and nothing credited to an
    account that did not exist when the hold was made."""
    hold = book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    new_bob = _reuse_alias(api, book, "@bob")
    if new_bob is None:  # the hold keeps @bob's account: the commit credits that one
        book.ok(book.action(hold["id"], "commit"))
        assert book.balance("@bob")[0] == 10
        return
    response = book.action(hold["id"], "commit")
    assert_4xx(response)
    assert Balance.objects.get(account_id=new_bob, key="default").available == 0
    book.ok(book.action(hold["id"], "cancel"))


# --- F17: a unique metadata index on operations is a poison pill in async mode ---------------


@pytest.mark.django_db(transaction=True)
def test_f17_unique_operation_metadata_does_not_stall_the_async_queue(
    api: Api, settings: Any
) -> None:
    """F17. With a unique metadata index on operations
    (``POST /v1/settings/metadata-indexes/entities/operation {"metadataKey": "ref",
    "unique": true}``) and ``TRANSACTION_ASYNC=true``, a posting whose two entries both carry
    ``"metadata": {"ref": "R1"}`` (or two postings whose entries reuse a ref) is accepted
    201: the accept step writes the transaction row (checked) but keeps the legs as JSON in the
    queue. The worker's insert of the operations then violates ``mdx_operation_ref``; the
    batch rolls back and the same row heads every later batch: ``apply_ledger`` raises and an
    ordinary posting accepted after it is never applied. Same class as item 1, through a
    constraint the operator adds at run time. Expected: refused before the 201 (409 0498), or
    the worker declines that posting (0498) and applies the rest."""
    from midaz.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        api.ok(
            api.post(
                "/settings/metadata-indexes/entities/operation",
                {"metadataKey": "ref", "unique": True},
            ),
            201,
        )
        org = api.create_organization()
        led = api.create_ledger(org["id"])
        api.create_asset(led, code="USD")
        b = Book(api, led)
        b.account("@alice")
        b.account("@bob")
        b.fund("@alice", "100")
        settings.TRANSACTION_ASYNC = True
        tagged = {**amt("@bob", "1"), "metadata": {"ref": "R1"}}
        poison = b.post(
            send(
                "USD",
                "2",
                [amt("@alice", "2")],
                [tagged, {**amt("@bob", "1"), "metadata": {"ref": "R1"}}],
            )
        )
        later = b.ok(b.transfer("@alice", "@bob", "1"))
        try:
            asynchronous.apply_ledger(led["id"])  # must not raise
        finally:
            stalled = QueuedPosting.objects.filter(ledger_id=led["id"]).exists()
            QueuedPosting.objects.filter(ledger_id=led["id"]).delete()  # let the teardown verify
            Transaction.objects.filter(ledger_id=led["id"], status="CREATED").update(
                status="DECLINED"
            )
        assert not stalled
        assert Transaction.objects.get(pk=later["id"]).status == "APPROVED"
        if poison.status_code == 201:
            assert Transaction.objects.get(pk=body_of(poison)["id"]).status == "DECLINED"
        else:
            assert_error(poison, 409, "0498")
    finally:
        celery_app.conf.task_always_eager = False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname "
                "LIKE 'mdx\\_%%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["route_code", "type", "metadata.k"])
def test_f1_nul_byte_in_an_operation_list_filter(api: Api, book: Book, param: str) -> None:
    """F1 (continued). ``GET .../accounts/{id}/operations?route_code=%00`` (and ``type``,
    ``metadata.<k>``) answers 500 0046. Expected: 400 0047 (or 0082)."""
    alice = body_of(api.get(book.path("/accounts/alias/@alice")))
    assert_4xx(api.get(book.path(f"/accounts/{alice['id']}/operations"), **{param: "\x00"}))


# --- F18: an inflow/outflow in an asset whose external alias overflows its column -----------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["inflow", "outflow"])
def test_f18_inflow_or_outflow_in_a_91_to_100_letter_asset_is_a_4xx(
    book: Book, settings: Any, kind: str
) -> None:
    """F18. ``POST .../transactions/inflow`` with ``send.asset = "A"*95`` (the schema allows
    100 characters) answers 500, in sync and in async mode alike: the route adds the entry
    ``@external/AAAA…`` (105 characters) and the transaction row's ``source``/``destination``
    (``varchar(100)[]``) cannot hold it. Same for ``/outflow``. (The JSON route with such an
    alias is refused by the schema: accountAlias <= 100.) Expected: 404 0034 / 422 0019 (no
    such asset or balance) or 400 0047, never a 500; nothing stored."""
    asset = "A" * 95
    side = (
        {"distribute": {"to": [amt("@alice", "1", asset)]}}
        if kind == "inflow"
        else {"source": {"from": [amt("@alice", "1", asset)]}}
    )
    body = {"send": {"asset": asset, "value": "1", **side}}
    assert_4xx(book.post(body, kind))
    settings.TRANSACTION_ASYNC = True
    assert_4xx(book.post(body, kind))


# --- F19: concurrent metadata merges lose keys (only operations lock their row) -------------


def _slow(monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    """Widen the read-merge-write window of ``module.merge_metadata`` (0.3 s after the read)."""
    import time as _time

    real = module.merge_metadata

    def slow(current: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        _time.sleep(0.3)
        return real(current, data)

    monkeypatch.setattr(module, "merge_metadata", slow)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entity", ["transaction", "account"])
def test_f19_concurrent_metadata_patches_keep_both_keys(
    api: Api, monkeypatch: pytest.MonkeyPatch, entity: str
) -> None:
    """F19. Two concurrent ``PATCH .../transactions/{id}`` (or ``.../accounts/{id}``) with
    ``{"metadata": {"a": "1"}}`` and ``{"metadata": {"b": "2"}}`` both answer 200, and one key
    is lost: the view reads the row without a lock, merges in Python (JSON Merge Patch) and
    writes the whole map back, so the later write erases the earlier key. Only
    ``operation_update`` locks its row ("so two concurrent merges do not lose each other's
    keys"); transactions, accounts, assets, portfolios, segments, ledgers, organizations,
    account types and routes do not. Expected: both keys kept (row locked, or a jsonb ``||``
    merge in the UPDATE)."""
    import threading

    from onboarding import services as onboarding_services
    from transactions.api import transactions as tx_views

    org = api.create_organization()
    led = api.create_ledger(org["id"])
    api.create_asset(led, code="USD")
    b = Book(api, led)
    acc = b.account("@alice")
    if entity == "transaction":
        target = b.fund("@alice", "1")["id"]
        path = b.path(f"/transactions/{target}")
        _slow(monkeypatch, tx_views)
    else:
        path = b.path(f"/accounts/{acc['id']}")
        _slow(monkeypatch, onboarding_services)
    answers: list[int] = []

    def patch(key: str) -> None:
        answers.append(Api(Client()).patch(path, {"metadata": {key: "1"}}).status_code)
        connection.close()

    threads = [threading.Thread(target=patch, args=(k,)) for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200]
    metadata = body_of(api.get(path))["metadata"]
    assert {"a", "b"} <= set(metadata), metadata

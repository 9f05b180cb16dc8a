"""Second adversarial review (after issue 16 and tests/hostile/test_review_findings.py), kept as
regression tests: each asserts the correct behaviour and failed when it was written; the
docstring gives the exact request, what happened, and what must (the Midaz code expected).

Run: ``make test PYTEST_ARGS=tests/hostile/test_review_findings_2.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.helpers import Api
from tests.hostile.test_review_findings import body_of
from tests.transactions.book import Book, amt, send
from transactions.models import Balance, Transaction


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    api.create_asset(ledger, code="EUR")
    b.account("@alice")
    b.account("@bob", asset="EUR")
    b.fund("@alice", "100")
    return b


def _asset_id(book: Book, code: str) -> str:
    items = body_of(book.api.get(book.path("/assets")))["items"]
    return next(a["id"] for a in items if a["code"] == code)


# --- G1: an asset is deleted under a pending hold that converts into it ----------------------


@pytest.mark.django_db
def test_g1_an_asset_cannot_be_deleted_under_a_pending_conversion_into_it(book: Book) -> None:
    """G1. ``POST .../transactions/json`` ``{"pending": true, send USD 10 from @alice to @bob
    (EUR account) with "rate": {"from":"USD","to":"EUR","value":"0.5"}}`` holds 10 USD (201
    PENDING). Nothing in EUR is held yet (the EUR legs are written at commit), so
    ``DELETE .../assets/{EUR}`` answers 204: ``asset_delete`` looks at balances and at the
    asynchronous queue (9b88470) but not at PENDING holds that convert into the asset. The
    @external/EUR account and balance are soft-deleted. Re-creating the asset
    (``POST .../assets {"code":"EUR",...}``, 201) opens a NEW @external/EUR, and
    ``POST .../transactions/{hold}/commit`` then answers 201 and moves the EUR legs through that
    new external balance, a balance that did not exist when the hold was made: the pinned
    balance ids of 1ea4236 cover the customer legs, not the conversion's external legs.
    (Without the re-create the commit is refused and the hold can only be canceled: an accepted
    hold made uncommittable by a delete.)
    Expected: the DELETE refused with 422 0012 (as for a balance with funds on hold or a queued
    posting in the asset) while a PENDING transaction of the ledger converts into it; and a
    commit never moves a balance created after its hold (422 0019)."""
    hold = book.ok(
        book.post(
            send(
                "USD",
                "10",
                [amt("@alice", "10")],
                [amt("@bob", "10", rate={"from": "USD", "to": "EUR", "value": "0.5"})],
                pending=True,
            )
        )
    )
    old_external = Balance.objects.get(ledger_id=book.ledger["id"], alias="@external/EUR")
    deleted = book.api.delete(book.path(f"/assets/{_asset_id(book, 'EUR')}"))
    if deleted.status_code == 204:
        book.ok(
            book.api.post(book.path("/assets"), {"name": "EUR", "type": "currency", "code": "EUR"})
        )
        commit = book.action(hold["id"], "commit")
        touched = {
            op["balanceId"]
            for op in body_of(commit).get("operations", [])
            if op["accountAlias"] == "@external/EUR"
        }
        book.action(hold["id"], "cancel")  # leave nothing pending
        new_external = touched - {str(old_external.id)}
        assert not new_external, (
            "asset deleted under a pending conversion (204); the commit answered "
            f"{commit.status_code} through a new external balance {new_external}"
        )
        assert commit.status_code == 422
    assert deleted.status_code == 422, (deleted.status_code, body_of(deleted))
    assert body_of(deleted)["code"] == "0012"
    assert Transaction.objects.get(pk=hold["id"]).status == "PENDING"
    book.ok(book.action(hold["id"], "commit"))


# --- G2: a metadata PATCH makes a concurrent commit fail as "another commit in progress" -----


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("verb", ["commit", "cancel"])
def test_g2_a_metadata_patch_does_not_make_a_commit_or_cancel_fail(
    api: Api, monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    """G2. A pending hold ``@alice -> @bob 10``; ``PATCH .../transactions/{hold}
    {"metadata": {"a": "1"}}`` and, while it runs, ``POST .../transactions/{hold}/commit``
    (or ``/cancel``). The PATCH (4965a40/3b065cd) holds the row ``FOR NO KEY UPDATE`` for its
    read-merge-write, and the settlement takes the row ``FOR UPDATE NOWAIT``
    (``_locked_pending``): the two lock modes conflict, so the commit answers 409 0486
    "Another commit or cancel of this transaction is in progress", which is false (nothing
    else settles it) and makes a correct client give up a commit. The PATCH window is widened
    here (0.5 s in merge_metadata, as test_f19 does); without it the same happens whenever the
    two requests overlap. Expected: the commit (cancel) waits for the metadata write and
    answers 201; 0486 only while another commit/cancel holds the row (e.g. NOWAIT only
    against a settlement's lock, or the PATCH taking a lock mode that does not conflict)."""
    import threading
    import time as _time

    from django.db import connection
    from django.test import Client

    from transactions.api import transactions as tx_views

    org = api.create_organization()
    led = api.create_ledger(org["id"])
    api.create_asset(led, code="USD")
    b = Book(api, led)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "100")
    hold = b.ok(b.transfer("@alice", "@bob", "10", pending=True))
    real = tx_views.merge_metadata
    entered = threading.Event()

    def slow(current: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        _time.sleep(0.5)
        return real(current, data)

    monkeypatch.setattr(tx_views, "merge_metadata", slow)
    answers: dict[str, Any] = {}

    def patch() -> None:
        answers["patch"] = (
            Api(Client())
            .patch(b.path(f"/transactions/{hold['id']}"), {"metadata": {"a": "1"}})
            .status_code
        )
        connection.close()

    thread = threading.Thread(target=patch)
    thread.start()
    assert entered.wait(5)
    settle = Api(Client()).post(b.path(f"/transactions/{hold['id']}/{verb}"))
    thread.join()
    if settle.status_code != 201:  # leave nothing pending
        b.ok(b.action(hold["id"], verb))
    assert answers["patch"] == 200
    assert settle.status_code == 201, (settle.status_code, body_of(settle))


# --- G3: a unique metadata index makes a transaction impossible to revert --------------------


def _drop_metadata_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname "
            "LIKE 'mdx\\_%%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entity", ["transaction", "operation"])
def test_g3_a_transaction_with_a_unique_metadata_value_can_be_reverted(
    api: Api, entity: str
) -> None:
    """G3. ``POST /v1/settings/metadata-indexes/entities/transaction {"metadataKey": "ref",
    "unique": true}`` (a routine operator setting: one payment per external reference), then
    ``POST .../transactions/json`` ``@x -> @y 1`` with ``"metadata": {"ref": "R"}`` (201),
    then ``POST .../transactions/{id}/revert`` answers 409 0498 "A unique metadata index
    already holds this value": the reversal copies its parent's metadata, which the index
    already holds (the parent). The same with a unique index on operations and the ref on the
    entries. The transaction can never be reverted while the index exists (and dropping an
    operator's index is the only way out): a state that cannot be undone through the API.
    Expected: 201, the reversal posted (its metadata must not collide with its parent's: e.g.
    not copying indexed keys, or the uniqueness not counting a transaction's own reversal)."""
    try:
        api.ok(
            api.post(
                f"/settings/metadata-indexes/entities/{entity}",
                {"metadataKey": "ref", "unique": True},
            ),
            201,
        )
        org = api.create_organization()
        led = api.create_ledger(org["id"])
        api.create_asset(led, code="USD")
        b = Book(api, led)
        b.account("@x")
        b.account("@y")
        b.fund("@x", "10")
        if entity == "transaction":
            body = send("USD", "1", [amt("@x", "1")], [amt("@y", "1")], metadata={"ref": "R"})
        else:
            body = send(
                "USD",
                "1",
                [amt("@x", "1", metadata={"ref": "S"})],
                [amt("@y", "1", metadata={"ref": "D"})],
            )
        posted = b.ok(b.post(body))
        reverted = b.action(posted["id"], "revert")
        assert reverted.status_code == 201, (reverted.status_code, body_of(reverted))
    finally:
        _drop_metadata_indexes()


# --- G4: a unique operation metadata index freezes a hold: no commit, no cancel --------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("verb", ["commit", "cancel"])
def test_g4_a_hold_whose_entries_carry_a_unique_value_can_be_settled(api: Api, verb: str) -> None:
    """G4. With ``POST /v1/settings/metadata-indexes/entities/operation {"metadataKey": "ref",
    "unique": true}``, a hold ``{"pending": true, send USD 1 from [{@x 1, "metadata": {"ref":
    "S"}}] to [{@y 1, "metadata": {"ref": "D"}}]}`` is accepted (201 PENDING: its ON_HOLD
    operation holds ref S). Then ``POST .../transactions/{id}/commit`` answers 409 0498, and
    so does ``POST .../transactions/{id}/cancel``: the settlement writes new operations with
    the entries' metadata, which the hold's own operation already holds. The funds stay on
    hold for good (the source balance can never be deleted either, 0093), although "a
    pending hold can always be canceled" (1f2ac44). Expected: 201 for both; a settlement's
    operations never collide with their own hold's."""
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
        b.account("@x")
        b.account("@y")
        b.fund("@x", "10")
        hold = b.ok(
            b.post(
                send(
                    "USD",
                    "1",
                    [amt("@x", "1", metadata={"ref": "S"})],
                    [amt("@y", "1", metadata={"ref": "D"})],
                    pending=True,
                )
            )
        )
        settled = b.action(hold["id"], verb)
        status = settled.status_code
        if status != 201:
            _drop_metadata_indexes()  # let the hold go, so the ledger check after the test holds
            b.ok(b.action(hold["id"], "cancel"))
        assert status == 201, (status, body_of(settled))
    finally:
        _drop_metadata_indexes()


# --- G5: two postings that pass alone but not together (unique operation metadata) ----------


def _unique_ref_ledger(api: Api) -> Book:
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
    b.account("@x")
    b.account("@y")
    b.fund("@x", "20")
    return b


def _tagged(i: int, ref: str) -> dict[str, Any]:
    return send(
        "USD", "1", [amt("@x", "1")], [amt("@y", "1", metadata={"ref": ref})], description=str(i)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["two_items_collide", "one_item_meets_a_stored_value"])
def test_g5_a_non_atomic_bulk_answers_per_item_for_a_unique_value(api: Api, case: str) -> None:
    """G5. With a unique operation metadata index on ``ref``, ``POST .../transactions/bulk
    {"atomic": false, "transactions": [<@x -> @y 1, destination metadata {"ref": "R"},
    description "0">, <the same, description "1">]}`` answers 409 0498 for the whole request
    and posts nothing: each item passes alone, but the bulk inserts every item's operations
    in one statement and the unique violation of the second item fails them all. Likewise when
    only item 0 repeats a ref already stored by an earlier posting (item 1 carries a fresh
    one), and with a unique *transaction* index and two items sharing a transaction-level
    value. Issue 16 item 6 (a non-atomic bulk with one bad item fails whole) through the
    unique metadata indexes. Expected: 201 with per-item results, the colliding item 409 0498,
    the other 201 and posted."""
    try:
        b = _unique_ref_ledger(api)
        if case == "two_items_collide":
            items, expected = [_tagged(0, "R"), _tagged(1, "R")], [201, 409]
        else:
            b.ok(b.post(_tagged(9, "E")))
            items, expected = [_tagged(0, "E"), _tagged(1, "F")], [409, 201]
        response = b.api.post(
            b.path("/transactions/bulk"), {"atomic": False, "transactions": items}
        )
        body = body_of(response)
        assert response.status_code in (201, 207), (response.status_code, body)
        assert [item["status"] for item in body["items"]] == expected, body["items"]
    finally:
        _drop_metadata_indexes()


@pytest.mark.django_db(transaction=True)
def test_g5_an_async_posting_declined_for_a_unique_value_says_0498(api: Api, settings: Any) -> None:
    """G5 (async). The same two postings sent one by one with ``TRANSACTION_ASYNC=true`` are
    both accepted (201 CREATED); the worker's batch fails on ``mdx_operation_ref``, is applied
    item by item, and the second is DECLINED with ``statusDescription`` "0047: The posting
    cannot be stored: duplicate key value violates unique constraint "mdx_operation_ref" ..."
    (a raw PostgreSQL message naming an internal index, and 0047, a body-validation code). The
    synchronous path refuses the same posting with 409 0498. Expected: DECLINED with 0498
    (the code the same posting gets when sent synchronously)."""
    from transactions import asynchronous

    try:
        b = _unique_ref_ledger(api)
        settings.TRANSACTION_ASYNC = True
        first = b.ok(b.post(_tagged(0, "Q")))
        second = b.ok(b.post(_tagged(1, "Q")))
        asynchronous.apply_ledger(b.ledger["id"])
        assert Transaction.objects.get(pk=first["id"]).status == "APPROVED"
        declined = Transaction.objects.get(pk=second["id"])
        assert declined.status == "DECLINED"
        assert declined.status_description.startswith("0498"), declined.status_description
    finally:
        _drop_metadata_indexes()


# --- G6: a trusted origin is refused by every current browser -------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("site", ["same-site", "cross-site"])
def test_g6_a_trusted_origin_may_write_from_a_current_browser(
    api: Api, settings: Any, site: str
) -> None:
    """G6. With ``CSRF_TRUSTED_ORIGINS=https://console.example`` (the operator's console),
    ``POST /v1/organizations`` from that console in any current browser (Chrome, Firefox,
    Safari and Edge all send ``Sec-Fetch-Site``: ``same-site`` for a sibling subdomain,
    ``cross-site`` otherwise) with ``Origin: https://console.example`` answers 403 0043:
    ``write_refusal`` believes ``Sec-Fetch-Site`` first and consults ``CSRF_TRUSTED_ORIGINS``
    only when that header is absent (6874977), so the trusted list only ever admits browsers
    that predate Fetch Metadata, and a legitimate, explicitly trusted browser client breaks
    (test_write_origin.py::test_trusted_origins_may_write passes only because the test client
    sends no Sec-Fetch-Site). Expected: 201, a request whose Origin is trusted may write
    whatever Sec-Fetch-Site says (Django's own CSRF check trusts these origins the same way);
    an untrusted origin stays 403 0043."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example"]
    response = api.client.post(
        "/v1/organizations",
        orjson.dumps({"legalName": "Console Org", "legalDocument": "123"}),
        content_type="application/json",
        headers={"Origin": "https://console.example", "Sec-Fetch-Site": site},
    )
    assert response.status_code == 201, (response.status_code, body_of(response))


# --- G7: metadata index names fold case: "Ref" blocks "ref" ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_g7_metadata_keys_differing_in_case_get_their_own_indexes(api: Api) -> None:
    """G7. Metadata keys are case-sensitive (``{"Ref": 1}`` and ``{"ref": 1}`` are different
    keys, and both are valid ``metadataKey`` values), but ``index_name`` lowercases
    ``mdx_<entity>_<key>``. ``POST /v1/settings/metadata-indexes/entities/operation
    {"metadataKey": "Ref"}`` (201), then ``{"metadataKey": "ref", "unique": true}`` answers
    409 0132 "An index named mdx_operation_ref already exists in the database but is not a
    recorded metadata index; drop it first": false (it is the recorded index of "Ref"), and the
    operator can never have a unique index on "ref" while "Ref" is indexed. Expected: 201, a
    separate index for "ref" (names that keep the case apart, e.g. a digest of the exact
    key)."""
    try:
        api.ok(
            api.post("/settings/metadata-indexes/entities/operation", {"metadataKey": "Ref"}),
            201,
        )
        second = api.post(
            "/settings/metadata-indexes/entities/operation",
            {"metadataKey": "ref", "unique": True},
        )
        assert second.status_code == 201, (second.status_code, body_of(second))
    finally:
        _drop_metadata_indexes()


# --- G8: an asynchronous hold credits an account opened after it was accepted ----------------


@pytest.mark.django_db
@pytest.mark.parametrize("pending", [False, True], ids=["direct", "hold"])
def test_g8_an_async_posting_never_credits_an_account_opened_after_its_acceptance(
    api: Api, settings: Any, pending: bool
) -> None:
    """G8. With ``TRANSACTION_ASYNC=true``: ``POST .../transactions/json {send USD 5 from
    @alice to @gus}`` answers 201 (CREATED, queued; the accept step resolved and checked the
    old @gus). Before the worker applies it, @gus's empty account is deleted
    (``DELETE .../accounts/{id}`` 204: nothing looks at the queue) and a new customer opens an
    account with the freed alias ``@gus``. The worker then applies the posting APPROVED and
    credits the NEW @gus 5, an account that did not exist when the posting was accepted. With
    ``"pending": true`` the worker applies the hold (PENDING) and
    ``POST .../transactions/{id}/commit`` answers 201 and credits the new @gus. The pinned
    balance ids of 1ea4236 are taken when the worker applies the posting, by alias, after the
    reuse, not from what the accept step resolved; test_f15/test_f16/test_alias_reuse cover a
    reuse after the apply, not the accept-to-apply window. Expected: the worker declines the
    posting with 0019 (or the commit is 422 0019 and the hold can be canceled), the new
    account untouched; or the account delete refused (0012) while a queued posting names it."""
    from tests.hostile.test_review_findings import _reuse_alias
    from transactions import asynchronous

    b = Book(api, api.create_ledger(api.create_organization()["id"]))
    api.create_asset(b.ledger, code="USD")
    b.account("@alice")
    b.account("@gus")
    b.fund("@alice", "10")
    settings.TRANSACTION_ASYNC = True
    posted = b.ok(b.transfer("@alice", "@gus", "5", pending=pending))
    new_gus = _reuse_alias(api, b, "@gus")
    asynchronous.apply_ledger(b.ledger["id"])
    if new_gus is None:  # the delete was refused while the posting was in flight
        if pending:
            b.ok(b.action(posted["id"], "commit"))
        assert Transaction.objects.get(pk=posted["id"]).status == "APPROVED"
        assert b.balance("@gus")[0] == 5
        return
    status = Transaction.objects.get(pk=posted["id"]).status
    if status == "PENDING":
        commit = b.action(posted["id"], "commit")
        credited = Balance.objects.get(account_id=new_gus, key="default").available
        if commit.status_code != 201:
            b.ok(b.action(posted["id"], "cancel"))
        assert credited == 0, f"commit {commit.status_code} credited the new @gus {credited}"
        assert commit.status_code == 422
        assert body_of(commit)["code"] == "0019"
    else:
        credited = Balance.objects.get(account_id=new_gus, key="default").available
        assert credited == 0, f"the worker applied it {status} and credited the new @gus"
        assert status == "DECLINED"

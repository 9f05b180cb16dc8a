"""The console's actions go through the API's services, are checked against the staff
groups' permissions, answer bad input with Midaz codes, and are all recorded."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from console.models import AuditRecord
from tests.console.conftest import pending
from tests.transactions.book import Book, amt, send
from transactions.models import Balance, Operation, Transaction

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/transactions/transaction/"
POST_URL = "/admin/transactions/transaction/post/"


def run_action(client: Client, action: str, *ids: str) -> Any:
    return client.post(CHANGELIST, {"action": action, "_selected_action": list(ids)}, follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- groups and read-only money -----------------------------------------------------------------


def test_groups_have_exactly_their_permissions() -> None:
    viewer = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name="viewer").permissions.select_related("content_type")
    }
    operator = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name="operator").permissions.select_related("content_type")
    }
    assert viewer, "the viewer group has no permission"
    assert all(p.split(".")[1].startswith("view_") for p in viewer)
    assert {"transactions.view_transaction", "onboarding.view_account"} <= viewer
    assert "access.view_apikey" not in viewer
    assert operator - viewer == {"transactions.operate_transactions", "transactions.export_records"}


@pytest.mark.parametrize("model", ["balance", "transaction", "operation"])
def test_money_cannot_be_added_changed_or_deleted(root: Client, book: Book, model: str) -> None:
    obj = {"balance": Balance, "transaction": Transaction, "operation": Operation}[
        model
    ].objects.first()
    base = f"/admin/transactions/{model}/"
    assert root.get(f"{base}add/").status_code == 403
    assert root.post(f"{base}{obj.pk}/delete/").status_code == 403
    page = root.get(f"{base}{obj.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    before = Balance.objects.get(alias="@alice").available
    answer = root.post(f"{base}{obj.pk}/change/", {"available": "999999", "status": "APPROVED"})
    assert answer.status_code == 403
    assert Balance.objects.get(alias="@alice").available == before
    assert root.get("/admin/console/auditrecord/add/").status_code == 403
    # The bulk delete action is not offered either.
    assert b"delete_selected" not in root.get(base).content


def test_viewer_reads_but_runs_nothing(viewer: Client, book: Book) -> None:
    tx = pending(book)
    assert viewer.get(CHANGELIST).status_code == 200
    assert viewer.get("/admin/onboarding/account/").status_code == 200
    assert viewer.get("/admin/access/apikey/").status_code == 403
    page = viewer.get(f"{CHANGELIST}{tx['id']}/change/")
    assert page.status_code == 200
    assert b"operate-commit" not in page.content
    assert viewer.post(f"{CHANGELIST}{tx['id']}/operate/commit/").status_code == 403
    run_action(viewer, "commit", tx["id"])
    assert Transaction.objects.get(pk=tx["id"]).status == "PENDING"
    assert viewer.get(POST_URL).status_code == 403
    assert viewer.get(f"{CHANGELIST}export.csv").status_code == 403
    denied = AuditRecord.objects.filter(username="victor", result="denied")
    assert {r.action for r in denied} == {"commit", "export"}


# --- commit, cancel, revert -------------------------------------------------------------------


def test_operator_commits_a_pending_transaction_like_the_api(operator: Client, book: Book) -> None:
    tx = pending(book, "25")
    assert book.balance("@alice")[:2] == (Decimal("975"), Decimal("25"))
    response = run_action(operator, "commit", tx["id"])
    assert response.status_code == 200
    assert Transaction.objects.get(pk=tx["id"]).status == "APPROVED"
    assert book.balance("@alice")[:2] == (Decimal("975"), Decimal("0"))
    assert book.balance("@bob")[0] == Decimal("25")
    assert any("is APPROVED" in m for m in messages_of(response))
    record = AuditRecord.objects.get(action="commit")
    assert (record.username, record.result, str(record.transaction_id)) == (
        "olivia",
        "ok",
        tx["id"],
    )
    assert str(record.ledger_id) == book.ledger["id"]


def test_operator_cancels_from_the_transaction_page(operator: Client, book: Book) -> None:
    tx = pending(book, "40")
    page = operator.get(f"{CHANGELIST}{tx['id']}/change/")
    assert b"operate-commit" in page.content
    assert b"operate-cancel" in page.content
    response = operator.post(f"{CHANGELIST}{tx['id']}/operate/cancel/", follow=True)
    assert response.status_code == 200
    assert Transaction.objects.get(pk=tx["id"]).status == "CANCELED"
    assert book.balance("@alice")[:2] == (Decimal("1000"), Decimal("0"))
    assert b'id="transaction-status">CANCELED' in response.content
    assert operator.get(f"{CHANGELIST}{tx['id']}/operate/cancel/").status_code == 405


def test_operator_reverts_an_approved_transaction(operator: Client, book: Book) -> None:
    tx = book.ok(book.transfer("@alice", "@bob", "30"))
    response = run_action(operator, "revert", tx["id"])
    reversal = Transaction.objects.get(parent_transaction_id=tx["id"])
    assert reversal.status == "APPROVED"
    assert book.balance("@alice")[0] == Decimal("1000")
    assert any(f"reverted by {reversal.id}" in m for m in messages_of(response))


def test_a_refused_action_shows_its_midaz_code_and_is_recorded(
    operator: Client, book: Book
) -> None:
    tx = book.ok(book.transfer("@alice", "@bob", "5"))  # approved: nothing to commit
    api_answer = book.action(tx["id"], "commit")
    code = api_answer.json()["code"]
    response = run_action(operator, "commit", tx["id"])
    assert response.status_code == 200
    shown = messages_of(response)
    assert any(m.startswith(code) for m in shown), shown
    record = AuditRecord.objects.get(action="commit")
    assert (record.result, record.code) == ("refused", code)


# --- posting from the console ---------------------------------------------------------------


def _json_body(value: str = "12.5") -> str:
    import json

    return json.dumps(send("USD", value, [amt("@alice", value)], [amt("@bob", value)]))


def test_post_a_json_transaction(operator: Client, book: Book) -> None:
    page = operator.get(POST_URL + f"?ledger={book.ledger['id']}")
    assert page.status_code == 200
    assert book.ledger["id"].encode() in page.content
    response = operator.post(
        POST_URL, {"ledger": book.ledger["id"], "kind": "json", "body": _json_body()}
    )
    assert response.status_code == 302
    tx = Transaction.objects.get(amount=Decimal("12.5"))
    assert response["Location"].endswith(f"/transactions/transaction/{tx.id}/change/")
    assert tx.status == "APPROVED"
    assert book.balance("@bob")[0] == Decimal("12.5")
    assert AuditRecord.objects.get(action="post json").result == "ok"


def test_post_a_gold_file(operator: Client, book: Book) -> None:
    gold = (
        '(transaction V1 (chart-of-accounts-group-name G) (description "gold")'
        " (send USD 7|0 (source (from @alice :amount USD 7|0)) (distribute (to @bob :remaining))))"
    )
    file = SimpleUploadedFile("t.gold", gold.encode(), content_type="text/plain")
    response = operator.post(POST_URL, {"ledger": book.ledger["id"], "kind": "dsl", "dsl": file})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Transaction.objects.get(description="gold").amount == Decimal("7")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": "{not json"}, "0094"),
        ({"body": "[1, 2]"}, "0094"),
        ({"body": ""}, "0094"),
        ({"body": '{"send": {"asset": "USD"}, "bogus": 1}'}, "0053"),
        ({"body": _json_body("5000")}, "0018"),
        ({"ledger": "not-a-uuid"}, "0037"),
        ({"ledger": "0190e5a4-0000-7000-8000-000000000000"}, "0037"),
        ({"kind": "dsl", "dsl": SimpleUploadedFile("x.gold", b"(transaction")}, "0048"),
        ({"kind": "dsl", "dsl": SimpleUploadedFile("x.txt", b"whatever")}, "0048"),
        ({"kind": "dsl", "dsl": SimpleUploadedFile("x.gold", b"\xff\xfe")}, "0048"),
    ],
)
def test_bad_input_is_a_form_error_with_the_midaz_code(
    operator: Client, book: Book, fields: dict[str, Any], code: str
) -> None:
    before = book.snapshot()
    data = {"ledger": book.ledger["id"], "kind": "json", "body": _json_body(), **fields}
    response = operator.post(POST_URL, data)
    assert response.status_code == 200
    text = response.content.decode()
    assert f"{code} " in text, text[:3000]
    assert book.snapshot() == before


def read_csv(response: Any) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- CSV export -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example","x")',
        "+1+1",
        "-2+3",
        "@SUM(1,1)",
        "\t=1",
        "\r=1",
        "\uff1d1",
    ],
)
def test_export_escapes_cells_a_spreadsheet_would_run(
    operator: Client, book: Book, text: str
) -> None:
    held = pending(book, "3", description=text)
    rows = read_csv(operator.get(f"{CHANGELIST}export.csv?status__exact=PENDING"))
    header, (row,) = rows[0], rows[1:]
    assert row[header.index("id")] == held["id"]
    assert row[header.index("description")] == f"'{text}"  # text again, not a formula
    assert row[header.index("amount")] == "3"  # numbers are not touched


def test_export_leaves_plain_text_alone(operator: Client, book: Book) -> None:
    pending(book, "3", description="rent, march")
    rows = read_csv(operator.get(f"{CHANGELIST}export.csv?status__exact=PENDING"))
    assert rows[1][rows[0].index("description")] == "rent, march"


def test_export_streams_the_filtered_list(operator: Client, book: Book) -> None:
    held = pending(book, "3")
    book.ok(book.transfer("@alice", "@bob", "4"))
    response = operator.get(f"{CHANGELIST}export.csv?status__exact=PENDING")
    assert response.status_code == 200
    assert response.streaming
    rows = read_csv(response)
    assert rows[0][:3] == ["id", "ledger_id", "status"]
    assert [r[0] for r in rows[1:]] == [held["id"]]
    everything = operator.get(f"{CHANGELIST}export.csv")
    assert len(read_csv(everything)) == 4
    page = operator.get(f"{CHANGELIST}?status__exact=PENDING")
    assert b"export.csv?status__exact=PENDING" in page.content
    record = AuditRecord.objects.filter(action="export").order_by("id").first()
    assert record is not None
    assert "status__exact=PENDING" in record.target


# --- search and navigation ----------------------------------------------------------------------


@pytest.mark.parametrize("term", ["@alice", "alice", "team=payments"])
def test_find_an_account_by_alias_or_metadata(viewer: Client, book: Book, term: str) -> None:
    response = viewer.get("/admin/onboarding/account/", {"q": term})
    assert response.status_code == 200
    found = [str(a) for a in response.context["cl"].result_list]
    assert found == ["@alice"]


def test_find_by_id_and_nonsense_finds_nothing(viewer: Client, book: Book) -> None:
    from onboarding.models import Account

    alice = Account.objects.get(alias="@alice")
    response = viewer.get("/admin/onboarding/account/", {"q": str(alice.id)})
    assert [a.pk for a in response.context["cl"].result_list] == [alice.pk]
    balance = viewer.get("/admin/transactions/balance/", {"q": str(alice.id)})
    assert [b.alias for b in balance.context["cl"].result_list] == ["@alice"]
    for url in ("/admin/transactions/transaction/", "/admin/transactions/operation/"):
        response = viewer.get(url, {"q": "0190e5a4-zzzz"})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


def test_the_hierarchy_links_down_to_balances_and_operations(viewer: Client, book: Book) -> None:
    from onboarding.models import Account

    org_id, ledger_id = book.ledger["organizationId"], book.ledger["id"]
    orgs = viewer.get("/admin/onboarding/organization/").content.decode()
    assert f"/admin/onboarding/ledger/?organization__id__exact={org_id}" in orgs
    ledgers = viewer.get(f"/admin/onboarding/ledger/?organization__id__exact={org_id}")
    assert f"/admin/onboarding/account/?ledger__id__exact={ledger_id}" in ledgers.content.decode()
    accounts = viewer.get(f"/admin/onboarding/account/?ledger__id__exact={ledger_id}")
    aliases = sorted(str(a) for a in accounts.context["cl"].result_list)
    assert aliases == ["@alice", "@bob", "@external/USD"]
    alice = Account.objects.get(alias="@alice")
    assert (
        f"/admin/transactions/operation/?account__id__exact={alice.id}" in accounts.content.decode()
    )
    ops = viewer.get(f"/admin/transactions/operation/?account__id__exact={alice.id}")
    assert [o.account_alias for o in ops.context["cl"].result_list] == ["@alice"]
    page = viewer.get(f"/admin/onboarding/account/{alice.id}/change/")
    assert b"1000" in page.content  # the balances inline
    other = viewer.get(
        "/admin/onboarding/account/?ledger__id__exact=0190e5a4-0000-7000-8000-000000000000"
    )
    assert list(other.context["cl"].result_list) == []


def test_filters_by_status_asset_and_date(viewer: Client, book: Book) -> None:
    pending(book, "2")
    response = viewer.get(CHANGELIST, {"status__exact": "PENDING", "asset_code": "USD"})
    assert [t.status for t in response.context["cl"].result_list] == ["PENDING"]
    none = viewer.get(CHANGELIST, {"asset_code": "BRL"})
    assert list(none.context["cl"].result_list) == []
    today = viewer.get(CHANGELIST, {"created_at__gte": "2000-01-01 00:00:00+00:00"})
    assert len(today.context["cl"].result_list) == 2


def test_an_account_keeps_its_alias_and_asset(root: Client, book: Book) -> None:
    from onboarding.models import Account

    alice = Account.objects.get(alias="@alice")
    page = root.get(f"/admin/onboarding/account/{alice.id}/change/")
    assert page.status_code == 200
    assert b'name="alias"' not in page.content
    assert b'name="name"' in page.content


def test_logging_in_lands_on_the_dashboard(client: Client) -> None:
    from django.contrib.auth.models import User

    User.objects.create_user("dana", password="pw-for-dana-1", is_staff=True)
    response = client.post("/admin/login/", {"username": "dana", "password": "pw-for-dana-1"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"

"""Transaction endpoints (MIDAZ_API.md §4): the creates, commit/cancel/revert, reads, patch
and count. The create path is lean: no DRF serializer, no ORM before the apply step."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework.request import Request

from midaz import context, metrics
from midaz.api.openapi import ERROR, cursor_list, error_responses
from midaz.api.query import bad_query, cursor_page, filter_common, parse_list_query
from midaz.api.render import count_response, json_response
from midaz.api.validation import F, Schema, json_type_name
from midaz.api.views import LedgerAPIView, parse_body, path_uuid, read_json_exact
from midaz.exceptions import LedgerError, ValidationFailed, not_found
from midaz.lookup import get_or_404
from onboarding.api.base import ledger_for_write, ledger_or_404
from onboarding.models import Ledger
from onboarding.services import merge_metadata
from transactions import bulk, posting, schemas, selectors
from transactions.models import Transaction
from transactions.serializers import TRANSACTION, transaction_out
from transactions.spec import TransactionSpec

_ERRORS = error_responses()
_IDEMPOTENCY_HEADERS = [
    OpenApiParameter(
        "X-Idempotency",
        str,
        OpenApiParameter.HEADER,
        description=f"Idempotency key, 1 to {posting.MAX_KEY} characters (400 0047 if longer)",
    ),
    OpenApiParameter(
        "X-TTL",
        int,
        OpenApiParameter.HEADER,
        description="Key lifetime, seconds: a positive integer (anything else means the "
        f"default); at most {posting.MAX_KEY_TTL_SECONDS} (larger values are clamped to it)",
    ),
]


def _posting_ledger(organization_id: str, ledger_id: str) -> Ledger:
    """The ledger of a create route, unloaded: ``posting.check_ledger`` checks the pair
    (organization, ledger) from a per-process map before any cache or lookup (0037, which
    ``_post`` turns into the exact code), and ``midaz_post`` checks it is alive in the same
    round trip as the posting, so the hot path spends no query on it."""
    return Ledger(
        id=path_uuid(ledger_id, "ledger_id"),
        organization_id=path_uuid(organization_id, "organization_id"),
    )


def _post(
    organization_id: str,
    ledger_id: str,
    ledger: Ledger,
    spec: TransactionSpec,
    kind: str,
    idempotency: posting.Idempotency,
) -> posting.PostingResult:
    try:
        return posting.transaction_create(
            ledger=ledger, spec=spec, kind=kind, idempotency=idempotency
        )
    except LedgerError as exc:
        if exc.code == "0037":
            ledger_or_404(organization_id, ledger_id)  # the exact code: 0038 or 0037
        raise


def _counted(outcome: metrics.Outcome, result: posting.PostingResult) -> posting.PostingResult:
    if result.replayed:
        outcome.replayed()
    else:
        outcome.posted(result.status)
    return result


def _bulk_counted(outcome: metrics.Outcome, result: bulk.BulkResult) -> None:
    """Each item of a bulk (bulks are synchronous: an answer's CREATED is APPROVED)."""
    if result.replayed:
        outcome.replayed()
        return
    for item in result.body["items"]:
        if "error" in item:
            outcome.refused(str(item["error"]["code"]))
        elif item.get("replayed"):
            outcome.replayed()
        else:
            status = str(item["transaction"]["status"]["code"])
            outcome.posted(Transaction.Status.APPROVED if status == "CREATED" else status)


def _created(result: posting.PostingResult, extra: dict[str, str] | None = None) -> HttpResponse:
    headers = {"X-Idempotency-Replayed": "true" if result.replayed else "false", **(extra or {})}
    return json_response(result.body, status=201, headers=headers)


class TransactionCreateView(LedgerAPIView):
    """POST a transaction body; ``kind`` says which of the Midaz create routes this is."""

    kind: ClassVar[str] = "json"
    schema_of_body: ClassVar[Schema] = schemas.TRANSACTION_JSON

    def post(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        with metrics.posting(self.kind) as outcome:
            ledger = _posting_ledger(organization_id, ledger_id)
            data = self.schema_of_body.validate(read_json_exact(request))
            spec = schemas.spec_from_body(data, kind=self.kind)
            idempotency = posting.Idempotency.for_request(
                body=data,
                kind=self.kind,
                header_key=request.headers.get("X-Idempotency") or None,
                header_ttl=request.headers.get("X-TTL"),
            )
            result = _post(organization_id, ledger_id, ledger, spec, self.kind, idempotency)
            return _created(_counted(outcome, result))


def _create_view(name: str, kind: str, schema: Schema, summary: str) -> type[TransactionCreateView]:
    view: type[TransactionCreateView] = type(
        name, (TransactionCreateView,), {"kind": kind, "schema_of_body": schema}
    )
    documented = extend_schema(
        operation_id=f"create_transaction_{kind}",
        summary=summary,
        tags=["Transactions"],
        parameters=_IDEMPOTENCY_HEADERS,
        request={"application/json": schema.openapi()},
        responses={201: TRANSACTION, **_ERRORS},
    )
    return extend_schema_view(post=documented)(view)


JsonCreate = _create_view("JsonCreate", "json", schemas.TRANSACTION_JSON, "Create a transaction")
InflowCreate = _create_view("InflowCreate", "inflow", schemas.INFLOW, "Create an inflow")
OutflowCreate = _create_view("OutflowCreate", "outflow", schemas.OUTFLOW, "Create an outflow")
AnnotationCreate = _create_view(
    "AnnotationCreate", "annotation", schemas.TRANSACTION_JSON, "Record an annotation (NOTED)"
)
BlockCreate = _create_view("BlockCreate", "block", schemas.TRANSACTION_JSON, "Block funds")
UnblockCreate = _create_view("UnblockCreate", "unblock", schemas.TRANSACTION_JSON, "Unblock funds")

BULK_DOC = Schema(
    "BulkTransactionsInput",
    {
        "atomic": F(
            "bool",
            description="true (the default): all or nothing; false: each item on its own",
        ),
        "transactions": F(
            "array",
            required=True,
            items=F("object", schema=schemas.TRANSACTION_JSON),
            description=f"1 to {bulk.MAX_ITEMS} bodies of POST .../transactions/json; each may "
            "also carry 'idempotencyKey' (string, 1 to 256 characters), its own key. An item "
            "without one is keyed by the hash of its body, as a single post is: two identical "
            "items without a key are one posting (the second answers replayed: true); give "
            "each its own idempotencyKey to post both",
        ),
    },
    entity_type="Transaction",
)
_BULK_ENVELOPE = Schema(
    "BulkTransactionsInput",
    {"atomic": F("bool"), "transactions": F("array", required=True, items=F("any"))},
    entity_type="Transaction",
)
_BULK_ITEM_RESULT = {
    "type": "object",
    "properties": {
        "index": {"type": "integer"},
        "status": {"type": "integer", "description": "201, or the status of the item's error"},
        "replayed": {"type": "boolean"},
        "transaction": TRANSACTION,
        "error": ERROR,
    },
    "required": ["index", "status"],
}
_BULK_RESULT = {
    "type": "object",
    "properties": {
        "atomic": {"type": "boolean"},
        "total": {"type": "integer"},
        "created": {"type": "integer"},
        "failed": {"type": "integer"},
        "items": {"type": "array", "items": _BULK_ITEM_RESULT},
    },
    "required": ["atomic", "total", "created", "failed", "items"],
}


def _bulk_item(raw: dict[str, Any]) -> bulk.BulkItem:
    """One item: its body checked and turned into a spec, or the error that refused it."""
    body = dict(raw)
    key = body.pop("idempotencyKey", None)
    try:
        if key is not None and (not isinstance(key, str) or not key):
            raise ValidationFailed(
                f"idempotencyKey must be a string of 1 to {posting.MAX_KEY} characters.",
                code="0047",
                entity_type="Transaction",
                fields={"idempotencyKey": "invalid"},
            )
        if key is not None:
            posting.check_key(key, field="idempotencyKey", allowed=posting.MAX_KEY)
        data = schemas.TRANSACTION_JSON.validate(body)
        spec = schemas.spec_from_body(data, kind="json")
    except LedgerError as exc:
        return bulk.BulkItem(error=exc)
    idempotency = posting.Idempotency.for_request(
        body=data, kind="json", header_key=key, header_ttl=None
    )
    return bulk.BulkItem(spec=spec, idempotency=idempotency)


class BulkCreate(LedgerAPIView):
    """``POST .../transactions/bulk``: many JSON bodies in one request and one database
    transaction (beyond Midaz; see ``transactions.bulk``)."""

    @extend_schema(
        operation_id="create_transactions_bulk",
        summary="Create up to 1,000 transactions in one request (beyond Midaz)",
        description=(
            "Atomic (the default): every item is posted, or none is; a refused item answers "
            "its own Midaz error with `fields.item` = its index. Not atomic: each item is "
            "posted or refused on its own; the answer is 201 when all were posted, else 207, "
            "with each item's transaction or error. Each item is idempotent like a single "
            "post (its `idempotencyKey`, or the hash of its body: two identical items without "
            "a key are one posting, the second answering `replayed: true`); the whole request "
            "too (`X-Idempotency` of at most 251 characters, as it is stored with a `bulk:` "
            "prefix, or the hash of the body): a repeat gets the stored answer, with "
            "`X-Idempotency-Replayed: true`."
        ),
        tags=["Transactions"],
        parameters=_IDEMPOTENCY_HEADERS,
        request={"application/json": BULK_DOC.openapi()},
        responses={
            201: OpenApiResponse(_BULK_RESULT, description="Every item posted"),
            207: OpenApiResponse(_BULK_RESULT, description="Some items refused (not atomic)"),
            **_ERRORS,
        },
    )
    def post(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        with metrics.posting("bulk") as outcome:
            result = self._post(request, organization_id, ledger_id)
            _bulk_counted(outcome, result)
        return json_response(
            result.body,
            status=result.status,
            headers={"X-Idempotency-Replayed": "true" if result.replayed else "false"},
        )

    def _post(self, request: Request, organization_id: str, ledger_id: str) -> bulk.BulkResult:
        ledger = ledger_for_write(organization_id, ledger_id)
        envelope = _BULK_ENVELOPE.validate(read_json_exact(request))
        raw_items = envelope["transactions"]
        for index, item in enumerate(raw_items):
            if not isinstance(item, dict):
                raise ValidationFailed(
                    f"invalid value for field 'transactions[{index}]': expected type 'object', "
                    f"but got '{json_type_name(item)}'",
                    code="0094",
                    entity_type="Transaction",
                )
        if not 0 < len(raw_items) <= bulk.MAX_ITEMS:
            raise ValidationFailed(
                f"transactions must hold 1 to {bulk.MAX_ITEMS} items.",
                code="0047",
                entity_type="Transaction",
                fields={"transactions": f"{len(raw_items)} items"},
            )
        atomic = envelope.get("atomic")
        return bulk.bulk_post(
            ledger=ledger,
            items=[_bulk_item(item) for item in raw_items],
            atomic=True if atomic is None else bool(atomic),
            idempotency=bulk.request_idempotency(
                request.body,
                request.headers.get("X-Idempotency") or None,
                request.headers.get("X-TTL"),
            ),
        )


_DEPRECATION = {
    "Deprecation": "true",
    "Sunset": "Sat, 01 Aug 2026 00:00:00 GMT",
}


class DslCreate(LedgerAPIView):
    """``POST .../transactions/dsl``: a Gold file in the multipart field ``dsl`` (deprecated)."""

    @extend_schema(
        operation_id="create_transaction_dsl",
        summary="Create a transaction from a Gold DSL file (deprecated)",
        tags=["Transactions"],
        parameters=_IDEMPOTENCY_HEADERS,
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"dsl": {"type": "string", "format": "binary"}},
                "required": ["dsl"],
            }
        },
        responses={201: TRANSACTION, **_ERRORS},
    )
    def post(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        with metrics.posting("dsl") as outcome:
            result = _counted(outcome, self._post(request, organization_id, ledger_id))
        link = request.build_absolute_uri().rsplit("/dsl", 1)[0] + "/json"
        return _created(result, {**_DEPRECATION, "Link": f'<{link}>; rel="successor-version"'})

    def _post(
        self, request: Request, organization_id: str, ledger_id: str
    ) -> posting.PostingResult:
        ledger = ledger_or_404(organization_id, ledger_id)
        # Django bounds the memory of an upload, not its size: refuse a body over the limit
        # before the multipart parser spools it to disk.
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestDataTooBig("The request body is larger than the server accepts.")
        upload = request._request.FILES.get("dsl")
        if upload is None or ".gold" not in (upload.name or ""):
            raise ValidationFailed(
                "Upload the Gold file in the multipart field 'dsl', with a .gold name.",
                code="0048",
                entity_type="Transaction",
            )
        raw = upload.read(settings.MAX_DSL_FILE_BYTES + 1)
        spec = schemas.spec_from_gold_file(raw)
        idempotency = posting.Idempotency.for_request(
            body=raw.decode("utf-8"),
            kind="dsl",
            header_key=request.headers.get("X-Idempotency") or None,
            header_ttl=request.headers.get("X-TTL"),
        )
        return posting.transaction_create(ledger=ledger, spec=spec, idempotency=idempotency)


def _transaction_id(raw: str) -> Any:
    return path_uuid(raw, "transaction_id")


class _TransactionAction(LedgerAPIView):
    """``POST .../transactions/{id}/<verb>``: commit, cancel or revert (no body, answers 201)."""

    verb: ClassVar[str]

    def post(
        self, request: Request, organization_id: str, ledger_id: str, transaction_id: str
    ) -> HttpResponse:
        with metrics.posting(self.verb) as outcome:
            ledger = ledger_or_404(organization_id, ledger_id)
            tx_id = _transaction_id(transaction_id)
            if self.verb == "revert":
                result = posting.transaction_revert(ledger=ledger, transaction_id=tx_id)
                return _created(_counted(outcome, result))
            settle = (
                posting.transaction_commit if self.verb == "commit" else posting.transaction_cancel
            )
            body = settle(ledger=ledger, transaction_id=tx_id)
            outcome.posted(str(body["status"]["code"]))
            return json_response(body, status=201)


def _action_view(name: str, verb: str, summary: str) -> type[_TransactionAction]:
    view: type[_TransactionAction] = type(name, (_TransactionAction,), {"verb": verb})
    documented = extend_schema(
        operation_id=f"{verb}_transaction",
        summary=summary,
        tags=["Transactions"],
        request=None,
        responses={201: TRANSACTION, **_ERRORS},
    )
    return extend_schema_view(post=documented)(view)


TransactionCommit = _action_view("TransactionCommit", "commit", "Commit a pending transaction")
TransactionCancel = _action_view("TransactionCancel", "cancel", "Cancel a pending transaction")
TransactionRevert = _action_view("TransactionRevert", "revert", "Revert an approved transaction")


def _transactions(ledger_id: Any) -> QuerySet[Transaction]:
    return Transaction.objects.filter(ledger_id=ledger_id)


def _transaction_or_404(ledger_id: Any, raw_id: str) -> Transaction:
    return get_or_404(
        _transactions(ledger_id).prefetch_related("operations"),
        code="0007",
        entity_type="Transaction",
        pk=_transaction_id(raw_id),
    )


def _render(tx: Transaction) -> dict[str, Any]:
    ops = sorted(tx.operations.all(), key=lambda op: (op.created_at, op.id))
    return transaction_out(tx, ops)


class TransactionItem(LedgerAPIView):
    @extend_schema(
        operation_id="get_transaction",
        summary="Get a transaction with its operations",
        tags=["Transactions"],
        responses={200: TRANSACTION, **_ERRORS},
    )
    def get(
        self, request: Request, organization_id: str, ledger_id: str, transaction_id: str
    ) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        return json_response(_render(_transaction_or_404(ledger.id, transaction_id)))

    @extend_schema(
        operation_id="update_transaction",
        summary="Update a transaction's description and metadata",
        tags=["Transactions"],
        request={"application/json": schemas.TRANSACTION_UPDATE.openapi()},
        responses={200: TRANSACTION, **_ERRORS},
    )
    def patch(
        self, request: Request, organization_id: str, ledger_id: str, transaction_id: str
    ) -> HttpResponse:
        context.pin_to_primary()  # the stored metadata is merged: read what is there now
        ledger = ledger_or_404(organization_id, ledger_id)
        data = parse_body(request, schemas.TRANSACTION_UPDATE)
        # The row is locked from the read of its metadata to the write of the merge: a
        # concurrent PATCH waits, then merges into this one's keys instead of over them.
        with db_transaction.atomic():
            tx = get_or_404(
                _transactions(ledger.id).select_for_update(of=("self",), no_key=True),
                code="0007",
                entity_type="Transaction",
                pk=_transaction_id(transaction_id),
            )
            tx = posting.transaction_update(
                tx=tx,
                description=data.get("description"),
                metadata=merge_metadata(tx.metadata, data),
            )
        return json_response(_render(tx))


class TransactionCollection(LedgerAPIView):
    @extend_schema(
        operation_id="list_transactions",
        summary="List transactions",
        tags=["Transactions"],
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("cursor", str),
            OpenApiParameter("sort_order", str, enum=["asc", "desc"]),
            OpenApiParameter("start_date", str),
            OpenApiParameter("end_date", str),
        ],
        responses={200: cursor_list(TRANSACTION), **_ERRORS},
    )
    def get(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        query = parse_list_query(request.query_params, default_window=True)
        page = cursor_page(filter_common(_transactions(ledger.id), query), query)
        if query.metadata and not page["items"]:
            raise not_found("0071", "Transaction", "No transactions match the metadata filter.")
        operations = selectors.operation_records(tx.id for tx in page["items"])
        page["items"] = [transaction_out(tx, operations.get(tx.id, ())) for tx in page["items"]]
        return json_response(page)


_COUNT_STATUSES = ("CREATED", "APPROVED", "PENDING", "CANCELED", "NOTED")


def _rfc3339(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_query(f"{name} must be an RFC 3339 date-time.", code="0131") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class TransactionCount(LedgerAPIView):
    @extend_schema(
        operation_id="count_transactions",
        summary="Count transactions",
        tags=["Transactions"],
        parameters=[
            OpenApiParameter("route", str),
            OpenApiParameter("status", str, enum=list(_COUNT_STATUSES)),
            OpenApiParameter("start_date", str, description="RFC 3339"),
            OpenApiParameter("end_date", str, description="RFC 3339"),
        ],
        responses={204: None, **_ERRORS},
    )
    def head(self, request: Request, organization_id: str, ledger_id: str) -> HttpResponse:
        ledger = ledger_or_404(organization_id, ledger_id)
        params = request.query_params
        today = datetime.now(UTC).date()
        start = (
            _rfc3339(params["start_date"], "start_date")
            if params.get("start_date")
            else datetime.combine(today, time.min, tzinfo=UTC)
        )
        end = (
            _rfc3339(params["end_date"], "end_date")
            if params.get("end_date")
            else datetime.combine(today, time.max, tzinfo=UTC)
        )
        if start > end:
            raise bad_query("start_date must not be after end_date.", code="0078")
        qs = _transactions(ledger.id).filter(created_at__gte=start, created_at__lte=end)
        if route := params.get("route"):
            qs = qs.filter(route=route)
        if status := params.get("status"):
            if status.upper() not in _COUNT_STATUSES:
                raise bad_query(f"status must be one of {', '.join(_COUNT_STATUSES)}.")
            qs = qs.filter(status=status.upper())
        return count_response(qs.count())

"""Balances, transactions, operations and idempotency records: the money side of the ledger."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.db import models
from django.db.models import Q

from midaz.models import AmountField, BaseModel
from onboarding.models import ALIVE, Account, Ledger, Organization


class Balance(BaseModel):
    """One balance of an account. ``available`` and ``on_hold`` change only under a row lock,
    and every change bumps ``version``."""

    # The API sets no balance metadata (Midaz's balances have none): balance reads never wait
    # for an external metadata store.
    external_metadata = False

    class Direction(models.TextChoices):
        CREDIT = "credit"
        DEBIT = "debit"

    DEFAULT_KEY = "default"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    alias = models.CharField(max_length=100)
    key = models.CharField(max_length=100, default=DEFAULT_KEY)
    asset_code = models.CharField(max_length=100)
    available = AmountField(default=Decimal(0))
    on_hold = AmountField(default=Decimal(0))
    version = models.BigIntegerField(default=0)
    account_type = models.CharField(max_length=256)
    allow_sending = models.BooleanField(default=True)
    allow_receiving = models.BooleanField(default=True)
    direction = models.CharField(max_length=6, choices=Direction.choices, default=Direction.CREDIT)
    overdraft_used = AmountField(default=Decimal(0))
    settings = models.JSONField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint("account", "key", condition=ALIVE, name="balance_account_key"),
            models.CheckConstraint(
                condition=Q(on_hold__gte=0), name="balance_on_hold_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(overdraft_used__gte=0), name="balance_overdraft_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["credit", "debit"]), name="balance_direction_valid"
            ),
        ]
        indexes = [
            *BaseModel.Meta.indexes,
            models.Index(fields=["ledger", "alias", "key"], name="balance_ledger_alias_key"),
        ]

    def __str__(self) -> str:
        return f"{self.alias}#{self.key}"


class Transaction(BaseModel):
    """A posting. ``created_at`` is the transaction date (back-dated when asked)."""

    class Status(models.TextChoices):
        CREATED = "CREATED"
        APPROVED = "APPROVED"
        PENDING = "PENDING"
        CANCELED = "CANCELED"
        NOTED = "NOTED"
        DECLINED = "DECLINED"

    # Every index costs each posting an insert: the ledger is covered by (ledger, created_at),
    # the parent by the one-reversal unique index; organization lookups go through the ledger.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    parent_transaction = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        db_index=False,
    )
    description = models.CharField(max_length=256, null=True, blank=True)
    code = models.CharField(max_length=100, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    status_description = models.CharField(max_length=256, null=True, blank=True)
    amount = AmountField()
    asset_code = models.CharField(max_length=100)
    chart_of_accounts_group_name = models.CharField(max_length=256, null=True, blank=True)
    source = ArrayField(models.CharField(max_length=100), default=list)
    destination = ArrayField(models.CharField(max_length=100), default=list)
    # The posting request as resolved (kept to commit or cancel a pending transaction).
    body = models.JSONField(null=True, blank=True)
    route = models.CharField(max_length=250, null=True, blank=True)
    route_id = models.UUIDField(null=True, blank=True)
    fees_skipped = models.BooleanField(default=False)
    tracer_skipped = models.BooleanField(default=False)

    class Meta(BaseModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="transaction_amount_not_negative"
            ),
            # One reversal per transaction: the second concurrent revert fails here (0087).
            models.UniqueConstraint(
                "parent_transaction", condition=ALIVE, name="transaction_one_reversal"
            ),
        ]
        # No GIN index on metadata here (nor on operations): these tables take every posting,
        # and a GIN index's pending list is flushed by whichever posting overflows it, while
        # that posting holds its balance locks (the benchmark saw throughput collapse).
        # Metadata filters on them use per-key indexes made with /v1/settings/metadata-indexes.
        indexes = [
            models.Index(fields=["ledger", "created_at"], name="transaction_ledger_created"),
            # Pages are keyset pages on id within a ledger (UUIDv7: time order).
            models.Index(fields=["ledger", "id"], name="transaction_ledger_id"),
            # The console's dashboard (console/dashboard.py): the last 30 days of every ledger
            # through a BRIN index (a few pages, nearly free per posting: rows arrive in time
            # order), and the pending transactions through a partial index that only pending
            # postings pay for.
            BrinIndex(fields=["created_at"], name="transaction_created_brin"),
            models.Index(
                fields=["created_at"],
                condition=Q(status="PENDING", deleted_at__isnull=True),
                name="transaction_pending",
            ),
        ]
        permissions = [
            (
                "operate_transactions",
                "Can post, commit, cancel and revert transactions from the console",
            ),
            ("export_records", "Can export console lists as CSV"),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Operation(BaseModel):
    """One movement of one balance by one transaction, with the balance before and after."""

    class Type(models.TextChoices):
        DEBIT = "DEBIT"
        CREDIT = "CREDIT"
        ON_HOLD = "ON_HOLD"
        RELEASE = "RELEASE"
        OVERDRAFT = "OVERDRAFT"
        BLOCK = "BLOCK"
        UNBLOCK = "UNBLOCK"

    # Only the indexes reads need (each one is an insert per operation): account and balance
    # are covered by their (…, created_at) indexes below.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="operations"
    )
    description = models.CharField(max_length=256, null=True, blank=True)
    type = models.CharField(max_length=20, choices=Type.choices)
    direction = models.CharField(max_length=6)
    asset_code = models.CharField(max_length=100)
    chart_of_accounts = models.CharField(max_length=256, null=True, blank=True)
    amount = AmountField()
    available_before = AmountField()
    on_hold_before = AmountField()
    version_before = models.BigIntegerField()
    overdraft_used_before = AmountField(default=Decimal(0))
    available_after = AmountField()
    on_hold_after = AmountField()
    version_after = models.BigIntegerField()
    overdraft_used_after = AmountField(default=Decimal(0))
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="operations", db_index=False
    )
    account_alias = models.CharField(max_length=100)
    balance = models.ForeignKey(
        Balance, on_delete=models.PROTECT, related_name="operations", db_index=False
    )
    balance_key = models.CharField(max_length=100, default=Balance.DEFAULT_KEY)
    balance_affected = models.BooleanField(default=True)
    route = models.CharField(max_length=250, null=True, blank=True)
    route_id = models.UUIDField(null=True, blank=True)
    route_code = models.CharField(max_length=100, null=True, blank=True)
    route_description = models.CharField(max_length=250, null=True, blank=True)
    status = models.CharField(max_length=20, null=True, blank=True)
    # A cross-asset entry's conversion (transactions/conversion.py): {from, to, value,
    # externalId, amount}, and ``of`` on the external legs that balance each asset.
    rate = models.JSONField(null=True, blank=True)
    # An OVERDRAFT companion: the id of the operation whose amount it completes (midaz_post
    # writes it); a reversal folds the companion back into exactly that leg.
    companion_of = models.UUIDField(null=True, blank=True, editable=False)

    class Meta(BaseModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="operation_amount_not_negative")
        ]
        indexes = [  # no GIN on metadata: see Transaction.Meta
            # An account's operations are listed as keyset pages on id (UUIDv7: time order).
            models.Index(fields=["account", "id"], name="operation_account_id"),
            models.Index(fields=["balance", "created_at"], name="operation_balance_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.account_alias} {self.amount}"


class IdempotencyRecord(models.Model):
    """The durable record of an idempotency key, written in the posting's database transaction:
    a replay can never post twice, even if the cache was flushed (DESIGN.md §6)."""

    # No index of its own: the unique (ledger, key) serves every lookup by ledger, and a
    # ledger-only index invited a plan that read every key of the ledger for each posting
    # (a generic plan made before the table had statistics).
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=256)
    request_hash = models.CharField(max_length=64)
    transaction = models.ForeignKey(
        Transaction, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The status the first answer showed (CREATED, PENDING, NOTED): a replay shows it again.
    answer_status = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint("ledger", "key", name="idempotency_ledger_key")]
        # BRIN: tiny and nearly free to maintain on an append-mostly table whose expiry follows
        # its insertion order; it lets purge_expired_keys find expired rows without a full scan.
        indexes = [BrinIndex(fields=["expires_at"], name="idempotency_expires_brin")]

    def __str__(self) -> str:
        return self.key


class BulkRecord(models.Model):
    """The answer of a bulk request (``POST .../transactions/bulk``) under its idempotency key,
    written in the same database transaction as its postings: repeating the request within
    the key's lifetime answers exactly the same, item by item, without posting again."""

    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=256)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    answer = models.JSONField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint("ledger", "key", name="bulk_record_ledger_key")]
        indexes = [BrinIndex(fields=["expires_at"], name="bulk_record_expires_brin")]

    def __str__(self) -> str:
        return self.key


class QueuedPosting(models.Model):
    """An asynchronous posting accepted and not yet applied (DESIGN.md §5,
    ``TRANSACTION_ASYNC``): its transaction row already exists with status CREATED. Written in
    the same statement as that row; a worker applies it (``transactions.asynchronous``) and
    deletes this row in the same database transaction, so a posting is applied exactly once
    whatever happens to the worker or its message."""

    transaction = models.OneToOneField(
        Transaction, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    # The transaction row as ``midaz_post`` applies it (with its final status), its legs and
    # the options of the apply step.
    tx = models.JSONField()
    legs = models.JSONField()
    opts = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["ledger", "transaction"], name="queued_posting_ledger")]

    def __str__(self) -> str:
        return str(self.transaction_id)


class OutboxEvent(models.Model):
    """A transaction event waiting to be published (a transactional outbox): written by
    ``midaz_post`` in the posting's own database transaction, so an event exists if and only
    if its posting committed; the relay (``transactions.events``) publishes it to RabbitMQ with
    confirms and deletes it."""

    id = models.BigAutoField(primary_key=True)
    transaction_id = models.UUIDField()
    organization_id = models.UUIDField()
    ledger_id = models.UUIDField()
    # The transaction's status the event announces (APPROVED, PENDING, CANCELED, NOTED).
    status = models.CharField(max_length=20)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.status} {self.transaction_id}"


class AssetRate(BaseModel):
    """The rate from one asset to another in a ledger (MIDAZ_API.md §4.11): ``rate / 10^scale``
    units of ``to_asset`` per unit of ``from_asset``. One row per pair, upserted by ``PUT``."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+", db_index=False)
    external_id = models.UUIDField()
    from_asset = models.CharField(max_length=100)
    to_asset = models.CharField(max_length=100)
    rate = models.BigIntegerField()
    scale = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=256, null=True, blank=True)
    ttl = models.PositiveIntegerField(default=0)

    class Meta(BaseModel.Meta):
        indexes = [
            *BaseModel.Meta.indexes,
            models.Index(fields=["ledger", "from_asset", "id"], name="asset_rate_ledger_from"),
            models.Index(fields=["ledger", "external_id"], name="asset_rate_ledger_external"),
        ]
        constraints = [
            models.UniqueConstraint(
                "ledger", "from_asset", "to_asset", condition=ALIVE, name="asset_rate_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_asset}->{self.to_asset} {self.rate}e-{self.scale}"

    @property
    def value(self) -> Decimal:
        """The effective rate, exact: ``rate`` scaled by ``10^-scale``."""
        return Decimal(self.rate).scaleb(-self.scale)


class OperationRoute(BaseModel):
    """An accounting rule for one side of a posting (MIDAZ_API.md §4.12, SEMANTICS.md §11):
    which accounts may take part (``account``) and the rubrics of each action
    (``accounting_entries``)."""

    class Type(models.TextChoices):
        SOURCE = "source"
        DESTINATION = "destination"
        BIDIRECTIONAL = "bidirectional"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=255)
    description = models.CharField(max_length=250, null=True, blank=True)
    code = models.CharField(max_length=100, null=True, blank=True)
    operation_type = models.CharField(max_length=20, choices=Type.choices)
    account = models.JSONField(null=True, blank=True)
    accounting_entries = models.JSONField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        indexes = [GinIndex(fields=["metadata"], name="operation_route_meta")]

    def __str__(self) -> str:
        return self.title


class TransactionRoute(BaseModel):
    """A set of operation routes that a posting follows (MIDAZ_API.md §4.13)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=255)
    description = models.CharField(max_length=250, null=True, blank=True)
    operation_routes = models.ManyToManyField(OperationRoute, related_name="transaction_routes")

    class Meta(BaseModel.Meta):
        indexes = [GinIndex(fields=["metadata"], name="transaction_route_meta")]

    def __str__(self) -> str:
        return self.title

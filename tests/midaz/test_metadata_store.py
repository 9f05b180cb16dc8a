"""The contract of the metadata store (``midaz.metadata``), one suite for every backend: the
PostgreSQL jsonb column always, MongoDB when ``MONGO_URL`` is set, and the MongoDB adapter over
mongomock (see ``tests/metadata_backends.py`` for what each run proves)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midaz.metadata import MetadataStore
from onboarding.models import Ledger, Organization
from tests.metadata_backends import ALL_KINDS, MONGO_KINDS

pytestmark = pytest.mark.django_db
every_store = pytest.mark.parametrize("use_store", ALL_KINDS, indirect=True)


def _organization(**metadata: Any) -> Organization:
    return Organization.objects.create(
        legal_name="Acme", legal_document="123", address={}, metadata=metadata
    )


def _ids(qs: Any) -> set[Any]:
    return set(qs.values_list("pk", flat=True))


@every_store
def test_an_entity_reads_back_the_metadata_it_was_saved_with(use_store: MetadataStore) -> None:
    org = _organization(tier="gold", limit=250, ratio=0.5, vip=True, note=None)
    assert use_store.read(Organization, [org.pk]) == {
        org.pk: {"tier": "gold", "limit": 250, "ratio": 0.5, "vip": True, "note": None}
    }
    fetched = Organization.objects.get(pk=org.pk)
    assert fetched.metadata == {
        "tier": "gold",
        "limit": 250,
        "ratio": 0.5,
        "vip": True,
        "note": None,
    }
    # values() rows get it too (the routes and rates answer from them).
    row = Organization.objects.filter(pk=org.pk).values("id", "metadata").get()
    assert row["metadata"]["tier"] == "gold"


@every_store
def test_the_row_column_holds_the_metadata_only_on_the_postgres_store(
    use_store: MetadataStore,
) -> None:
    org = _organization(tier="gold")
    column = Organization._base_manager.filter(pk=org.pk).values_list("metadata", flat=True).get()
    assert column == ({"tier": "gold"} if use_store.in_rows else {})


@every_store
def test_write_replaces_and_an_empty_map_clears(use_store: MetadataStore) -> None:
    org = _organization(a="1", b="2")
    use_store.write(Organization, {org.pk: {"c": "3"}})
    assert Organization.objects.get(pk=org.pk).metadata == {"c": "3"}
    use_store.write(Organization, {org.pk: {}})
    assert Organization.objects.get(pk=org.pk).metadata == {}
    assert use_store.read(Organization, [org.pk]).get(org.pk, {}) == {}


@every_store
def test_a_save_that_leaves_out_metadata_keeps_it(use_store: MetadataStore) -> None:
    org = _organization(tier="gold")
    org.legal_name = "Acme II"
    org.metadata = {"ignored": "x"}
    org.save(update_fields=["legal_name"])
    assert Organization.objects.get(pk=org.pk).metadata == {"tier": "gold"}


@every_store
def test_filters_match_every_key_and_compare_strings(use_store: MetadataStore) -> None:
    gold = _organization(tier="gold", region="eu")
    gold_us = _organization(tier="gold", region="us")
    numeric = _organization(tier="7", code=7)
    _organization()
    qs = Organization.objects.all()
    assert _ids(use_store.filter(qs, {"tier": "gold"})) == {gold.pk, gold_us.pk}
    assert _ids(use_store.filter(qs, {"tier": "gold", "region": "eu"})) == {gold.pk}
    assert _ids(use_store.filter(qs, {"tier": "7"})) == {numeric.pk}
    # A stored number does not match its text; a missing key matches nothing.
    assert _ids(use_store.filter(qs, {"code": "7"})) == set()
    assert _ids(use_store.filter(qs, {"absent": "x"})) == set()
    assert _ids(use_store.filter(qs, {})) == _ids(qs)


@every_store
def test_filters_combine_with_the_other_conditions_of_the_query(use_store: MetadataStore) -> None:
    kept = _organization(tier="gold")
    dropped = _organization(tier="gold")
    qs = Organization.objects.exclude(pk=dropped.pk)
    assert _ids(use_store.filter(qs, {"tier": "gold"})) == {kept.pk}


@every_store
def test_entity_kinds_do_not_share_metadata(use_store: MetadataStore) -> None:
    org = _organization(kind="org")
    ledger = Ledger.objects.create(organization=org, name="books", metadata={"kind": "ledger"})
    assert _ids(use_store.filter(Organization.objects.all(), {"kind": "ledger"})) == set()
    assert _ids(use_store.filter(Ledger.objects.all(), {"kind": "ledger"})) == {ledger.pk}
    assert use_store.read(Ledger, [org.pk]) == {}


@every_store
def test_remove_forgets(use_store: MetadataStore) -> None:
    org = _organization(tier="gold")
    use_store.remove(Organization, [org.pk])
    assert use_store.read(Organization, [org.pk]).get(org.pk, {}) == {}
    assert _ids(use_store.filter(Organization.objects.all(), {"tier": "gold"})) == set()


@every_store
def test_soft_deleted_rows_keep_their_metadata(use_store: MetadataStore) -> None:
    from django.utils import timezone

    org = _organization(tier="gold")
    org.deleted_at = timezone.now()
    org.save(update_fields=["deleted_at"])
    assert Organization.all_objects.get(pk=org.pk).metadata == {"tier": "gold"}


_value = st.one_of(
    # The API refuses a null byte (0047) before any store sees it.
    st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    # jsonb keeps a number's decimal text: a float beyond 2**53 can come back as the integer
    # its text names, a property of the column, not of this contract.
    st.floats(min_value=-(2.0**53), max_value=2.0**53, allow_nan=False),
)


@every_store
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(metadata=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True), _value))
def test_any_flat_metadata_round_trips(use_store: MetadataStore, metadata: dict[str, Any]) -> None:
    """Integers beyond 64 bits included (MongoDB keeps them as Decimal128)."""
    org = _organization(**metadata)
    assert Organization.objects.get(pk=org.pk).metadata == metadata


@pytest.mark.parametrize("use_store", MONGO_KINDS, indirect=True)
def test_mongodb_documents_have_midaz_s_layout(use_store: Any) -> None:
    org = _organization(tier="gold")
    doc = use_store.collection(Organization).find_one({"entity_id": str(org.pk)})
    assert doc["entity_name"] == "Organization"
    assert doc["metadata"] == {"tier": "gold"}
    assert doc["created_at"]
    assert doc["updated_at"]
    assert use_store.collection_name(Organization) == "organization"
    names = {name for name, _ in use_store.collection(Organization).index_information().items()}
    assert "entity_id_1" in names

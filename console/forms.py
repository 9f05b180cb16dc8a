"""The console's posting form: a ledger, a kind of posting and a JSON body or a Gold file."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from midaz.exceptions import LedgerError
from onboarding.models import Ledger

KINDS = [
    ("json", "JSON transaction (POST .../transactions/json)"),
    ("inflow", "Inflow (POST .../transactions/inflow)"),
    ("outflow", "Outflow (POST .../transactions/outflow)"),
    ("annotation", "Annotation (POST .../transactions/annotation)"),
    ("dsl", "Gold DSL file (POST .../transactions/dsl)"),
]


def midaz_error(code: str, message: str) -> str:
    """A form error in the console's words for a Midaz error: code, title, message."""
    from console.services import describe

    return describe(LedgerError(message, code=code))


class PostingForm(forms.Form):
    ledger = forms.CharField(
        label="Ledger id",
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "the ledger's UUID"}),
    )
    kind = forms.ChoiceField(choices=KINDS, widget=UnfoldAdminSelectWidget)
    body = forms.CharField(
        label="JSON body",
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 14, "spellcheck": "false"}),
        help_text="The request body of the chosen route, exactly as the API takes it.",
    )
    dsl = forms.FileField(
        label="Gold DSL file",
        required=False,
        widget=UnfoldAdminFileFieldWidget,
        help_text="A .gold file (for the Gold DSL kind).",
    )
    idempotency_key = forms.CharField(
        label="Idempotency key",
        required=False,
        max_length=256,
        widget=UnfoldAdminTextInputWidget,
        help_text="As X-Idempotency: posting the same key again replays the first answer.",
    )

    def clean_ledger(self) -> Ledger:
        raw = (self.cleaned_data.get("ledger") or "").strip()
        try:
            ledger_id = uuid.UUID(raw)
        except ValueError:
            raise forms.ValidationError(midaz_error("0037", "Not a ledger id.")) from None
        ledger = Ledger.objects.without_metadata().filter(pk=ledger_id).first()
        if ledger is None:
            raise forms.ValidationError(
                midaz_error("0037", "No ledger has this id (or it was deleted).")
            )
        return ledger

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == "dsl":
            upload = data.get("dsl")
            if upload is None or ".gold" not in (upload.name or ""):
                self.add_error("dsl", midaz_error("0048", "Upload a Gold file with a .gold name."))
        elif kind and not (data.get("body") or "").strip():
            self.add_error("body", midaz_error("0094", "A JSON object is expected."))
        return data

    def gold_bytes(self) -> bytes | None:
        upload = self.cleaned_data.get("dsl")
        if self.cleaned_data.get("kind") != "dsl" or upload is None:
            return None
        data: bytes = upload.read(settings.MAX_DSL_FILE_BYTES + 1)
        return data

"""HTML form <-> DeclarationIn, and turning errors into messages next to the fields."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from dancu.core.errors import DomainError
from dancu.core.web import gettext_for
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.validation import DeclarationInvalid

TEXT_FIELDS = (
    "national_id", "full_name", "dob", "phone", "origin_unit_code", "origin_address", "destination_unit_code",
    "destination_address", "travel_date", "return_date", "transport", "vehicle_plate", "transport_detail",
    "purpose", "places_visited",
)
_MAX_FIELD = 2000


def form_values(form: FormData) -> dict[str, Any]:
    """The posted form as plain values (kept to re-render the form after an error)."""
    values: dict[str, Any] = {name: str(form.get(name) or "")[:_MAX_FIELD] for name in TEXT_FIELDS}
    values["symptoms"] = [str(v) for v in form.getlist("symptoms")][:20]
    values["exposures"] = [str(v) for v in form.getlist("exposures")][:20]
    values["attested"] = str(form.get("attested") or "") in ("on", "1", "true", "yes")
    return values


def to_input(values: dict[str, Any]) -> DeclarationIn:
    return DeclarationIn.model_validate(values)


def form_errors(request: Request, exc: DomainError | ValidationError) -> tuple[str, dict[str, str]]:
    """The message for the top of the form and one message per field."""
    gettext = gettext_for(request)
    if isinstance(exc, DeclarationInvalid):
        fields: dict[str, str] = {}
        for problem in exc.problems:
            fields.setdefault(problem.field or "", problem.localized(gettext))
        return exc.localized(gettext), fields
    if isinstance(exc, DomainError):
        message = exc.localized(gettext)
        return message, {exc.field: message} if exc.field else {}
    fields = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int)) or "form"
        fields.setdefault(name, str(err.get("msg", "invalid")))
    first = next(iter(fields.items()))
    return f"{first[0]}: {first[1]}", fields

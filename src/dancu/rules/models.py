"""Rules are data: the dancu `Rule` model (CertLogic logic plus metadata), and its EU-envelope import."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from dancu.rules.errors import CertLogicValidationError, RuleFormatError
from dancu.rules.validation import validate_expression

CertificateType = Literal["General", "Vaccination", "Test", "Recovery"]
CERTIFICATE_TYPES: tuple[CertificateType, ...] = ("General", "Vaccination", "Test", "Recovery")
SEMVER = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"


def error_field(exc: ValidationError, rename: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(dotted field path, message) of a pydantic error's first problem, optionally renaming the top field."""
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    if loc and rename:
        loc[0] = rename.get(loc[0], loc[0])
    message = str(first["msg"]).removeprefix("Value error, ")
    return (".".join(loc) or "(rule)"), message


class LocalizedText(BaseModel):
    """A text in Vietnamese and English."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Rule(BaseModel):
    """A business rule: CertLogic `logic`, evaluated against `{"payload": DCC, "external": {...}}`.

    It is valid from `valid_from` (inclusive) to `valid_to` (exclusive) and applies to certificates of
    `certificate_type` ("General" applies to every certificate).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(pattern=SEMVER)
    description: LocalizedText
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    certificate_type: CertificateType
    logic: Any
    affected_fields: list[str] = Field(default_factory=list)

    @field_validator("valid_from", "valid_to", mode="before")
    @classmethod
    def _date_time_text(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError("must be an ISO 8601 date-time string with a timezone offset")
        return value

    @field_validator("logic")
    @classmethod
    def _valid_logic(cls, value: object) -> object:
        try:
            validate_expression(value)
        except CertLogicValidationError as exc:
            raise ValueError(f"invalid CertLogic expression: {exc}") from None
        return value

    @field_validator("valid_to")
    @classmethod
    def _after_valid_from(cls, value: datetime, info: ValidationInfo) -> datetime:
        valid_from = info.data.get("valid_from")
        if isinstance(valid_from, datetime) and value <= valid_from:
            raise ValueError("must be later than valid_from")
        return value

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))

    def is_valid_at(self, instant: datetime) -> bool:
        return self.valid_from <= instant < self.valid_to

    def applies_to(self, certificate_type: CertificateType | None) -> bool:
        return self.certificate_type == "General" or self.certificate_type == certificate_type

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Parse a dancu rule (the model as JSON); problems raise `RuleFormatError` naming the field."""
        if not isinstance(data, Mapping):
            raise RuleFormatError("(rule)", "a rule must be a JSON object")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise RuleFormatError(*error_field(exc)) from None

    @classmethod
    def from_eu(cls, envelope: Mapping[str, Any]) -> Rule:
        """Import an EU DCC business-rule envelope (`Identifier`, `Logic`, ...); errors name the EU field."""
        from dancu.rules.schemas import EuRuleEnvelope  # schemas imports this module

        return EuRuleEnvelope.parse(envelope).to_rule()


def language_key(lang: str) -> str:
    """`"vi-VN"` -> `"vi"`: the primary language subtag, lower-cased."""
    return re.split(r"[-_]", lang.strip(), maxsplit=1)[0].lower()

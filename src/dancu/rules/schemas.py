"""The EU DCC business-rule envelope (the wire format of the EU gateway) and its mapping to `Rule`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from dancu.rules.errors import RuleFormatError
from dancu.rules.models import SEMVER, LocalizedText, Rule, error_field, language_key
from dancu.rules.models import CertificateType as CertificateTypeName

# dancu field -> EU field, to name the EU field when the mapped rule is rejected.
EU_FIELD_NAMES = {
    "id": "Identifier",
    "version": "Version",
    "description": "Description",
    "valid_from": "ValidFrom",
    "valid_to": "ValidTo",
    "certificate_type": "CertificateType",
    "logic": "Logic",
    "affected_fields": "AffectedFields",
}


class EuDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: str = Field(min_length=2)
    desc: str = Field(min_length=1)


class EuRuleEnvelope(BaseModel):
    """One EU business rule with the EU's field names; unknown fields are rejected (as in the EU schema)."""

    model_config = ConfigDict(extra="forbid")

    Identifier: str = Field(pattern=r"^(GR|VR|TR|RR|IR)-[A-Z]{2}-[0-9]{4}$")
    Type: Literal["Acceptance", "Invalidation"]
    Country: str = Field(pattern=r"^[A-Z]{2}$")
    Version: str = Field(pattern=SEMVER)
    SchemaVersion: str = Field(pattern=SEMVER)
    Engine: Literal["CERTLOGIC"]
    EngineVersion: str = Field(pattern=SEMVER)
    CertificateType: CertificateTypeName
    Description: list[EuDescription] = Field(min_length=1)
    ValidFrom: AwareDatetime
    ValidTo: AwareDatetime
    AffectedFields: list[str]
    Logic: Any

    @field_validator("ValidFrom", "ValidTo", mode="before")
    @classmethod
    def _date_time_text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time string with a timezone offset")
        return value

    @classmethod
    def parse(cls, envelope: Mapping[str, Any]) -> EuRuleEnvelope:
        if not isinstance(envelope, Mapping):
            raise RuleFormatError("(rule)", "an EU rule must be a JSON object")
        try:
            return cls.model_validate(dict(envelope))
        except ValidationError as exc:
            raise RuleFormatError(*error_field(exc)) from None

    def localized_description(self) -> LocalizedText:
        """`vi` and `en` from the Description list (by primary language tag); `vi` falls back to `en`."""
        texts: dict[str, str] = {}
        for item in self.Description:
            texts.setdefault(language_key(item.lang), item.desc)
        if "en" not in texts:
            raise RuleFormatError("Description", "no English ('en') description")
        return LocalizedText(vi=texts.get("vi", texts["en"]), en=texts["en"])

    def to_rule(self) -> Rule:
        data = {
            "id": self.Identifier,
            "version": self.Version,
            "description": self.localized_description(),
            "valid_from": self.ValidFrom,
            "valid_to": self.ValidTo,
            "certificate_type": self.CertificateType,
            "logic": self.Logic,
            "affected_fields": self.AffectedFields,
        }
        try:
            return Rule.model_validate(data)
        except ValidationError as exc:
            raise RuleFormatError(*error_field(exc, EU_FIELD_NAMES)) from None

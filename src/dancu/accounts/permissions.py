"""Permissions as `resource:action`, and which role holds which."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    REGISTRY_READ = "registry:read"
    REGISTRY_IMPORT = "registry:import"
    UNITS_READ = "units:read"
    ACCOUNTS_MANAGE = "accounts:manage"
    AUDIT_READ = "audit:read"
    SELF_READ = "self:read"
    CREDENTIALS_VERIFY = "credentials:verify"
    SCAN_USE = "scan:use"
    DECLARATIONS_CREATE = "declarations:create"  # a citizen, for self and household
    DECLARATIONS_READ = "declarations:read"  # officials, within jurisdiction
    DECLARATIONS_REVOKE = "declarations:revoke"
    DECLARATIONS_PAPER = "declarations:paper"  # enter paper forms on someone's behalf
    CHECKPOINTS_MANAGE = "checkpoints:manage"
    PASSAGES_RECORD = "passages:record"
    VEHICLES_MANAGE = "vehicles:manage"  # green lane
    NOTICES_READ = "notices:read"
    REPORTS_READ = "reports:read"
    WEBHOOKS_MANAGE = "webhooks:manage"


class Role(StrEnum):
    CITIZEN = "citizen"
    CHECKPOINT_OFFICER = "checkpoint_officer"
    VENUE_STAFF = "venue_staff"
    HEALTH_WORKER = "health_worker"
    OFFICIAL = "official"
    ADMIN = "admin"
    AGENCY = "agency"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CITIZEN: frozenset({P.SELF_READ, P.DECLARATIONS_CREATE}),
    # Checkpoint officers and venue staff never browse the register: they see only what a scan shows.
    Role.CHECKPOINT_OFFICER: frozenset({P.SCAN_USE, P.CREDENTIALS_VERIFY, P.PASSAGES_RECORD, P.DECLARATIONS_PAPER}),
    Role.VENUE_STAFF: frozenset({P.SCAN_USE, P.CREDENTIALS_VERIFY}),
    Role.HEALTH_WORKER: frozenset({P.REGISTRY_READ, P.UNITS_READ, P.CREDENTIALS_VERIFY}),
    Role.OFFICIAL: frozenset(
        {
            P.REGISTRY_READ,
            P.REGISTRY_IMPORT,
            P.UNITS_READ,
            P.ACCOUNTS_MANAGE,
            P.AUDIT_READ,
            P.CREDENTIALS_VERIFY,
            P.DECLARATIONS_READ,
            P.DECLARATIONS_REVOKE,
            P.DECLARATIONS_PAPER,
            P.CHECKPOINTS_MANAGE,
            P.VEHICLES_MANAGE,
            P.NOTICES_READ,
            P.REPORTS_READ,
            P.WEBHOOKS_MANAGE,
        }
    ),
    Role.ADMIN: frozenset(set(Permission) - {P.SELF_READ, P.DECLARATIONS_CREATE, P.PASSAGES_RECORD}),
    Role.AGENCY: frozenset({P.REGISTRY_READ, P.UNITS_READ}),
}

# Which roles an account manager may create. Admins may create any; officials only field roles.
CREATABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.OFFICIAL: frozenset(
        {Role.OFFICIAL, Role.CHECKPOINT_OFFICER, Role.VENUE_STAFF, Role.HEALTH_WORKER, Role.AGENCY}
    ),
}


class Purpose(StrEnum):
    """Why a staff member opens a person's record (recorded in the audit log)."""

    CASE_MANAGEMENT = "case_management"
    CONTACT_TRACING = "contact_tracing"
    VERIFICATION = "verification"
    CITIZEN_REQUEST = "citizen_request"
    DATA_CORRECTION = "data_correction"
    SOCIAL_SUPPORT = "social_support"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an authenticated account, with its unit's path for jurisdiction scoping."""

    account_id: int
    username: str
    display_name: str
    role: Role
    unit_code: str
    unit_path: str
    person_id: int | None = None
    ip: str | None = None
    request_id: str | None = None
    permissions: frozenset[Permission] = field(default=frozenset())

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def is_staff(self) -> bool:
        return self.role is not Role.CITIZEN


def permissions_for(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]

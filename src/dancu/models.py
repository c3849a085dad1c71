"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from dancu.accounts import models as accounts_models
from dancu.audit import models as audit_models
from dancu.checkpoints import models as checkpoints_models
from dancu.core.db import Base
from dancu.declarations import models as declarations_models
from dancu.notifications import models as notifications_models
from dancu.registry import models as registry_models
from dancu.units import models as units_models

__all__ = [
    "Base",
    "accounts_models",
    "audit_models",
    "checkpoints_models",
    "declarations_models",
    "notifications_models",
    "registry_models",
    "units_models",
]

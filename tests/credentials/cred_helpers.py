"""Constants shared by the credentials tests (a distinct module name, so no clash with other conftests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dancu.credentials.keys import Signer

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MakeSigner = Callable[..., Signer]

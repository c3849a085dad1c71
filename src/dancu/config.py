"""Settings, read from the environment with the DANCU_ prefix."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dancu.core.db import MAX_OVERFLOW, POOL_SIZE

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DANCU_", env_file=".env", extra="ignore")

    env: Literal["dev", "demo", "test", "production"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    cookie_secure: bool = True
    session_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    default_locale: Literal["vi", "en"] = "vi"
    log_level: str = "INFO"
    log_json: bool = True
    # Travel passes (issue 3/4): how long a pass is valid.
    travel_pass_hours: int = 72
    # Connections per server process (PostgreSQL): kept open, and extra ones for bursts (closed after use).
    db_pool_size: int = Field(default=POOL_SIZE, ge=1, le=200)
    db_max_overflow: int = Field(default=MAX_OVERFLOW, ge=0, le=200)
    signing_key_path: Path | None = None
    upload_max_bytes: int = Field(default=1024**3 * 2)
    # Deliver webhook notices from inside the server; turn off to run `dancu notifications deliver --loop`.
    webhook_worker: bool = True

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'dancu.db').as_posix()}"
        if not self.secret_key:
            if self.env == "production":
                raise ValueError("DANCU_SECRET_KEY must be set in production (refusing to start with a default secret)")
            self.secret_key = DEV_SECRET if self.env in ("dev", "demo") else secrets.token_urlsafe(32)
        elif self.env == "production" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError("DANCU_SECRET_KEY is too weak for production (need 32+ random characters)")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""core.db helpers that need no database server."""

from __future__ import annotations

from dancu.core.db import make_engine
from dancu.core.driver import driver_connect_args


def test_driver_connect_args_follow_the_url_as_sqlalchemy_reads_it() -> None:
    url = "postgresql+asyncpg://u:p%40ss@db.example:5433/dancu?ssl=require&prepared_statement_cache_size=0"
    assert driver_connect_args(make_engine(url)) == {
        "host": "db.example", "port": 5433, "user": "u", "password": "p@ss", "database": "dancu", "ssl": "require",
        "statement_cache_size": 0}


def test_driver_connect_args_of_a_plain_url() -> None:
    args = driver_connect_args(make_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/dancu"))
    assert args == {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "dancu"}

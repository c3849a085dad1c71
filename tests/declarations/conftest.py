"""Fixtures for the declarations tests: signing keys in the test settings' data directory, actors, a trip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, clear_keyring_cache, get_keyring

if TYPE_CHECKING:
    from dancu.config import Settings


@pytest.fixture(scope="session")
def _keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys_dir = tmp_path_factory.mktemp("declaration-keys") / "keys"
    assert init_keys(keys_dir)
    return keys_dir


@pytest.fixture(autouse=True)
def keyring(request: pytest.FixtureRequest, _keys_template: Path) -> Iterator[Keyring | None]:
    """The pass-signing keys, copied where the app under test looks for them (settings.keys_dir).
    A live server (browser tests) makes its own keys."""
    if "live_server" in request.fixturenames:
        yield None
        return
    settings: Settings = request.getfixturevalue("settings")
    shutil.copytree(_keys_template, settings.keys_dir)
    yield get_keyring(settings)
    clear_keyring_cache()


# The real-browser fixtures (live server, Chromium) live with the browser tests.
from tests.browser.conftest import browser, browser_factory, live_server, playwright_instance  # noqa: E402, F401

"""Files the app keeps under its data folder: uploads' results and error files hold personal data (names, ID
numbers), so they are kept only as long as someone may still fix and re-import them."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)
RETENTION_DAYS = 30


def data_folder(base: Path, name: str, *, keep_days: int = RETENTION_DAYS) -> Path:
    """`base/name`, created if needed, with its files older than `keep_days` deleted (run at each new
    upload, so nothing needs a scheduler)."""
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - keep_days * 86400
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another process removed or is using it: next time
            log.warning("could not remove an expired file in %s", folder, exc_info=True)
    return folder

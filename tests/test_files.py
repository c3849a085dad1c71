"""Files holding personal data under the data folder are deleted after the retention period."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dancu.core.files import RETENTION_DAYS, data_folder


def test_expired_files_go_and_recent_ones_stay(tmp_path: Path) -> None:
    folder = tmp_path / "paper-imports"
    folder.mkdir()
    old, recent = folder / "abc.errors.csv", folder / "def.json"
    old.write_text("001090123456,Nguyễn Văn An")
    recent.write_text("{}")
    day = 86400
    os.utime(old, (time.time() - (RETENTION_DAYS + 1) * day,) * 2)
    os.utime(recent, (time.time() - (RETENTION_DAYS - 1) * day,) * 2)
    assert data_folder(tmp_path, "paper-imports") == folder
    assert not old.exists() and recent.exists()
    assert data_folder(tmp_path, "new-folder").is_dir()  # created when missing

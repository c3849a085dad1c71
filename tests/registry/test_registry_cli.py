"""`dancu registry ...` through Typer's test runner, against a real database."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dancu.config import get_settings
from dancu.registry.cli import registry_app
from dancu.registry.validation import COLUMNS, EXAMPLE_ROWS

runner = CliRunner()


@pytest.fixture
def database_env(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DANCU_DATABASE_URL", fresh_db)
    get_settings.cache_clear()
    yield fresh_db
    get_settings.cache_clear()


def write_rows(path: Path, rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(rows)
    return path


def test_import_processes_a_file_with_rejected_rows_and_exits_0(database_env: str, tmp_path: Path) -> None:
    bad = (EXAMPLE_ROWS[1][0], *EXAMPLE_ROWS[1][1:3], "30/02/1992", *EXAMPLE_ROWS[1][4:])
    path = write_rows(tmp_path / "people.csv", [EXAMPLE_ROWS[0], bad])
    result = runner.invoke(registry_app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "rows read" in result.output and "rejected" in result.output
    errors = tmp_path / "people.errors.csv"
    assert str(errors) in result.output.replace("\n", "")
    with errors.open(encoding="utf-8-sig") as f:
        assert "dob: 30/02/1992 is not a real date" in next(iter(list(csv.DictReader(f))))["error"]
    again = runner.invoke(registry_app, ["import", str(path), "--errors", str(tmp_path / "o.csv"),
                                         "--batch-size", "1"])
    assert again.exit_code == 0, again.output
    assert [line.split() for line in again.output.splitlines() if line.split()[:1] == ["unchanged"]] == [
        ["unchanged", "1"]]


@pytest.mark.parametrize(
    ("content", "encoding", "fragment"),
    [(None, "utf-8", "no such file"), ("José", "latin-1", "not UTF-8"), ("x", "utf-8", "missing column")],
)
def test_import_exits_1_when_the_file_cannot_be_processed(
    database_env: str, tmp_path: Path, content: str | None, encoding: str, fragment: str
) -> None:
    path = tmp_path / "in.csv"
    if content == "x":
        path.write_text("id,full_name\n001090123456,x\n", encoding=encoding)
    elif content is not None:
        row = (EXAMPLE_ROWS[0][0], "", content, "1990-05-17", "Nam", "", "00004", "12 Hue")
        write_rows(path, [row + ("",) * 5], encoding=encoding)
    result = runner.invoke(registry_app, ["import", str(path)])
    assert result.exit_code == 1
    assert fragment in result.output
    assert not (tmp_path / "in.errors.csv").exists()


def test_template_writes_a_file_that_imports(database_env: str, tmp_path: Path) -> None:
    out = tmp_path / "template.csv"
    result = runner.invoke(registry_app, ["template", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf" + ",".join(COLUMNS).encode())
    imported = runner.invoke(registry_app, ["import", str(out)])
    assert imported.exit_code == 0, imported.output
    lines = [line.split() for line in imported.output.splitlines()]
    assert [words for words in lines if words[:1] == ["new"]] == [["new", "2"]]


def test_check_id_explains_a_valid_number() -> None:
    result = runner.invoke(registry_app, ["check-id", "079305012345", "--dob", "2005-01-31", "--sex", "Nữ"])
    assert result.exit_code == 0, result.output
    for fragment in ("079305012345: valid", "079 Thành phố Hồ Chí Minh", "2000s", "Nữ (female)", "2005",
                     "agrees with the given date of birth and sex"):
        assert fragment in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["07930501234"], "exactly 12 digits"), (["003305012345"], "province code 003"),
     (["079305012345", "--sex", "Nam"], "contradicts"), (["079305012345", "--dob", "2004-01-31"], "year")],
)
def test_check_id_exits_1_with_the_reason(args: list[str], fragment: str) -> None:
    result = runner.invoke(registry_app, ["check-id", *args])
    assert result.exit_code == 1
    assert fragment in result.output


def test_check_id_refuses_a_malformed_option() -> None:
    assert runner.invoke(registry_app, ["check-id", "079305012345", "--dob", "31-01-2005"]).exit_code == 2
    assert runner.invoke(registry_app, ["check-id", "079305012345", "--sex", "X"]).exit_code == 2

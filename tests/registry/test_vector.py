"""The column-wise chunk check (vector.py) against the row-by-row one: the same rows kept, rejected and encoded."""

from __future__ import annotations

import csv
import io
import random
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dancu.core.text import fold
from dancu.registry import vector
from dancu.registry.bulkload import copy_text
from dancu.registry.reading import Shape, sort_rows
from dancu.registry.validation import COLUMNS, ERROR_COLUMN, RowValidator, column_order, fold_name
from tests.registry.test_reading import PEOPLE, PLAIN, TODAY, rows

TAIL = "\tT\tU\n"


def by_rows(text: str, shape: Shape, validator: RowValidator) -> vector.Checked:
    """What the importer's row-by-row path makes of a chunk (csv module, `check_fast`, `copy_text`)."""
    got = sort_rows(csv.reader(io.StringIO(text, newline="")), validator.check_fast, shape, 1, False)
    return vector.Checked(got.records, got.read, [int(r[0]) for r in got.rows], got.numbers,
                          copy_text(got.rows, TAIL), got.rejects)


def by_columns(text: str, shape: Shape, validator: RowValidator) -> vector.Checked | None:
    return vector.check_chunk(text.encode(), ",", shape, validator, TAIL)


def chunk(records: list[list[str]], end: str = "\n") -> str:
    return "".join(",".join(r) + end for r in records)


PLAIN_SHAPE = Shape(tuple(range(len(COLUMNS))), len(COLUMNS))


def same(got: vector.Checked | None, expected: vector.Checked) -> None:
    assert got is not None
    assert (got.records, got.read, got.ids, got.numbers, got.rejects) == (
        expected.records, expected.read, expected.ids, expected.numbers, expected.rejects)
    assert got.copy.decode() == expected.copy.decode()


def test_clean_rows_are_decided_column_wise_and_encoded_as_copy_text_would() -> None:
    text = chunk(PEOPLE)
    got = by_columns(text, PLAIN_SHAPE, PLAIN)
    same(got, by_rows(text, PLAIN_SHAPE, PLAIN))
    assert got is not None and len(got.ids) == len(PEOPLE)
    crlf = by_columns(chunk(PEOPLE, "\r\n"), PLAIN_SHAPE, PLAIN)  # as Excel writes a CSV
    assert crlf is not None and crlf.copy == got.copy and crlf.by_columns == got.by_columns
    assert got.by_columns == len(PEOPLE) - 1  # all but the template's "+84 987 654 321" (normalised by check)


def test_columns_in_any_order_with_an_error_column() -> None:
    order = list(COLUMNS)
    random.Random(3).shuffle(order)
    header = [*order, ERROR_COLUMN]
    shape = Shape(tuple(column_order(header)), len(header))
    records = [[*(p[COLUMNS.index(c)] for c in order), "row 9: old reason"] for p in PEOPLE[:50]]
    text = chunk(records)
    got = by_columns(text, shape, PLAIN)
    same(got, by_rows(text, shape, PLAIN))
    assert got is not None and got.by_columns == 50


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=12), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_any_chunk_gets_what_the_row_by_row_path_gives(records: list[list[str]], quoted: bool, end: str) -> None:
    """Damaged values of every kind (spaces, non-NFC text, control characters, odd dates, phones and codes,
    too long, a delimiter or line break inside a value): without quotes a chunk goes through polars' CSV
    reader, with them (or a carriage return) through the csv module; the outcome is the row-by-row one."""
    if quoted:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=end).writerows(records)
        text = buffer.getvalue()
    else:
        text = chunk(records, end)
    text = text.replace("\x00", "")  # a file has no NUL (reading.check_utf8)
    got = by_columns(text, PLAIN_SHAPE, PLAIN)
    if got is None:  # only when a stray quote swallowed the chunk's end (the reader then reads on by rows)
        assert list(csv.reader(io.StringIO(text + "\x00\n", newline="")))[-1] != ["\x00"]
    else:
        same(got, by_rows(text, PLAIN_SHAPE, PLAIN))


def test_blank_lines_short_and_long_rows_are_counted_and_reported_as_before() -> None:
    good = [",".join(p) for p in PEOPLE[:6]]
    lines = [good[0], "", good[1], ",,,,,,,,,,,,", good[2] + ",extra", good[3] + ",", "only,three,fields",
             good[4], good[5]]
    text = "\n".join(lines) + "\n"
    got, expected = by_columns(text, PLAIN_SHAPE, PLAIN), by_rows(text, PLAIN_SHAPE, PLAIN)
    same(got, expected)
    assert expected.read == 7 and [n for n, _, _ in expected.rejects] == [5, 7]


def test_a_stray_quote_that_swallows_the_chunk_end_is_not_decided_here() -> None:
    text = chunk(PEOPLE[:3]).replace(PEOPLE[1][2], '"' + PEOPLE[1][2], 1)
    assert by_columns(text, PLAIN_SHAPE, PLAIN) is None  # the reader then reads on row by row


def test_the_safe_letters_are_vietnamese_letters_that_fold_to_ascii() -> None:
    vietnamese = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    for letter in vietnamese + vietnamese.upper():
        assert letter in vector.SAFE_TEXT, letter
        assert vector.SAFE_LETTERS.get(letter, letter.lower()) == fold(letter)
    assert "\\" not in vector.SAFE_TEXT and "\t" not in vector.SAFE_TEXT and "\u00a0" not in vector.SAFE_TEXT
    assert not {"\u0301", "ﬁ", "Ⅻ"} & vector.SAFE_TEXT  # combining marks and compatibility characters


def test_no_two_safe_characters_compose_or_fold_differently_side_by_side() -> None:
    """Why the column-wise path may test and fold a name character by character: every string of safe
    characters is NFC already and folds to the concatenation of its characters' folds."""
    safe = sorted(vector.SAFE_TEXT)
    for a in safe:
        pair = "".join(a + b for b in safe)
        assert unicodedata.is_normalized("NFC", pair), a
    for a in safe[::7]:
        for word in (a + b for b in safe if " " not in (a, b)):
            assert fold_name(word) == "".join(vector.SAFE_LETTERS.get(ch, ch) for ch in word).lower(), word


def test_today_bounds_the_date_of_birth_as_the_row_check_does() -> None:
    person = list(PEOPLE[0])
    born = f"{TODAY.year}-{TODAY.month:02d}-{TODAY.day:02d}"
    person[0] = person[0][:3] + ("2" if person[4] == "Nam" else "3") + f"{TODAY.year % 100:02d}" + person[0][6:]
    person[3] = born
    text = chunk([person])
    expected = by_rows(text, PLAIN_SHAPE, PLAIN)
    same(by_columns(text, PLAIN_SHAPE, PLAIN), expected)
    assert expected.ids == [int(person[0])]
    later = RowValidator(PLAIN.communes, today=TODAY.replace(year=TODAY.year - 1))
    same(by_columns(text, PLAIN_SHAPE, later), by_rows(text, PLAIN_SHAPE, later))


def test_a_field_longer_than_the_csv_module_takes_is_left_to_the_row_by_row_reader() -> None:
    person = list(PEOPLE[0])
    person[7] = "x" * (csv.field_size_limit() + 1)
    assert by_columns(chunk([PEOPLE[1], person]), PLAIN_SHAPE, PLAIN) is None  # which reports it malformed


def test_quoted_values_as_excel_writes_them_are_still_decided_column_wise() -> None:
    """A comma in an address makes Excel quote it (and end lines with \\r\\n): polars splits the chunk, the
    csv module re-reads the quoted lines; a line polars reads differently sends the chunk to the csv module."""
    records = [list(p) for p in PEOPLE]
    for r in records[::3]:
        r[7] = r[7] + ", tổ 5"
    records[4][2] = 'Nguyễn "Tí" Văn'  # doubled quotes inside quotes
    buffer = io.StringIO()
    csv.writer(buffer).writerows(records)  # \r\n
    text = buffer.getvalue()
    got = by_columns(text, PLAIN_SHAPE, PLAIN)
    same(got, by_rows(text, PLAIN_SHAPE, PLAIN))
    assert got is not None and got.by_columns == len(PEOPLE) - 1  # all but the template's +84 phone
    assert vector._split_quoted(text.encode(), ",", [f"f{i}" for i in range(13)]) is not None
    multi_line = text.replace(", tổ 5", ",\ntổ 5", 1)  # a line break inside quotes: one record, two lines
    assert vector._split_quoted(multi_line.encode(), ",", [f"f{i}" for i in range(13)]) is None
    same(by_columns(multi_line, PLAIN_SHAPE, PLAIN), by_rows(multi_line, PLAIN_SHAPE, PLAIN))

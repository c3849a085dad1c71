"""Checking a chunk of a register CSV column by column (polars), with the row-by-row check as the fallback.

A large CSV imported as a first load (bulkload.py) used to spend about 16 us of Python per row in
`csv.reader`, `RowValidator.check_fast` and `copy_text`. For a chunk with no quote character, and carriage
returns only before line feeds (Excel's line ends), a CSV record is exactly one line split at the
delimiter, so polars can split the chunk and check it as columns (Rust, outside the GIL, no per-row
Python). Only rows that pass a deliberately narrow test of "the usual clean row" are decided that way:
every value already in its stored form (no spaces to strip, single spaces, characters from `SAFE_TEXT`,
dates written YYYY-MM-DD or dd/mm/yyyy, a 10-digit phone). Every other row (any doubt, any error, a blank
line, a wrong field count) goes through `RowValidator.check_fast` as before, so a row gets the same outcome
either way; tests/registry/test_vector.py compares the two paths on clean and damaged rows. A chunk with
quotes is split by polars too, its quoted lines re-read by the csv module (`_split_quoted`); when they
disagree, or a carriage return is not a line end, the csv module splits the chunk.

`SAFE_TEXT` is the set of characters for which the column-wise fold gives `fold_name`'s result: printable
ASCII without the backslash (COPY's escape character) and the precomposed Latin letters (Vietnamese among
them) that Python's own Unicode data says are printable, NFC-stable, not combining, and fold to ASCII
letters. It is computed from `unicodedata` at import, not written out.
"""

from __future__ import annotations

import csv
import functools
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from dancu.core.text import fold
from dancu.registry.validation import (
    _BIRTH_CODES,
    _SEX,
    ADDRESS_MAX,
    COLUMNS,
    EARLIEST_DOB,
    HOUSEHOLD_ID_MAX,
    NAME_MAX,
    RELATION_MAX,
    RowValidator,
)

if TYPE_CHECKING:
    import polars as pl

    from dancu.registry.reading import Shape


def _safe_letters() -> dict[str, str]:
    """Non-ASCII letters of the Latin blocks that the column-wise path may take, each with its fold."""
    out = {}
    for block in ((0x00C0, 0x0250), (0x1E00, 0x1F00)):
        for code in range(*block):
            ch = chr(code)
            folded = fold(ch)
            if (ch.isprintable() and unicodedata.combining(ch) == 0 and unicodedata.is_normalized("NFC", ch)
                    and folded.isascii() and folded.isalpha() and ch.lower() != ch.upper()
                    and fold(ch.lower()) == folded.lower()):
                out[ch] = folded
    return out


SAFE_LETTERS: dict[str, str] = _safe_letters()
SAFE_TEXT = frozenset(chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\") | frozenset(SAFE_LETTERS)


def _char_class(chars: frozenset[str]) -> str:
    def esc(ch: str) -> str:
        return f"\\x{{{ord(ch):X}}}"

    codes = sorted(map(ord, chars))
    ranges, start = [], codes[0]
    for prev, code in zip(codes, [*codes[1:], -1], strict=True):
        if code != prev + 1:
            ranges.append(esc(chr(start)) if start == prev else f"{esc(chr(start))}-{esc(chr(prev))}")
            start = code
    return "[" + "".join(ranges) + "]"


_TEXT = "^" + _char_class(SAFE_TEXT) + "+$"
_DIGITS = {n: f"^[0-9]{{{n}}}$" for n in (9, 12)}
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DMY = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"
_PHONE = r"^0[0-9]{9}$"
_HOUSEHOLD = r"^[A-Za-z0-9-]+$"
# Spellings of the sex column the column-wise path takes (the others go to `check`).
_SEX_FORMS = {form: sex for key, sex in _SEX.items() for form in {key, key.upper(), key.capitalize()}}
_NULL = "\\N"
# A record no file has (a NUL: reading.check_utf8), put after a chunk read by the csv module: read as a record
# of its own, it shows the chunk ended between two records; read into a quoted field, that the cut was wrong.
END = ["\x00"]
_BIRTH_LIST = tuple(sorted(_BIRTH_CODES))

FIELDS = COLUMNS  # the frame's column names


@dataclass(slots=True)
class Checked:
    """A chunk's outcome: what `reading.sort_rows` plus `copy_text` would give, in the importer's terms."""

    records: int
    read: int
    ids: list[int]  # national IDs of the valid rows, in file order
    numbers: list[int]  # their record numbers in the chunk, from 1
    copy: bytes  # the valid rows as COPY text lines, in the same order
    rejects: list[tuple[int, list[str], str]]
    by_columns: int = 0  # rows decided column-wise (the others by `RowValidator.check_fast`)


def _plain(col: pl.Expr, limit: int) -> pl.Expr:
    """The value is as `validation._plain` keeps it after stripping it, non-empty (a narrower test: safe
    characters only, and no space to strip)."""
    return (col.str.contains(_TEXT) & ~col.str.contains("  ", literal=True) & ~col.str.starts_with(" ")
            & ~col.str.ends_with(" ") & (col.str.len_chars() <= limit))


def check_chunk(data: bytes, delimiter: str, shape: Shape, validator: RowValidator, tail: str) -> Checked | None:
    """The records of a chunk of a CSV (UTF-8, from the start of a record, ending with a line end, numbered
    from 1), checked and COPY-encoded; None when the chunk did not end between two records or the csv module
    gave up on one (the caller then reads on row by row, where the error gets its row number). `shape`: where
    the file's columns are."""
    import polars as pl

    fields = shape.fields
    names = [f"f{i}" for i in range(fields)]
    split: pl.DataFrame | None = None
    if data.count(b"\r") == data.count(b"\r\n"):  # carriage returns only in line ends
        split = _split_plain(data, delimiter, names) if b'"' not in data else _split_quoted(data, delimiter, names)
    if split is not None:
        fixed = split
        picked = fixed.select(pl.col(names[i]).alias(f) for f, i in zip(FIELDS, shape.order, strict=True))
        return check_frame(picked, lambda i: list(fixed.row(i)), shape, validator, tail)
    records = []
    try:
        text = io.StringIO(data.decode("utf-8") + END[0] + "\n", newline="")
        for raw in csv.reader(text, delimiter=delimiter):
            if raw == END:
                break
            records.append(raw)
        else:
            return None  # END was read into a quoted field: the cut was not between two records
    except csv.Error:
        return None
    blank = [""] * fields
    columns = list(zip(*(r if len(r) == fields else blank for r in records), strict=True)) or [()] * fields
    frame = pl.DataFrame({f: pl.Series(columns[i], dtype=pl.String) for f, i in zip(FIELDS, shape.order, strict=True)})
    return check_frame(frame, records.__getitem__, shape, validator, tail)


def _read(data: bytes, delimiter: str, names: list[str], quote: str | None) -> pl.DataFrame | None:
    """polars' split of a chunk into `names` string columns, or None where it differs from the csv module's
    for sure: an error (a line with more fields), or a field longer than the csv module takes (its error to
    report, with the row number)."""
    import polars as pl

    try:
        split = pl.read_csv(data, has_header=False, new_columns=names, quote_char=quote, separator=delimiter,
                            schema=dict.fromkeys(names, pl.String), empty_string_is_null=False,
                            raise_if_empty=False)
    except pl.exceptions.PolarsError:
        return None
    if split.height and max(split.select(pl.all().str.len_chars().max()).row(0)) > csv.field_size_limit():
        return None
    return split


def _split_plain(data: bytes, delimiter: str, names: list[str]) -> pl.DataFrame | None:
    """A chunk without quotes: a record is a line, split at every delimiter (polars drops the \r of a \r\n).
    polars pads a short line and refuses a long one, so the delimiter count makes sure every line has
    exactly as many fields as the header."""
    lines = data.count(b"\n")
    if data.count(delimiter.encode()) != lines * (len(names) - 1):
        return None
    split = _read(data, delimiter, names, None)
    return split if split is not None and split.height == lines else None


def _split_quoted(data: bytes, delimiter: str, names: list[str]) -> pl.DataFrame | None:
    """A chunk with quotes (Excel quotes every value with a comma): polars splits it by RFC 4180, and every
    line with a quote is read again by the csv module, which must find that same record on that line alone
    (a line break inside quotes, a stray quote or a doubled one read differently: None). The other lines
    need exactly as many fields as the header."""
    import polars as pl

    lines = data.decode("utf-8").split("\n")
    lines.pop()  # (the chunk ends with a line end)
    quoted = [i for i, line in enumerate(lines) if '"' in line]
    unquoted = pl.Series([lines[i] for i in range(len(lines)) if '"' not in lines[i]], dtype=pl.String)
    if len(unquoted) and (unquoted.str.count_matches(delimiter, literal=True) != len(names) - 1).any():
        return None
    split = _read(data, delimiter, names, '"')
    if split is None or split.height != len(lines):
        return None
    try:
        for i in quoted:
            records = list(csv.reader([lines[i]], delimiter=delimiter))
            if len(records) != 1 or records[0] != list(split.row(i)):
                return None
    except csv.Error:
        return None
    return split


@functools.lru_cache(maxsize=4)
def _expressions(communes: frozenset[str], today: date, tail: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The usual-row test, the COPY line (ending with `tail`, without the line end) and the national ID as an
    integer, for `check_frame` (built once per import: polars then compiles the regular expressions and
    the commune set once per chunk)."""
    import polars as pl

    c = {name: pl.col(name) for name in FIELDS}
    nid, dob_s, sex_s = c["id"], c["dob"], c["sex"]
    punit, cunit, paddr, caddr = c["permanent_unit"], c["current_unit"], c["permanent_address"], c["current_address"]
    rel, hh, phone, old_id = c["household_relation"], c["household_id"], c["phone"], c["old_id"]
    dob = (pl.when(dob_s.str.contains(_ISO)).then(dob_s.str.to_date("%Y-%m-%d", strict=False))
           .when(dob_s.str.contains(_DMY)).then(dob_s.str.to_date("%d/%m/%Y", strict=False)))
    sex = sex_s.replace_strict(_SEX_FORMS, default=None, return_dtype=pl.String)
    century = nid.str.slice(3, 1).cast(pl.Int32, strict=False)
    id_year = 1900 + 100 * (century // 2) + nid.str.slice(4, 2).cast(pl.Int32, strict=False)
    id_sex = pl.when(century % 2 == 0).then(pl.lit("M")).otherwise(pl.lit("F"))
    known = pl.Series(sorted(communes), dtype=pl.String).implode()
    cunit_eff = pl.when(cunit == "").then(punit).otherwise(cunit)
    caddr_eff = (pl.when(caddr == "").then(pl.when(cunit_eff == punit).then(paddr))
                 .when(caddr == paddr).then(paddr)
                 .when(_plain(caddr, ADDRESS_MAX)).then(caddr))
    usual = (
        nid.str.contains(_DIGITS[12]) & nid.str.slice(0, 3).is_in(pl.Series(_BIRTH_LIST, dtype=pl.String).implode())
        & dob.is_between(pl.lit(EARLIEST_DOB), pl.lit(today)).fill_null(False)
        & sex.is_not_null() & (id_year == dob.dt.year()) & (id_sex == sex)
        & ((c["birth_province"] == "") | (c["birth_province"] == nid.str.slice(0, 3)))
        & punit.is_in(known) & ((cunit == "") | cunit.is_in(known))
        & _plain(c["full_name"], NAME_MAX) & _plain(paddr, ADDRESS_MAX) & caddr_eff.is_not_null()
        & ((rel == "") | _plain(rel, RELATION_MAX))
        & ((old_id == "") | old_id.str.contains(_DIGITS[9]))
        & ((hh == "") | (hh.str.contains(_HOUSEHOLD) & hh.str.contains("[A-Za-z0-9]")
                         & (hh.str.len_bytes() <= HOUSEHOLD_ID_MAX)))
        & ((phone == "") | phone.str.contains(_PHONE))
    ).fill_null(False)

    def nullable(col: pl.Expr) -> pl.Expr:
        return pl.when(col == "").then(pl.lit(_NULL)).otherwise(col)

    search = c["full_name"].str.replace_many(list(SAFE_LETTERS), list(SAFE_LETTERS.values())).str.to_lowercase()
    line = pl.concat_str([
        nid, nullable(old_id), c["full_name"], search, dob.dt.to_string("%Y-%m-%d"), sex, nid.str.slice(0, 3),
        punit, paddr, cunit_eff, caddr_eff, nullable(hh), nullable(rel), nullable(phone),
    ], separator="\t") + pl.lit(tail)
    return usual, line, nid.cast(pl.Int64, strict=False)


def check_frame(frame: pl.DataFrame, raw: Callable[[int], list[str]], shape: Shape, validator: RowValidator,
                tail: str) -> Checked:
    """`frame`: a chunk's records as `FIELDS` columns (a record without exactly `shape.fields` fields as empty
    strings); `raw(i)`: record i as the csv module reads it, for the rows decided row by row — by
    `reading.sort_rows` itself, one record at a time."""
    import polars as pl

    from dancu.registry.bulkload import copy_text
    from dancu.registry.reading import sort_rows

    n = frame.height
    if n == 0:
        return Checked(0, 0, [], [], b"", [])
    usual, line, national_id = _expressions(validator.communes, validator.today, tail.removesuffix("\n"))
    ok = pl.col("usual")
    out = frame.with_columns(usual.alias("usual")).select(
        ok, pl.when(ok).then(line).alias("copy"), pl.when(ok).then(national_id).alias("nid"))
    copy, ids = out.get_column("copy"), out.get_column("nid")
    rejects: list[tuple[int, list[str], str]] = []
    read = n
    unusual = out.get_column("usual").not_().arg_true().to_list()
    if unusual:
        fixed_at, fixed_lines, fixed_ids = [], [], []
        for i in unusual:
            got = sort_rows([raw(i)], validator.check_fast, shape, i + 1, False)
            read -= 1 - got.read  # a blank record is not a row
            rejects.extend(got.rejects)
            if got.rows:
                fixed_at.append(i)
                fixed_lines.append(copy_text(got.rows, tail).decode().removesuffix("\n"))
                fixed_ids.append(int(got.rows[0][0]))
        if fixed_at:
            copy = copy.scatter(fixed_at, fixed_lines)
            ids = ids.scatter(fixed_at, fixed_ids)
    kept = copy.is_not_null()
    numbers = pl.int_range(1, n + 1, eager=True).filter(kept).to_list()
    data = b""
    if numbers:
        buffer = io.BytesIO()
        pl.DataFrame({"copy": copy.filter(kept)}).write_csv(buffer, include_header=False, quote_style="never")
        data = buffer.getvalue()
    return Checked(n, read, ids.filter(kept).to_list(), numbers, data, rejects, n - len(unusual))


__all__ = ["SAFE_LETTERS", "SAFE_TEXT", "Checked", "check_chunk", "check_frame"]

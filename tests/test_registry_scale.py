"""What the registry's compact, streamed reading must keep exactly: the rows as the old list of (row number,
{column: value}), a bad byte named at its offset in the file (not in the decoder's last chunk), and the parsed
rows with RegistryRow's values."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest
from pydantic import ValidationError

from curator.checks import registry
from curator.io import registry as registry_io
from curator.io.registry import RegistryReadError, Rows, read_registry
from curator.models.registry import REGISTRY_COLUMNS, RegistryRecord, RegistryRow
from curator.validate import read_registries
from tests.check_facts import gather_facts
from tests.memory import traced

COLUMNS = list(REGISTRY_COLUMNS)


def _line(study_id: int) -> str:
    return f"{study_id},CT-1,/studies/CT-1/study_{study_id:04d}.nii.gz,/masks/study_{study_id:04d}_mask.nii.gz\r\n"


def test_csv_rows_read_like_a_list_of_numbered_dicts(tmp_path: Path) -> None:
    path = tmp_path / "dataset_registry.csv"
    text = ("\ufeffstudy_id,category,study_file,mask_file,\r\n" + _line(1)
            + '2,"CT-\r\n2",/studies/CT-2/study_0002.nii.gz,\r\n'    # a quoted field across lines
            + ",,,\r\n" + "3,CT-0,/studies/CT-0/study_0003.nii.gz\r\n" + ",,,\r\n,,,\r\n")
    path.write_bytes(text.encode("utf-8"))
    table = read_registry(path, COLUMNS)
    expected = [
        (2, {"study_id": "1", "category": "CT-1", "study_file": "/studies/CT-1/study_0001.nii.gz",
             "mask_file": "/masks/study_0001_mask.nii.gz"}),
        (3, {"study_id": "2", "category": "CT-\r\n2", "study_file": "/studies/CT-2/study_0002.nii.gz",
             "mask_file": None}),
        (5, {"study_id": "3", "category": "CT-0", "study_file": "/studies/CT-0/study_0003.nii.gz",
             "mask_file": None}),   # a short row: the missing cell is None
    ]
    assert table.header == COLUMNS    # numbers count records (as before), not lines
    assert list(table.rows) == expected
    assert len(table.rows) == 3
    assert table.rows[-1] == expected[-1]
    assert table.rows[1:] == expected[1:]
    assert table.rows == expected


def test_a_bad_byte_deep_in_a_csv_registry_is_named_at_its_offset_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dataset_registry.csv"
    head = ("study_id,category,study_file,mask_file\r\n" + "".join(_line(n) for n in range(1, 3001))).encode()
    assert len(head) > 200_000    # far past the text decoder's chunks
    path.write_bytes(head + b"3001,CT-\xff1,/studies/CT-1/study_3001.nii.gz,\r\n")
    with pytest.raises(RegistryReadError) as raised:
        read_registry(path, COLUMNS)
    assert str(raised.value) == f"not UTF-8 text (invalid start byte at byte {len(head) + 8})"


def test_the_parsed_rows_are_compact_records_with_the_schema_values(release: Path) -> None:
    facts = gather_facts(release)
    assert facts.registry is not None
    number, record = facts.rows[0]
    raw = facts.registry.rows[0][1]
    assert type(record) is RegistryRecord
    assert (number, record) == (2, RegistryRecord.of(RegistryRow.model_validate(raw)))
    assert type(record.study_id) is int      # validated: the CSV's text "1" or the workbook's 1.0 became 1
    assert len(facts.rows) == len(facts.registry.rows) == 8
    assert registry.category_counts(facts.rows) == {"CT-0": 2, "CT-1": 3, "CT-2": 1, "CT-3": 1, "CT-4": 1}


def _csv_registry(root: Path, lines: list[str]) -> Path:
    root.mkdir(exist_ok=True)
    path = root / "dataset_registry.csv"
    path.write_text("study_id,category,study_file,mask_file\r\n" + "".join(f"{line}\r\n" for line in lines),
                    encoding="utf-8")
    return path


# rows the quick path must leave to RegistryRow (which accepts some, rejects others) or accept exactly as it would
TRICKY = [
    "5,CT-1,/studies/CT-1/study_0005.nii.gz,",                  # the common form: quick path
    "0006,CT-1,/studies/CT-1/study_0006.nii.gz,",              # leading zero: the model decides
    "+7,CT-1,/studies/CT-1/study_0007.nii.gz,",
    "8.0,CT-1,/studies/CT-1/study_0008.nii.gz,",
    "1000000,CT-1,/studies/CT-1/study_1000000.nii.gz,",        # above le=999999
    "0,CT-1,/studies/CT-1/study_0000.nii.gz,",                 # below ge=1
    "9,CT 1,/studies/CT-1/study_0009.nii.gz,",                 # category pattern
    "10,-CT,/studies/CT-1/study_0010.nii.gz,",
    "11," + "C" * 33 + ",/studies/CT-1/study_0011.nii.gz,",    # category too long
    "12,CT-1,studies/CT-1/study_0012.nii.gz,",                 # no leading slash
    "13,CT-1,/,",                                              # a slash alone
    "14,CT-1,/" + "a" * 200 + ",",                             # path too long
    "15,CT-1,/studies/CT-1/study_0015.nii.gz,masks/study_0015_mask.nii.gz",
    "16,CT-1,/studies/CT-1/study_0016.nii.gz,/masks/study_0016_mask.nii.gz",
    "17,CT-1,/studies/CT-1/study_0017.nii.gz,/masks/study_0017_mask.nii.gz,extra",
    "١٨,CT-1,/studies/CT-1/study_0018.nii.gz,",                # Arabic-Indic digits: isdigit, not ASCII
    ",CT-1,/studies/CT-1/study_0019.nii.gz,",                  # no id
    "20,,/studies/CT-1/study_0020.nii.gz,",
    "21,CT-1,/stüdies/CT-1/study_0021.nii.gz,",                # non-ASCII path: the pattern decides, not the quick path
]

ROWS_THE_MODEL_ACCEPTS = [2, 3, 4, 5, 15, 16, 20]   # 0006, +7 and 8.0 too; an extra cell is ignored


def test_the_quick_schema_path_keeps_the_models_records_and_messages(tmp_path: Path) -> None:
    """Rows are judged without building RegistryRow when they are certainly valid; every row must still come out
    exactly as the model judges it: the same record, or the same REGISTRY_ROW_INVALID reasons."""
    _csv_registry(tmp_path, TRICKY)
    facts = gather_facts(tmp_path)
    assert facts.registry is not None
    expected_rows, expected_reasons = [], []
    for number, raw in facts.registry.rows:
        try:
            expected_rows.append((number, RegistryRecord.of(RegistryRow.model_validate(
                {k: raw.get(k) for k in COLUMNS}))))
        except ValidationError as error:
            expected_reasons += [(number, field, f"{item['msg']} (found {raw.get(field)!r})")
                                 for item in error.errors() for field in [str(item["loc"][0])]]
    assert list(facts.rows) == expected_rows
    assert [n for n, _ in expected_rows] == ROWS_THE_MODEL_ACCEPTS
    reasons = [(f.context["row"], f.context["field"], f.context["reason"]) for f in registry.check(facts)
               if f.code == "REGISTRY_ROW_INVALID" and f.study_id is None]     # the schema's, not the profile's
    assert reasons == expected_reasons
    assert len(reasons) == 12


def test_duplicate_ids_are_named_with_their_rows_in_the_order_first_seen(tmp_path: Path) -> None:
    lines = [_line(n).rstrip("\r\n") for n in (7, 3, 7, 5, 3, 7, 9)]
    _csv_registry(tmp_path, lines)
    found = [(f.study_id, f.context["rows"]) for f in registry.check(gather_facts(tmp_path))
             if f.code == "REGISTRY_DUPLICATE_ID"]
    assert found == [(7, [2, 4, 7]), (3, [3, 6])]
    # an id that is no plain integer anywhere in the table takes the general way, with the same answer
    _csv_registry(tmp_path, [*lines, "abc,CT-1,/studies/CT-1/study_0011.nii.gz,"])
    found = [(f.study_id, f.context["rows"]) for f in registry.check(gather_facts(tmp_path))
             if f.code == "REGISTRY_DUPLICATE_ID"]
    assert found == [(7, [2, 4, 7]), (3, [3, 6])]


def test_the_compact_cells_come_back_as_they_went_in() -> None:
    when = dt.datetime(2024, 5, 1, 12, 30)
    values = [None, "", "CT-1", "é/ü/文字", "x" * 100_000, 0, -5, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 1.5,
              True, False, when, "\ud800"]
    table = Rows(["cell"])
    for number, value in enumerate(values, start=2):
        table.append((number, {"cell": value}))
    back = [raw["cell"] for _, raw in table]
    assert back == values
    assert [type(v) for v in back] == [type(v) for v in values]     # True stays a bool, not the int 1
    assert [n for n, _ in table] == list(range(2, 2 + len(values)))


def test_a_large_registry_is_held_in_a_few_hundred_bytes_a_row(tmp_path: Path) -> None:
    """The table and the parsed rows of a 50,000-row registry, as validate keeps them, traced by tracemalloc:
    141 bytes a row measured (the cell texts, 9 bytes a cell, 16 a valid row); a tuple of str objects per row and a
    record per valid row took 458."""
    rows = 50_000
    _csv_registry(tmp_path, [_line(n).rstrip("\r\n") for n in range(1, rows + 1)])
    facts = gather_facts(tmp_path)        # warms what the reading imports and caches
    # sys.intern's own table is the interpreter's: when earlier tests filled it, it may double inside this window
    # (7.5 MB at once after the remote tests); that resize is not the registry's and is left out
    intern_line = next(number for number, line in enumerate(Path(registry_io.__file__).read_text().splitlines(), 1)
                       if "sys.intern(" in line)
    with traced(snapshots=True) as memory:
        read_registries(facts)
    before, after = memory.before, memory.after
    assert before is not None and after is not None
    keep = [tracemalloc.Filter(False, registry_io.__file__, lineno=intern_line)]
    held = sum(stat.size_diff for stat in after.filter_traces(keep).compare_to(before.filter_traces(keep), "lineno"))
    assert len(facts.rows) == rows
    assert held / rows < 250, held / rows

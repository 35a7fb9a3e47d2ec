"""What the registry's compact, streamed reading must keep exactly: the rows as the old list of (row number,
{column: value}), a bad byte named at its offset in the file (not in the decoder's last chunk), and the parsed
rows with RegistryRow's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.checks import registry
from curator.io.registry import RegistryReadError, read_registry
from curator.models.registry import REGISTRY_COLUMNS, RegistryRecord, RegistryRow
from tests.check_facts import gather_facts

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

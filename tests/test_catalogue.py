"""The rule catalogue: data with a metaschema, in step with the checks, listed by `curator rules`."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curator.catalogue import CatalogueError, catalogue, load_catalogue
from curator.checks.all_checks import CODES
from curator.cli.main import main
from curator.resources import schema_dir

DESIGN = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"


def test_every_active_code_is_emitted_by_a_check_and_every_emitted_code_is_catalogued() -> None:
    active = {code for code, rule in catalogue().items() if rule.status == "active"}
    assert active == set(CODES)


def test_check_modules_only_emit_declared_codes() -> None:
    """A static look at each check module: every make_finding("CODE", ...) names a declared code."""
    from curator.checks import listing
    from curator.checks.all_checks import CHECK_MODULES

    helpers = {"curator.checks.manifest": [listing]}   # plain records that the check turns into findings
    for module in CHECK_MODULES:
        source = "".join(Path(m.__file__ or "").read_text(encoding="utf-8")
                         for m in [module, *helpers.get(module.__name__, [])])
        used = set(re.findall(r'(?:make_finding|finding_at|Problem)\(\s*"([A-Z_]+)"', source))
        assert used <= set(module.CODES), (module.__name__, used - set(module.CODES))
        assert used == set(module.CODES), (module.__name__, set(module.CODES) - used)


def test_codes_required_by_the_design_exist_with_their_levels() -> None:
    if not DESIGN.is_file():
        pytest.skip("DESIGN.md not beside the checkout")
    table = re.findall(r"^\| ([A-Z][A-Z_]+) \| (error|warning|info) \|", DESIGN.read_text(encoding="utf-8"), re.M)
    assert len(table) >= 30
    rules = catalogue()
    for code, level in table:
        assert code in rules, code
        assert rules[code].level.value == level, code


def test_messages_use_only_their_declared_placeholders_in_both_languages() -> None:
    for code, rule in catalogue().items():
        for lang in ("en", "ru"):
            names = {field for _, field, _, _ in string.Formatter().parse(rule.message[lang]) if field}
            assert names == set(rule.placeholders), (code, lang)
            for name, variant in rule.variants.items():
                used = {field for _, field, _, _ in string.Formatter().parse(variant.message[lang]) if field}
                assert used == set(variant.placeholders), (code, name, lang)


def test_a_broken_rule_file_is_rejected_by_the_metaschema(tmp_path: Path) -> None:
    for path in (schema_dir() / "rules").iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    broken = yaml.safe_load((tmp_path / "manifest.yaml").read_text(encoding="utf-8"))
    broken["MANIFEST_MISSING"]["level"] = "fatal"
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    with pytest.raises(CatalogueError, match="MANIFEST_MISSING"):
        load_catalogue(tmp_path)


def test_a_code_defined_twice_is_rejected(tmp_path: Path) -> None:
    for path in (schema_dir() / "rules").iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "zz_copy.yaml").write_bytes((tmp_path / "manifest.yaml").read_bytes())
    with pytest.raises(CatalogueError, match="defined twice"):
        load_catalogue(tmp_path)


def test_rules_command_lists_the_catalogue_as_text_and_json() -> None:
    runner = CliRunner()
    text = runner.invoke(main, ["rules"])
    assert text.exit_code == 0
    assert "MASK_VALUES_UNEXPECTED" in text.output
    # every code of DESIGN.md is implemented by now; a code reserved for later still shows as [planned]
    from curator.render.rules import rules_text

    reserved = catalogue()["ARCHIVE_BOMB"].model_copy(update={"status": "planned"})
    assert "[planned]" in rules_text({"ARCHIVE_BOMB": reserved})
    assert re.search(r"^FILE_MISSING\s+error\s", text.output, re.M)
    data = json.loads(runner.invoke(main, ["rules", "--format", "json"]).output)
    by_code = {rule["code"]: rule for rule in data}
    assert by_code["CHECKSUM_MISMATCH"]["status"] == "active"
    assert by_code["PHI_DICOM_PRIVATE"]["status"] == "active"
    assert set(by_code["FILE_MISSING"]["message"]) >= {"en", "ru"}

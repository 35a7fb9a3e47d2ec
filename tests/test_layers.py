"""The layer order of DESIGN.md, checked by reading every import in curator/ (an ast walk, no import runs).

Layers, lowest first: a module may import its own unit and any unit of a lower layer, never a higher one.
Units of one layer may import each other, but no two units may import each other (no cycles).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "curator"

# unit (first name below curator) -> layer; `curator` is the package's own __init__ (the version)
LAYERS: dict[str, int] = {
    "curator": 0, "resources": 0, "errors": 0, "rule_texts": 0, "executor": 0, "executor_dask": 0,
    "outputs": 0, "escaping": 0, "wording": 0, "gc_pauses": 0, "memo": 0,
    "models": 1, "catalogue": 1, "label_schemes": 1,
    "io": 2, "profiles": 2, "config": 2,
    "checks": 3, "root_and_hashes": 3, "remote_release": 3,
    "validate": 4, "report_closing": 4, "verify": 4, "release": 4, "ingest": 4, "anonymise": 4, "diff": 4,
    "fetch": 4, "dicom_judging": 4,
    "phantom": 5, "render": 5, "review": 5, "demo": 5, "publish": 5,
    "cli": 6, "__main__": 6,
}



def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "curator"


def _imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        package = list(parts if path.name == "__init__.py" else parts[:-1])
        if path.name == "__init__.py":
            parts = parts[:-1]
        source = _unit(".".join(parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                targets = [".".join([*base, *([node.module] if node.module else [])])]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            edges[source].update(_unit(t) for t in targets if t == "curator" or t.startswith("curator."))
    return edges


def test_every_unit_has_a_layer() -> None:
    units = {_unit(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in PACKAGE.glob("*.py")}
    units |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    units.discard("__init__")
    assert units <= set(LAYERS), sorted(units - set(LAYERS))


def test_no_import_goes_up_the_layers() -> None:
    upward = {(source, target) for source, targets in _imports().items() for target in targets
              if LAYERS[target] > LAYERS[source]}
    assert upward == set(), "imports against the layer order"


def test_no_two_units_of_one_layer_import_each_other() -> None:
    edges = _imports()
    cycles = {frozenset({a, b}) for a, targets in edges.items() for b in targets
              if a != b and LAYERS[a] == LAYERS[b] and a in edges.get(b, set())}
    assert cycles == set()

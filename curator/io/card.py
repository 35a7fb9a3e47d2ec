"""Read ``dataset.yaml`` into a :class:`DatasetCard`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from curator.io import ReadError
from curator.io.regular import read_regular_text
from curator.models.card import DatasetCard, consistency_problems


class CardError(ReadError):
    """The card cannot be used; ``problems`` lists every reason (all at once, not one per run)."""

    def __init__(self, message: str, problems: list[str] | None = None, data: dict[str, object] | None = None):
        super().__init__(message)
        self.problems = problems or [message]
        self.data = data or {}     # the card's raw fields, when it parsed as a mapping


def card_problems(error: ValidationError, data: object) -> list[str]:
    """Every problem of a card: each field that fails, then each rule across fields (those pydantic checks only
    once every field passes, so they are checked here on the raw mapping as well)."""
    problems = []
    for item in error.errors():
        if item["type"] == "value_error" and not item["loc"]:
            continue   # the cross-field rules, joined in one message: listed one by one below
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        problems.append(f"{where}: {item['msg']}")
    problems += [p for p in consistency_problems(data) if p not in problems]
    return problems


def describe_validation_error(error: ValidationError, limit: int = 8) -> str:
    """Pydantic errors as 'where: what' lines a curator can act on."""
    lines = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
    more = len(error.errors()) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "; ".join(lines)


def load_card(path: Path) -> DatasetCard:
    try:
        text = read_regular_text(path)
    except FileNotFoundError as error:
        raise CardError(f"{path} does not exist; a source needs a dataset card (dataset.yaml)") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CardError(f"cannot read {path} ({error})") from error
    return card_from_text(text, path)


def card_from_text(text: str, path: Path | str) -> DatasetCard:
    """The card in ``text`` (read from ``path``, which names it in errors)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CardError(f"{path} is not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise CardError(f"{path} must hold a mapping of fields, found {type(data).__name__}")
    try:
        return DatasetCard.model_validate(data)
    except ValidationError as error:
        problems = card_problems(error, data)
        count = f"{len(problems)} problems" if len(problems) != 1 else "1 problem"
        raise CardError(f"{path} is not a valid dataset card ({count}): {'; '.join(problems)}", problems,
                        data) from error

"""Read ``dataset.yaml`` into a :class:`DatasetCard`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from curator.io import ReadError
from curator.io.regular import read_regular_text
from curator.models.card import DatasetCard


class CardError(ReadError):
    pass


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
        data = yaml.safe_load(read_regular_text(path))
    except FileNotFoundError as error:
        raise CardError(f"{path} does not exist; a source needs a dataset card (dataset.yaml)") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CardError(f"cannot read {path} ({error})") from error
    except yaml.YAMLError as error:
        raise CardError(f"{path} is not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise CardError(f"{path} must hold a mapping of fields, found {type(data).__name__}")
    try:
        return DatasetCard.model_validate(data)
    except ValidationError as error:
        raise CardError(f"{path} is not a valid dataset card: {describe_validation_error(error)}") from error

"""Find and read a release's validation settings: ``curator.toml`` or ``[tool.curator]`` in ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from curator.errors import OptionsError
from curator.io.card import describe_validation_error
from curator.io.regular import read_regular_text
from curator.models.config import ValidationConfig

CONFIG_NAME = "curator.toml"


def find_config(root: Path) -> Path | None:
    for candidate in (root / CONFIG_NAME, root / "pyproject.toml"):
        if not candidate.is_file() or candidate.is_symlink():
            continue
        if candidate.name == CONFIG_NAME or "[tool.curator" in read_regular_text(candidate, errors="replace"):
            return candidate
    return None


def load_config(path: Path) -> ValidationConfig:
    """Read the settings; anything wrong (syntax, an unknown key, a bad value) is a usage error naming it."""
    try:
        data = tomllib.loads(read_regular_text(path))
    except (OSError, UnicodeDecodeError) as error:
        raise OptionsError(f"cannot read {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise OptionsError(f"{path} is not valid TOML: {error}") from error
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("curator", {})
    try:
        return ValidationConfig.model_validate(data)
    except ValidationError as error:
        raise OptionsError(f"{path}: {describe_validation_error(error)}") from error

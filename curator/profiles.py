"""Dataset layout profiles: loading them and recognising which one a folder follows."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from curator.errors import ProfileError
from curator.models.profile import Profile
from curator.resources import schema_dir

__all__ = ["ProfileError", "detect_profile", "get_profile", "load_profiles"]


@cache
def load_profiles() -> dict[str, Profile]:
    profiles = {}
    for path in sorted((schema_dir() / "profiles").glob("*.yaml")):
        profile = Profile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        profiles[profile.name] = profile
    return profiles


def get_profile(name: str) -> Profile:
    profiles = load_profiles()
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(sorted(profiles))}")
    return profiles[name]


def _exists(root: Path, item: str) -> bool:
    target = root / item.rstrip("/")
    return target.is_dir() if item.endswith("/") else target.is_file()


def detect_profile(root: Path) -> Profile | None:
    """The first profile whose detection rules the folder satisfies, or None."""
    for profile in load_profiles().values():
        rules = profile.detect
        if not rules.all_of and not rules.any_of and not rules.any_glob:
            continue
        if not all(_exists(root, item) for item in rules.all_of):
            continue
        if rules.any_of and not any(_exists(root, item) for item in rules.any_of):
            continue
        if rules.any_glob and not any(next(root.glob(pattern), None) for pattern in rules.any_glob):
            continue
        return profile
    return None

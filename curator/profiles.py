"""Dataset layout profiles: loading them and recognising which one a folder follows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
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


def detect_profile_in(kinds: Mapping[str, str]) -> Profile | None:
    """:func:`detect_profile` over a listing, path -> "file" or "dir" (a release in object storage)."""
    def exists(item: str) -> bool:
        return kinds.get(item.rstrip("/")) == ("dir" if item.endswith("/") else "file")

    def globbed(pattern: str) -> bool:
        depth = pattern.count("/")
        return any(path.count("/") == depth and fnmatchcase(path, pattern) for path in kinds)

    return _detect(exists, globbed)


def detect_profile(root: Path) -> Profile | None:
    """The first profile whose detection rules the folder satisfies, or None."""
    return _detect(lambda item: _exists(root, item), lambda pattern: next(root.glob(pattern), None) is not None)


def _detect(exists: Callable[[str], bool], globbed: Callable[[str], bool]) -> Profile | None:
    for profile in load_profiles().values():
        rules = profile.detect
        if not rules.all_of and not rules.any_of and not rules.any_glob:
            continue
        if not all(exists(item) for item in rules.all_of):
            continue
        if rules.any_of and not any(exists(item) for item in rules.any_of):
            continue
        if rules.any_glob and not any(globbed(pattern) for pattern in rules.any_glob):
            continue
        return profile
    return None

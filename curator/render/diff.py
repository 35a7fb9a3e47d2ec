"""A release diff as text, JSON, or a Markdown changelog section."""

from __future__ import annotations

from curator.diff import ReleaseDiff
from curator.escaping import display, json_text, markdown_text


def diff_json(diff: ReleaseDiff) -> str:
    return json_text(diff.as_dict()) + "\n"


def _describe(change_kind: str, detail: dict[str, object]) -> str:
    if change_kind == "mask changed":
        return (f"mask changed: Dice {detail.get('dice')}, {detail.get('old_voxels')} -> "
                f"{detail.get('new_voxels')} voxels")
    if change_kind == "repackaged":
        return "repackaged (same voxels and geometry)"
    return change_kind


def _rows(key: str, ids: list[int], limit: int | None = None) -> str:
    """ "1 row added (study_id 2)", "3 rows changed (study_ids 4, 5, 9)": a count, then the ids it is made of."""
    shown = ids if limit is None else ids[:limit]
    more = " ..." if len(shown) < len(ids) else ""
    plural = "s" if len(ids) != 1 else ""
    return f"{len(ids)} row{plural} {key} (study_id{plural} {', '.join(map(str, shown))}{more})"


def diff_text(diff: ReleaseDiff) -> str:
    lines = [f"diff {display(str(diff.old))} -> {display(str(diff.new))}"]
    lines += [f"  added    {display(p)}" for p in diff.added]
    lines += [f"  removed  {display(p)}" for p in diff.removed]
    lines += [f"  changed  {display(c.path)}: {_describe(c.kind, c.detail)}" for c in diff.changed]
    for key, ids in diff.registry.items():
        lines.append(f"  registry: {_rows(key, ids, 20)}")
    lines.append(f"semver: {diff.bump} ({len(diff.added)} added, {len(diff.removed)} removed, "
                 f"{len(diff.changed)} changed)")
    return "\n".join(lines) + "\n"


def diff_markdown(diff: ReleaseDiff, version: str = "Unreleased") -> str:
    lines = [f"## {version}", "", f"Suggested version bump: **{diff.bump}**.", ""]
    sections = (
        ("Added", [markdown_text(p) for p in diff.added]),
        ("Removed", [markdown_text(p) for p in diff.removed]),
        ("Changed", [f"{markdown_text(c.path)}: {_describe(c.kind, c.detail)}" for c in diff.changed]),
        ("Registry", [_rows(key, ids) for key, ids in diff.registry.items()]),
    )
    for title, items in sections:
        if items:
            lines += [f"### {title}", "", *[f"- {item}" for item in items], ""]
    return "\n".join(lines)

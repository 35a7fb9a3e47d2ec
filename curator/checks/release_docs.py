"""The release's words: the LICENSE is the declared licence, each README attributes, and the numbers a
README states agree with the registry and with the other languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from curator.catalogue import make_finding
from curator.escaping import markdown_plain, markdown_url
from curator.io.facts import Facts
from curator.io.licences import (
    known_fingerprints,
    licence_table,
    licence_texts,
    licences_named,
)
from curator.models.card import localise
from curator.models.findings import Finding

CODES = frozenset({"LICENSE_MISMATCH", "LICENSE_COMPOSITE", "ATTRIBUTION_MISSING", "README_STATS_MISMATCH"})

LICENCE_MATCH = 0.9   # share of the licence's word 5-grams the LICENSE must contain

# rows of the "Data Overview" table, recognised by their label in each README language
_ROWS = {
    "studies": re.compile(r"^(number of studies(?! in each)|количество исследований,|检查数量，)", re.I),
    "masks": re.compile(r"(masks|масок|掩膜)", re.I),
    "per_category": re.compile(r"(in each category|в каждой категории|各类别)", re.I),
}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def check(facts: Facts) -> Iterator[Finding]:
    yield from _licence(facts)
    yield from _attribution(facts)
    yield from _stats(facts)


def _licence(facts: Facts) -> Iterator[Finding]:
    text = facts.licence_text
    card = facts.card
    if text is not None:
        texts = licence_texts(text)
        if len(texts) > 1 or (texts and texts[0].coverage < LICENCE_MATCH):
            yield make_finding("LICENSE_COMPOSITE", "LICENSE",
                               licences=", ".join(f"{t.spdx} {_percent(t.coverage)}" for t in texts),
                               complete=_percent(LICENCE_MATCH),
                               found=[{"spdx": t.spdx, "coverage": round(t.coverage, 3),
                                       "complete": t.coverage >= LICENCE_MATCH} for t in texts])
        if card is not None and card.licence in known_fingerprints() and card.licence not in {t.spdx for t in texts}:
            yield make_finding("LICENSE_MISMATCH", "LICENSE", declared=card.licence,
                               detected=texts[0].spdx if texts else "no known licence")
    if card is None:
        return
    for _, (path, readme) in sorted(facts.readmes.items()):
        for spdx, words in licences_named(readme).items():
            if spdx != card.licence:   # the seed README links CC BY 4.0 for its CC BY-NC-ND 3.0
                yield make_finding("LICENSE_MISMATCH", path, variant="readme", declared=card.licence,
                                   detected=spdx, mention=words)


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share < 0.995 else "100%"


def _attribution(facts: Facts) -> Iterator[Finding]:
    card = facts.card
    for lang, (path, text) in sorted(facts.readmes.items()):
        missing = []
        folded = text.casefold()
        # what a reader sees, too: the README writes card text escaped (curator.escaping.markdown_text)
        folded += "\n" + markdown_plain(text).casefold()
        if card is not None:
            names = [localise(person.name, lang) if isinstance(person.name, str) or lang in person.name
                     else next(iter(person.name.values())) for person in card.contributors]
            if not any(name.casefold() in folded for name in names):
                missing.append("authors")
            affiliations = [localise(a.name, lang) if isinstance(a.name, str) or lang in a.name
                            else next(iter(a.name.values())) for a in card.affiliations]
            if not any(name.casefold() in folded for name in affiliations):
                missing.append("affiliations")
            if not any(link.casefold() in folded for link in (card.permanent_link, markdown_url(card.permanent_link))):
                missing.append("permanent link")
            info = licence_table().get(card.licence, {})
            marks = [card.licence, info.get("short", ""), info.get("url", "")]
            if not any(mark and mark.casefold() in folded for mark in marks):
                missing.append("licence")
        else:
            if "http" not in folded:
                missing.append("permanent link")
            if not re.search(r"licen[cs]e|лицензи", folded):
                missing.append("licence")
        if "©" not in text and "copyright" not in folded:
            missing.insert(2 if card is not None else 0, "copyright")
        if missing:
            yield make_finding("ATTRIBUTION_MISSING", path, missing=", ".join(missing), lang=lang)


def overview(text: str) -> tuple[dict[str, list[float]], list[list[float]]]:
    """The numbers of the README's overview table: by recognised row, and every row in order."""
    found: dict[str, list[float]] = {}
    rows: list[list[float]] = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.lstrip().startswith("|") or set(cells[1]) <= set(":- "):
            continue
        label, value = cells
        numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(value)]
        if not numbers and not re.search(r"n/a|н/д|无数据", value):
            continue  # not a row of numbers (the header row, other tables' text cells)
        rows.append(numbers)
        for key, pattern in _ROWS.items():
            if key not in found and pattern.search(label):
                found[key] = numbers
                break
    return found, rows


def _stats(facts: Facts) -> Iterator[Finding]:
    readmes = facts.readmes
    if not readmes:
        return
    actual: dict[str, list[float]] = {}
    if facts.rows:
        actual["studies"] = [float(len(facts.rows))]
        actual["masks"] = [float(sum(1 for _, row in facts.rows if row.mask_file))]
        categories = list(facts.profile.categories)
        counts = {c: 0 for c in categories}
        for _, row in facts.rows:
            counts[row.category] = counts.get(row.category, 0) + 1
        actual["per_category"] = [float(counts[c]) for c in categories]
    tables = {lang: overview(text) for lang, (_, text) in readmes.items()}
    stated = {lang: table[0] for lang, table in tables.items()}
    for lang, (path, _) in sorted(readmes.items()):
        for key, numbers in stated[lang].items():
            truth = actual.get(key)
            if truth is not None and numbers[: len(truth)] != truth:
                yield make_finding("README_STATS_MISMATCH", path, statistic=key.replace("_", " "),
                                   stated=_show(numbers[: len(truth)]), actual=_show(truth))
    # the languages must agree with each other, number for number, row for row (sex and age included)
    languages = sorted(tables)
    first = languages[0]
    for lang in languages[1:]:
        path = readmes[lang][0]
        for index, (mine, theirs) in enumerate(zip(tables[lang][1], tables[first][1], strict=False), start=1):
            if mine != theirs:
                yield make_finding("README_STATS_MISMATCH", path,
                                   statistic=f"row {index} of the overview table (as in {readmes[first][0]})",
                                   stated=_show(mine), actual=_show(theirs))


def _show(numbers: list[float]) -> str:
    return "/".join(str(int(n)) if n.is_integer() else str(n) for n in numbers)

"""The review page (``curator review``): one static HTML file, pure presentation; its thumbnails are
:mod:`curator.review.strips`'.

:func:`review_html` writes the page: the validation summary, the findings table with filters (plain JavaScript in
``templates/review/``, no external resources, works from ``file://``) and one card per study. Every text that comes
from the release (file names, messages, registry values) is escaped; the report itself is embedded as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped. The table is drawn from that JSON
``PAGE`` rows at a time (a release with 50,000 findings must not put 50,000 rows in the DOM); the filters apply to
every finding and are written back into the address's hash, so a copied link opens the same view.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from curator.catalogue import catalogue
from curator.escaping import display, displayed
from curator.models.findings import Finding, Report, Severity
from curator.models.labels import LabelScheme
from curator.release.figures import LUNG_WINDOW, mask_colour
from curator.render.report import human_bytes
from curator.resources import templates_dir
from curator.review.strips import BACKGROUND
from curator.review.studies import within

__all__ = ["PAGE", "StudyCard", "review_html"]

#: Finding rows drawn at first and added by each "show more".
PAGE: Final = 500
#: The page's language (its words, and the label names taken from the scheme).
LANG: Final = "en"

# ----------------------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class StudyCard:
    """One study on the page, as the orchestrator found it."""

    anchor: str                         # element id: letters, digits and '-' only
    label: str
    study_path: str
    mask_path: str | None
    category: str | None
    study_id: int | None = None
    thumbnail: str | None = None        # relative URL of the strip (thumbs/...png)
    size: tuple[int, int] | None = None
    slices: tuple[int | str, ...] = ()  # axial voxel indices (volumes) or slice file names (2D slices)
    notes: tuple[str, ...] = ()
    problem: str | None = None          # why there is no thumbnail
    counts: Mapping[str, int] = field(default_factory=dict)   # findings about the study or its mask, by severity
    kind: str = "nifti"                 # "nifti" study volume, "dicom" patient folder, "slices" 2D case
    folders: tuple[str, ...] = ()       # folders whose files' findings belong to this card (patient, case)
    facts: tuple[str, ...] = ()         # what was drawn (the series, the slices' masks), one line each
    search: str | None = None           # the findings filter "show its findings" sets (default: the file's stem)


def _e(value: object) -> str:
    """Text for HTML (content or a quoted attribute), names shown as curator.escaping.display says."""
    return html.escape(display(str(value), keep_newlines=True), quote=True)


def _json_block(data: object) -> str:
    """JSON safe inside <script type="application/json">: ASCII only, no '<', '>' or '&'; the strings as
    curator.escaping.display shows them (the page's script puts them on screen)."""
    text = json.dumps(displayed(data), ensure_ascii=True, sort_keys=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_SEVERITIES: Final = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))


def _stat_value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _summary(report: Report, notes: Sequence[str]) -> str:
    state = "VALID" if report.valid else "INVALID"
    counts = report.counts
    stats = report.stats
    rows = [("root", report.root), ("profile", report.profile or "none recognised"),
            ("files", f"{stats.files:,}"), ("bytes", f"{stats.bytes:,} ({human_bytes(stats.bytes)})"),
            ("validation time", f"{stats.seconds:.2f} s"), ("curator", report.version)]
    rows += [(key.replace("_", " "), _stat_value(value)) for key, value in (stats.model_extra or {}).items()]
    parts = [
        '<section id="summary">',
        f'<p class="state {state.lower()}" id="state">{state}</p>',
        '<ul class="counts">',
        *(f'<li class="sev-{s}"><b>{getattr(counts, s):,}</b> {_count(getattr(counts, s), s).split(" ", 1)[1]}</li>'
          for s in _SEVERITIES),
        "</ul>",
        '<dl class="stats">',
        *(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in rows),
        "</dl>",
        *(f'<p class="note">{_e(note)}</p>' for note in notes),
        "</section>",
    ]
    return "\n".join(parts)


def _anchor(finding: Finding, links: Mapping[str, str], by_id: Mapping[int, str]) -> str | None:
    """The card a finding links to: its file's study, else its study id's."""
    return links.get(finding.path) or (by_id.get(finding.study_id) if finding.study_id is not None else None)


def _row(finding: Finding, anchor: str | None, titles: Mapping[str, str]) -> str:
    """One table row; the page's script draws the same markup (``row`` in review.js) for the rows after these."""
    study = f'<a href="#{anchor}">view</a>' if anchor else ""
    title = f' title="{_e(titles[finding.code])}"' if finding.code in titles else ""
    severity = finding.severity.value
    return (f'<tr class="sev-{severity}" data-code="{_e(finding.code)}" data-severity="{severity}" '
            f'data-path="{_e(finding.path)}"><td class="severity">{severity}</td>'
            f"<td class=\"code\"{title}>{_e(finding.code)}</td><td class=\"path\">{_e(finding.path or '(root)')}</td>"
            f'<td class="message">{_e(finding.message)}</td><td class="link">{study}</td></tr>')


def _findings(report: Report, links: Mapping[str, str], by_id: Mapping[int, str],
              titles: Mapping[str, str]) -> str:
    codes: dict[str, int] = {}
    severities: dict[str, int] = dict.fromkeys(_SEVERITIES, 0)
    for finding in report.findings:
        codes[finding.code] = codes.get(finding.code, 0) + 1
        severities[finding.severity.value] += 1
    options = ['<option value="">all codes</option>'] + [
        f'<option value="{_e(code)}">{_e(code)} ({n:,})</option>' for code, n in sorted(codes.items())]
    boxes = [f'<label class="sev-{s}"><input type="checkbox" name="severity" value="{s}" checked> {s} '
             f"({severities[s]:,})</label>" for s in _SEVERITIES]
    total = len(report.findings)
    # the first page only, for a browser without JavaScript; the script redraws the table from the JSON
    rows = [_row(finding, _anchor(finding, links, by_id), titles) for finding in report.findings[:PAGE]]
    empty = '<p class="empty">No findings.</p>' if not report.findings else ""
    return "\n".join([
        '<section id="findings">',
        f'<h2>Findings <small id="matching">{total:,} of {total:,} match</small></h2>',
        '<form id="filters" class="filters" autocomplete="off">',
        f'<label>code <select id="f-code" name="code">{"".join(options)}</select></label>',
        '<span class="severities">', *boxes, "</span>",
        '<label>path contains <input id="f-path" name="path" type="search" size="28"></label>',
        "</form>",
        empty,
        '<table id="findings-table"><thead><tr><th>severity</th><th>code</th><th>path</th><th>message</th>'
        "<th>study</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        f'<p id="paging" class="paging"{"" if total else " hidden"}>showing <span id="rendered">{len(rows):,}</span> '
        f'of <span id="matched">{total:,}</span> matching findings '
        '<button type="button" id="more" hidden>show more</button></p>',
        "</section>",
    ])


def _count(number: int, severity: str) -> str:
    return f"{number} {severity}" + ("s" if number != 1 and severity != "info" else "")


def _card(card: StudyCard) -> str:
    flagged = sum(card.counts.values()) > 0
    badges = "".join(f'<span class="badge sev-{s}">{_count(card.counts[s], s)}</span>'
                     for s in _SEVERITIES if card.counts.get(s))
    lines = [f'<article class="study{" flagged" if flagged else ""}" id="{card.anchor}" '
             f'data-path="{_e(card.study_path)}">',
             f"<h3>{_e(card.label)}"
             + (f' <span class="category">{_e(card.category)}</span>' if card.category else "")
             + f" {badges}</h3>"]
    lines.append('<div class="body">')
    what = "slices" if card.kind == "slices" else "axial slices"
    if card.thumbnail and card.size:
        width, height = card.size
        alt = f"{len(card.slices)} {what} of {card.study_path}"
        lines.append(f'<img src="{_e(card.thumbnail)}" width="{width}" height="{height}" alt="{_e(alt)}">')
    else:
        lines.append(f'<p class="problem">{_e(card.problem or "no thumbnail")}</p>')
    lines.append('<div class="details">')
    mask = f"<br>mask {_e(card.mask_path)}" if card.mask_path else ("" if card.kind == "dicom" else "<br>no mask")
    lines.append(f'<p class="facts">{_e(card.study_path)}{mask}</p>')
    lines += [f'<p class="facts">{_e(fact)}</p>' for fact in card.facts]
    if card.slices:
        lines.append(f'<p class="facts">{what} {_e(", ".join(str(i) for i in card.slices))}</p>')
    lines += [f'<p class="note">{_e(note)}</p>' for note in card.notes]
    if flagged:
        from urllib.parse import quote

        search = card.search or card.study_path.rsplit("/", 1)[-1].split(".", 1)[0]
        target = quote(search, safe="")
        lines.append(f'<p><a class="show" href="#path={_e(target)}">show its findings</a></p>')
    lines.append("</div></div>")
    lines.append("</article>")
    return "\n".join(lines)


def _swatch(colour: tuple[float, float, float]) -> str:
    return f'<span class="swatch" style="background: {_css_colour(colour)}"></span>'


def _scheme_legend(scheme: LabelScheme) -> str:
    """How a slices case's labels are drawn: each lesion label a fill, each other label (the lung field) an
    outline, by the scheme's names in the page's language."""
    fills = [f"{_swatch(label.rgb)} {_e(label.name(LANG))} (label {label.value}), " for label in scheme.labels
             if label.lesion]
    outlines = [f'the {_e(label.name(LANG))} (label {label.value}) as a thin {_swatch(label.rgb)} outline'
                for label in scheme.labels if not label.lesion and label.key != BACKGROUND]
    return (f"the mask over it, as the {_e(scheme.name)} label scheme ({_e(scheme.title)}) says: {''.join(fills)}"
            "each a translucent fill with an outline" + "".join(f", and {outline}" for outline in outlines))


def _legends(kinds: set[str], scheme: LabelScheme | None) -> list[str]:
    """What the strips show, once for each kind of study on the page; names and colours of the masks' labels
    from the release's label ``scheme``."""
    width, level = LUNG_WINDOW
    window = f"in the lung window (W {width:.0f} / L {level:.0f} HU), anterior up, patient's right on the left"
    legends = []
    if "nifti" in kinds:
        lesions = "; ".join(f"label {label.value}, {_e(label.name(LANG))}" for label in scheme.labels
                            if label.lesion) if scheme is not None else ""
        what = f" ({lesions}, in the {_e(scheme.name)} label scheme)" if scheme is not None and lesions else ""
        legends.append(f'<p class="legend">Axial slices {window}; the mask as a translucent '
                       f"{_swatch(mask_colour(scheme))} fill with an outline of that colour{what}, placed by its own "
                       "affine, so a shifted, mirrored or transposed mask shows as such.</p>")
    if "dicom" in kinds:
        legends.append(f'<p class="legend">One card per patient folder: axial slices of its largest CT series '
                       f"(most images), converted from DICOM as <code>curator ingest</code> converts it, {window}. "
                       "The folder's other series are listed on the card; a series that cannot be converted "
                       "says why.</p>")
    if "slices" in kinds:
        labels = _scheme_legend(scheme) if scheme is not None else "the mask over it is not drawn (no label scheme)"
        legends.append('<p class="legend">One card per case: a few evenly spaced slices, slices whose mask has '
                       f"lesion labels first, each shown as stored (the images are already windowed); {labels}.</p>")
    return legends


def _css_colour(colour: tuple[float, float, float]) -> str:
    red, green, blue = (round(c * 255) for c in colour)
    return f"rgb({red}, {green}, {blue})"


def _studies(cards: Sequence[StudyCard], notes: Sequence[str], layout: str, scheme: LabelScheme | None) -> str:
    flagged = sum(1 for c in cards if sum(c.counts.values()))
    parts = [
        '<section id="studies">',
        f"<h2>Studies <small>{len(cards)} shown, {flagged} with findings</small></h2>",
        *_legends({card.kind for card in cards} | {layout}, scheme),
        *(f'<p class="note">{_e(note)}</p>' for note in notes),
        '<label class="only"><input type="checkbox" id="f-flagged"> only studies with findings</label>',
        '<div class="cards">',
        *(_card(card) for card in cards),
        "</div>",
        "</section>",
    ]
    return "\n".join(parts)


@cache
def _asset(name: str) -> str:
    """The page's style and scripts, files in ``templates/review/``: review.css; errors.js, which runs first and
    writes every script error or image that fails to load into #js-errors (a headless DOM dump shows it);
    filters.js, the filter logic as pure functions (tested under node: tests/js/); and review.js, which wires
    them to the page: the filters, the address and the paged table."""
    return (templates_dir() / "review" / name).read_text(encoding="utf-8")


def review_html(report: Report, cards: Sequence[StudyCard], *, title: str, notes: Sequence[str] = (),
                study_notes: Sequence[str] = (), layout: str = "nifti", scheme: LabelScheme | None = None) -> str:
    """The whole page as one string: no external resources, thumbnails by relative URL. ``layout`` is what a
    study is in the release ("nifti", "dicom", "slices"): the legend explains its strips even without cards;
    ``scheme``, the release's label scheme, names the labels and their colours in it."""
    links: dict[str, str] = {}
    by_id: dict[int, str] = {}
    folders: dict[str, str] = {}
    for card in cards:
        links[card.study_path] = card.anchor
        if card.mask_path:
            links[card.mask_path] = card.anchor
        if card.study_id is not None:
            by_id.setdefault(card.study_id, card.anchor)
        for folder in card.folders:
            folders.setdefault(folder, card.anchor)
    if folders:   # a finding about a file inside a card's patient or case folder links to that card
        for finding in report.findings:
            if finding.path not in links and (anchor := within(finding.path, folders)) is not None:
                links[finding.path] = anchor
    rules = catalogue()
    titles = {code: rules[code].title for code in {f.code for f in report.findings} if code in rules}
    # what the script needs besides the report to draw a row as _row does
    view = {"page": PAGE, "titles": titles, "paths": links, "ids": {str(k): v for k, v in by_id.items()}}
    total = len(report.findings)
    without_js = ("The filters need JavaScript; the tables below list everything." if total <= PAGE else
                  f"The filters need JavaScript; the table below lists the first {PAGE:,} of {total:,} findings "
                  "(all of them are in the JSON report embedded in this page).")
    csp = ("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
    state = "valid" if report.valid else "invalid"
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{LANG}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>{_asset('review.css')}</style>",
        "</head>",
        f'<body data-valid="{state}">',
        f"<header><h1>{_e(title)}</h1><p>curator {_e(report.version)} · validation and review of "
        f"{_e(report.root)}</p></header>",
        "<main>",
        '<pre id="js-errors" hidden></pre>',
        f"<script>{_asset('errors.js')}</script>",
        f'<noscript><p class="note">{_e(without_js)}</p></noscript>',
        _summary(report, notes),
        _findings(report, links, by_id, titles),
        _studies(cards, study_notes, layout, scheme),
        "</main>",
        f'<script type="application/json" id="report-data">{_json_block(report.model_dump(mode="json"))}</script>',
        f'<script type="application/json" id="view-data">{_json_block(view)}</script>',
        f"<script>{_asset('filters.js')}</script>",
        f"<script>{_asset('review.js')}</script>",
        "</body>",
        "</html>",
        "",
    ])

"""README_<LANG>.md per card language, from Jinja2 templates and one context built from card and data."""

from __future__ import annotations

import re
from typing import Any

import jinja2

from curator.escaping import display, markdown_text, markdown_url
from curator.models.card import DatasetCard, localise
from curator.release.licence_facts import licence_facts
from curator.resources import templates_dir

LANGUAGE_NAMES = {
    "en": {"en": "English", "ru": "Russian", "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish"},
    "ru": {"en": "английский", "ru": "русский", "zh": "китайский", "de": "немецкий", "fr": "французский",
           "es": "испанский"},
    "zh": {"en": "英语", "ru": "俄语", "zh": "中文", "de": "德语", "fr": "法语", "es": "西班牙语"},
}


class TemplateMissingError(LookupError):
    pass


def readme_name(lang: str, suffix: str = "md") -> str:
    return f"README_{lang.upper()}.{suffix}"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "readme")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_name(lang: str) -> str:
    name = f"README.{lang}.md.j2"
    if not (templates_dir() / "readme" / name).is_file():
        raise TemplateMissingError(f"no README template for language {lang!r} (expected templates/readme/{name})")
    return name


def _fence(code: str | None) -> str:
    """A code fence longer than any run of backticks in ``code``, so the code cannot close it."""
    return "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", code or ""))])


def readme_context(card: DatasetCard, lang: str, stats: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    """Card text enters the Markdown as literal text (curator.escaping.markdown_text: no HTML, link, image or code
    span from it; line breaks kept where a text may have several lines), URLs percent-encoded where Markdown would
    read them (markdown_url), code in a fence longer than any backtick run in it."""
    def t(value: Any) -> str:
        return markdown_text(localise(value, lang))

    def lines(value: Any) -> str:
        return markdown_text(localise(value, lang), keep_newlines=True)

    def url(value: str | None) -> str | None:
        return None if value is None else markdown_url(value)

    names = LANGUAGE_NAMES.get(lang, LANGUAGE_NAMES["en"])
    return {
        "lang": lang,
        "title": t(card.title),
        "description": lines(card.description),
        "short_name": markdown_text(card.short_name),
        "code": card.code,
        "version": card.version,
        "release_date": card.release_date.strftime("%d.%m.%Y"),
        "permanent_link": markdown_url(card.permanent_link),
        "licence": licence_facts(card, lang),
        "copyright_holder": t(card.copyright_holder),
        "copyright_year": card.copyright_year,
        "contributors": [{"name": t(c.name), "affiliations": list(c.affiliations),
                          "email": url(c.email), "orcid": c.orcid} for c in card.contributors],
        "affiliations": [{"id": a.id, "name": t(a.name), "ror": url(a.ror)}
                         for a in card.affiliations],
        "keywords": [markdown_text(k) for k in card.keywords_in(lang)],
        "funding": t(card.funding),
        "annotation_classes": [markdown_text(c) for c in card.annotation_classes],
        "languages": [names.get(code, code) for code in card.languages],
        "categories": [{"id": c.id, "label": t(c.label), "description": lines(c.description),
                        "count": stats["per_category"].get(c.id, 0)} for c in card.categories],
        "preprocessing": [{"text": lines(step.text),
                           "code": display(step.code, keep_newlines=True) if step.code else None,
                           "fence": _fence(step.code)} for step in card.preprocessing],
        "annotation_principles": lines(card.annotation_principles) if card.annotation_principles else None,
        "intended_use": [t(item) for item in card.intended_use],
        "citation": markdown_text(card.citation, keep_newlines=True) if card.citation else card.citation,
        "stats": stats,
        "files": files,
    }


def render_readme(card: DatasetCard, lang: str, stats: dict[str, Any], files: dict[str, Any]) -> str:
    template = _environment().get_template(template_name(lang))
    return template.render(**readme_context(card, lang, stats, files))

"""HTML in the Markdown curator writes (issue 12, "Trust"): card text in README_*.md and names in the Markdown report
and changelog are text, never HTML, links or images; the PDF still shows them as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from pypdf import PdfReader

from curator.cli.main import main
from curator.diff import FileChange, ReleaseDiff
from curator.release import build
from curator.render.diff import diff_markdown, diff_text
from tests.factories import card_data, make_source

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


def hostile_card() -> dict[str, object]:
    return card_data(
        title={"en": f"{SCRIPT} Chest CT & co", "ru": f"{IMG} КТ"},
        description={"en": f"First line {IMG}\n[click](javascript:alert(3)) ![pixel](https://x.invalid/p.png)",
                     "ru": "<b>жирный</b> & `код"},
        contributors=[{"name": {"en": "Doe, <i>Jane</i> & Co", "ru": "Доу, <i>Джейн</i>"}, "affiliations": [1],
                       "email": "jane<b>@example.org"}],
        affiliations=[{"id": 1, "name": "Centre [x](javascript:y) <u>", "ror": "https://ror.org/abc)<script>"}],
        permanent_link="https://example.org/a?b=1&c=<x>",
        citation=f"Doe J. {SCRIPT}\nsecond line",
        preprocessing=[{"text": "step <b>one</b>", "code": "a ``` b\n```\n<script>x</script>"}],
    )


@pytest.fixture(scope="module")
def hostile_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("card")
    source = make_source(base / "source", card=hostile_card(), shape=(16, 16, 4))
    build(source, base / "release", jobs=1)
    return base / "release"


def _html(markdown: str) -> str:
    """The README as GitHub-like Markdown (CommonMark, raw HTML allowed) renders it."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_card_text_in_readme_is_never_html(hostile_release: Path, lang: str) -> None:
    markdown = (hostile_release / f"README_{lang.upper()}.md").read_text(encoding="utf-8")
    html = _html(markdown)
    assert not re.search(r"<(script|b|i|u)\b", html) and "onerror" not in re.sub(r"&lt;.*?&gt;", "", html)
    assert re.findall(r"<img [^>]*>", html) == re.findall(r'<img src="figures/[^"]+"[^>]*>', html)  # figures only
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', html))
    assert {"https://example.org/a?b=1&amp;c=%3Cx%3E", "mailto:jane%3Cb%3E@example.org",
            "https://ror.org/abc%29%3Cscript%3E"} <= set(re.findall(r'href="([^"]*)"', html))


def test_readme_shows_the_card_text_as_written(hostile_release: Path) -> None:
    html = _html((hostile_release / "README_EN.md").read_text(encoding="utf-8"))
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; Chest CT &amp; co</h1>" in html
    assert "[click](javascript:alert(3))" in html and "Doe, &lt;i&gt;Jane&lt;/i&gt; &amp; Co" in html
    # the preprocessing code keeps its backticks inside one code block
    assert "<pre><code>a ``` b\n```\n&lt;script&gt;x&lt;/script&gt;\n</code></pre>" in html


def test_pdf_renders_the_escaped_text_as_characters(hostile_release: Path) -> None:
    text = " ".join(page.extract_text() for page in PdfReader(hostile_release / "README_EN.pdf").pages)
    assert SCRIPT in text and "&lt;" not in text


def test_release_with_escaped_card_text_validates(hostile_release: Path) -> None:
    """The attribution check finds the authors, affiliation and link the README shows escaped."""
    result = CliRunner().invoke(main, ["validate", str(hostile_release), "--no-cache"])
    assert result.exit_code == 0, result.output


def test_changelog_and_diff_text_escape_names() -> None:
    diff = ReleaseDiff(old="v1", new="v2", added=["studies/<img src=x onerror=y>.nii.gz"],
                       removed=["a\x1b[2Jb.txt"], changed=[FileChange("[x](javascript:y)|.txt", "changed")])
    changelog = diff_markdown(diff)
    assert "<img" not in _html(changelog) and "javascript:" not in "".join(re.findall(r'href="([^"]*)"',
                                                                                       _html(changelog)))
    assert "- studies/&lt;img src=x onerror=y&gt;.nii.gz" in changelog and "\x1b" not in changelog
    assert "removed  a\\x1b[2Jb.txt" in diff_text(diff)

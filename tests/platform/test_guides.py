"""The guides of docs/ on the site: /guides/ lists them, /guides/<name>/ renders each one.

The expected headings are read from the Markdown source here (outside fenced code), not
from the renderer, and the page's headings are read back from its HTML.
"""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.db

DOCS = Path(__file__).resolve().parents[2] / "docs"
PACKAGE_GUIDES = (
    Path(__file__).resolve().parents[2] / "src" / "brainmark" / "platform" / "site" / "guides"
)
# docs/ files for developers and operators, not guides for the site's users.
NOT_GUIDES = {"architecture.md", "deploy.md", "cluster.md"}


@pytest.fixture
def client(database):
    from django.test import Client

    return Client(HTTP_HOST="localhost")


class _Headings(html.parser.HTMLParser):
    """The text of every h1-h3 of a page's <article>, and whether it holds a <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.scripts_in_article = 0
        self._in_article = False
        self._heading: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "article":
            self._in_article = True
        elif self._in_article and tag == "script":
            self.scripts_in_article += 1
        elif self._in_article and tag in ("h1", "h2", "h3"):
            self._heading, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._in_article = False
        elif tag == self._heading:
            self.headings.append((tag, "".join(self._text).strip()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._text.append(data)


def _source_headings(source: str) -> list[tuple[str, str]]:
    """(h1/h2/h3, text) of each ATX heading outside fenced code, backticks removed."""
    headings, fenced = [], False
    for line in source.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^(#{1,3}) +(.+?)\s*$", line)):
            headings.append((f"h{len(match.group(1))}", match.group(2).replace("`", "")))
    return headings


def _guide_names() -> list[str]:
    return sorted(p.stem for p in DOCS.glob("*.md") if p.name not in NOT_GUIDES)


def test_every_user_guide_of_docs_is_on_the_site():
    from brainmark.platform.site.guides import GUIDES

    assert sorted(guide.name for guide in GUIDES) == _guide_names()


@pytest.mark.parametrize("name", _guide_names())
def test_the_packaged_copy_equals_docs(name):
    copy = PACKAGE_GUIDES / f"{name}.md"
    assert copy.is_file(), f"{copy} is missing: run 'make guides'"
    assert copy.read_bytes() == (DOCS / f"{name}.md").read_bytes(), (
        f"{copy} differs from docs/{name}.md: run 'make guides'"
    )


def test_the_list_links_every_guide(client):
    response = client.get("/guides/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in _guide_names():
        title = _source_headings((DOCS / f"{name}.md").read_text())[0][1]
        assert f'href="/guides/{name}/"' in page
        assert html.escape(title, quote=False) in page


@pytest.mark.parametrize("name", _guide_names())
def test_each_guide_renders_with_its_headings(client, name):
    source = (DOCS / f"{name}.md").read_text()
    response = client.get(f"/guides/{name}/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    parser = _Headings()
    parser.feed(response.content.decode())
    expected = _source_headings(source)
    assert expected, "a guide without headings"
    assert parser.headings == expected
    assert parser.scripts_in_article == 0
    # The title is the page's <title>; every second-level heading is in the contents.
    assert f"<title>{html.escape(expected[0][1], quote=False)} " in response.content.decode()
    contents = response.content.decode().split('class="toc"', 1)[1].split("</nav>", 1)[0]
    for level, text in expected:
        if level == "h2":
            assert html.escape(text, quote=False) in contents


def test_an_unknown_guide_is_not_found(client):
    assert client.get("/guides/architecture/").status_code == 404
    assert client.get("/guides/no-such-guide/").status_code == 404


def test_raw_html_and_script_addresses_are_not_passed_through():
    from brainmark.platform.site.guides import render_markdown

    body, toc = render_markdown(
        "# Title\n\n<script>alert(1)</script>\n\n"
        'Text <img src=x onerror="alert(2)"> and [a link](javascript:alert(3)) and '
        "[scores](scores.md#error-conventions).\n\n"
        "```html\n<script>kept as code</script>\n```\n\n"
        "## A <b>bold</b> heading\n"
    )
    assert "<script" not in body and "<img src=x" not in body and "javascript:" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '&lt;img src=x onerror="alert(2)"&gt;' in body
    assert "<pre><code" in body and "&lt;script&gt;kept as code&lt;/script&gt;" in body
    assert '<a href="/guides/scores/#error-conventions">scores</a>' in body
    assert "<b>" not in body + toc and "A &lt;b&gt;bold&lt;/b&gt; heading" in toc

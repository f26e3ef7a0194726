"""The user guides of ``docs/``, readable on the site at ``/guides/``.

The Markdown files beside this module are copies of ``docs/`` (``make guides`` copies
them; ``tests/platform/test_guides.py`` fails while a copy differs): ``docs/`` stays what
README links to and authors edit, and this folder, being a package, ships its ``*.md`` in
an installed wheel through the project's package data, where no ``docs/`` exists.

Rendering uses the ``markdown`` package with raw HTML switched off: HTML written in a guide
is shown as text, never passed through, and links keep only web, mail and relative
addresses. Links to another guide's ``.md`` file lead to its page.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor


@dataclass(frozen=True)
class Guide:
    """One guide: its address on the site (``/guides/<name>/``) and who it is for."""

    name: str
    summary: str

    @property
    def file_name(self) -> str:
        """Its file in ``docs/`` and in this package."""
        return f"{self.name}.md"


#: The guides shown, in this order; the other files of docs/ are for developers.
GUIDES = (
    Guide("submitting-a-model", "Wrap your PyTorch model as a plugin, score it, submit it."),
    Guide("submitting-a-benchmark", "Package your data, write a benchmark, pin its scores."),
    Guide("submitting-with-git", "Submit from a git repository, on every push, with a status."),
    Guide("models", "How a PyTorch network becomes a brain model, step by step."),
    Guide("scores", "What raw, ceiling and ceiled mean, and each metric's error convention."),
)
_BY_NAME = {guide.name: guide for guide in GUIDES}
_SAFE_SCHEMES = {"", "http", "https", "mailto"}


@dataclass(frozen=True)
class RenderedGuide:
    """A guide as HTML: its title, its table of contents and its body."""

    guide: Guide
    title: str
    toc_html: str
    body_html: str


def find_guide(name: str) -> Guide | None:
    """The guide called ``name``, or None."""
    return _BY_NAME.get(name)


def guide_source(guide: Guide) -> str:
    """The Markdown text of ``guide``, from this package."""
    return resources.files(__name__).joinpath(guide.file_name).read_text(encoding="utf-8")


def guide_title(source: str, default: str) -> str:
    """The text of the guide's first level-1 heading."""
    match = re.search(r"^# +(.+?)\s*#*\s*$", source, flags=re.MULTILINE)
    return match.group(1) if match else default


class _SafeLinks(Treeprocessor):
    """Drop link and image addresses with other schemes (``javascript:``, ``data:``); send
    links to a guide's ``.md`` file to its page."""

    def run(self, root: ElementTree.Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                address = element.get(attribute)
                if address is None:
                    continue
                if urlsplit(address.strip()).scheme.lower() not in _SAFE_SCHEMES:
                    del element.attrib[attribute]
                    continue
                path, _, fragment = address.partition("#")
                stem = path.rsplit("/", 1)[-1].removesuffix(".md")
                if path.endswith(".md") and stem in _BY_NAME:
                    anchor = f"#{fragment}" if fragment else ""
                    element.set(attribute, f"/guides/{stem}/{anchor}")


class _NoRawHtml(Extension):
    """Raw HTML in the source is escaped like any text (the documented way since
    Python-Markdown 3 dropped ``safe_mode``), and link addresses are checked."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)


def render_markdown(source: str) -> tuple[str, str]:
    """``source`` as (body HTML, table-of-contents HTML), with no raw HTML passed through."""
    converter = markdown.Markdown(
        extensions=["fenced_code", "tables", "toc", _NoRawHtml()],
        extension_configs={"toc": {"toc_depth": "2-3"}},
    )
    body = converter.convert(source)
    return body, converter.toc


@functools.cache
def render_guide(guide: Guide) -> RenderedGuide:
    """``guide`` rendered once per process (the files are part of the installed package)."""
    source = guide_source(guide)
    body, toc = render_markdown(source)
    return RenderedGuide(
        guide=guide, title=guide_title(source, guide.name), toc_html=toc, body_html=body
    )

"""The site's own pages: the guides (``/guides/``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from brainmark.platform.site.guides import (
    GUIDES,
    find_guide,
    guide_source,
    guide_title,
    render_guide,
)


def guide_list(request: HttpRequest) -> HttpResponse:
    """Every user guide with its title and what it is for."""
    guides = [
        {"guide": guide, "title": guide_title(guide_source(guide), guide.name)} for guide in GUIDES
    ]
    return render(request, "site/guides.html", {"guides": guides})


def guide_page(request: HttpRequest, name: str) -> HttpResponse:
    """One guide, rendered from Markdown with raw HTML escaped."""
    guide = find_guide(name)
    if guide is None:
        raise Http404(f"No guide called {name!r}; the guides are listed at /guides/.")
    rendered = render_guide(guide)
    return render(
        request,
        "site/guides_page.html",
        {
            "guide": rendered,
            "guides": GUIDES,
            # Made by the markdown package from the guide, with raw HTML escaped.
            "body": mark_safe(rendered.body_html),
            "toc": mark_safe(rendered.toc_html),
        },
    )

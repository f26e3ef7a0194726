"""Values every template sees."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from brainmark._version import __version__


def site(request: HttpRequest) -> dict[str, Any]:
    """The library version shown in the footer (scores are computed by this version)."""
    return {"brainmark_version": __version__}

"""The submissions endpoints of the JSON API (mounted by :mod:`brainmark.platform.api`)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["submissions"])

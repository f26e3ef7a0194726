"""The site pages."""

from __future__ import annotations

app_name = "site"
urlpatterns: list = []

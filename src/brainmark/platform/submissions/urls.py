"""The submissions pages."""

from __future__ import annotations

app_name = "submissions"
urlpatterns: list = []

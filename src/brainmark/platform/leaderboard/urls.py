"""The leaderboard pages."""

from __future__ import annotations

app_name = "leaderboard"
urlpatterns: list = []

"""The leaderboard pages: the board (``/``) and its downloads, model, benchmark and
compare pages."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.leaderboard import views

app_name = "leaderboard"
urlpatterns: list = [
    path("", views.home, name="home"),
    path("leaderboard.csv", views.download_csv, name="csv"),
    path("leaderboard.json", views.download_json, name="json"),
    path("leaderboard.bib", views.download_bibtex, name="bibtex"),
]

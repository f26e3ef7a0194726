"""The leaderboard pages: the board (``/``) and its downloads, model, benchmark and
compare pages."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.leaderboard import detail_views, views

app_name = "leaderboard"
urlpatterns: list = [
    path("", views.home, name="home"),
    path("leaderboard.csv", views.download_csv, name="csv"),
    path("leaderboard.json", views.download_json, name="json"),
    path("leaderboard.bib", views.download_bibtex, name="bibtex"),
    path("models/<str:identifier>/", detail_views.model_page, name="model"),
    path("models/<str:identifier>/scores/<int:pk>.json", detail_views.score_record,
         name="score_record"),
    path("benchmarks/<str:identifier>/", detail_views.benchmark_page, name="benchmark"),
    path("compare/", detail_views.compare_page, name="compare"),
]

"""The submissions pages, under ``/submissions/``."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.submissions import views

app_name = "submissions"
urlpatterns = [
    path("", views.submission_list, name="list"),
    path("<int:pk>/", views.submission_detail, name="detail"),
]

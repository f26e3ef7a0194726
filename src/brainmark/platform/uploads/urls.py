"""The uploads pages, under ``/uploads/``."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.uploads import views

app_name = "uploads"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("<int:pk>/", views.detail, name="detail"),
]

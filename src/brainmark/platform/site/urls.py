"""The site's own pages, mounted at ``/guides/``: the guides of docs/."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.site import views

app_name = "site"
urlpatterns = [
    path("", views.guide_list, name="guides"),
    path("<slug:name>/", views.guide_page, name="guide"),
]

"""The platform's URLs: each app's pages, the JSON API and the admin for maintainers."""

from django.contrib import admin
from django.urls import include, path

from brainmark.platform.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("brainmark.platform.accounts.urls")),
    path("uploads/", include("brainmark.platform.uploads.urls")),
    path("submissions/", include("brainmark.platform.submissions.urls")),
    path("guides/", include("brainmark.platform.site.urls")),
    path("", include("brainmark.platform.leaderboard.urls")),
]

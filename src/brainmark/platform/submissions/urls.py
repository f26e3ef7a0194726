"""The submissions pages, under ``/submissions/``."""

from __future__ import annotations

from django.urls import path

from brainmark.platform.submissions import views

app_name = "submissions"
urlpatterns = [
    path("", views.submission_list, name="list"),
    path("new/", views.submission_new, name="new"),
    path("queue/", views.queue, name="queue"),
    path("<int:pk>/", views.submission_detail, name="detail"),
    *(
        route
        for action in ("rerun", "cancel")
        for route in (
            path(f"jobs/<int:pk>/{action}/", views.job_action, {"action": action},
                 name=f"job-{action}"),
            path(f"<int:pk>/{action}/", views.submission_action, {"action": action},
                 name=action),
        )
    ),
]

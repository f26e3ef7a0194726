from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    """Submissions and jobs."""

    name = "brainmark.platform.submissions"
    label = "submissions"
    verbose_name = "Submissions"

from django.apps import AppConfig


class UploadsConfig(AppConfig):
    """Data packages in the object store."""

    name = "brainmark.platform.uploads"
    label = "uploads"
    verbose_name = "Data uploads"

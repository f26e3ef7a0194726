"""Data packages: files users uploaded to the object store, one row per stored version."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

sha1_validator = RegexValidator(r"^[0-9a-f]{40}$", "A SHA1 is 40 lower-case hex digits.")


class UploadKind(models.TextChoices):
    """What a file is; it decides the key a loader looks for and how the bytes are checked."""

    STIMULUS_CSV = "stimulus_csv", "Stimulus set metadata (CSV)"
    STIMULUS_ZIP = "stimulus_zip", "Stimulus set images (ZIP)"
    ASSEMBLY = "assembly", "Data assembly (netCDF)"
    WEIGHTS = "weights", "Model weights (any file)"


class DataPackage(models.Model):
    """One uploaded file in the object store: where it is, its SHA1 and its version id.

    ``(key, version_id)`` names one stored version, so it is recorded once. ``location`` is
    the store folder a plugin's loader opens (its ``BUCKET``); the file is the last part of
    ``key`` inside it.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="data_packages",
        help_text="Empty once the uploader deleted their account; the record stays.",
    )
    identifier = models.CharField(max_length=200, help_text="e.g. Kriegeskorte2008.IT")
    kind = models.CharField(
        max_length=20, choices=UploadKind.choices, default=UploadKind.WEIGHTS,
        help_text="What the file is: it decides how it was checked and how it is loaded.",
    )
    key = models.CharField(max_length=1024, help_text="Key in the object store.")
    location = models.CharField(
        max_length=1024, blank=True,
        help_text="The store location a loader opens (file://... or s3://...); the file is "
        "the key's last part inside it.",
    )
    sha1 = models.CharField(max_length=40, validators=[sha1_validator])
    details = models.JSONField(
        default=dict, blank=True,
        help_text="What the upload read from the file's content, e.g. an assembly's "
        "stimulus_set_identifier and class.",
    )
    version_id = models.CharField(max_length=200, help_text="The store's version of the key.")
    size = models.BigIntegerField(help_text="Bytes.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "version_id"], name="uploads_one_row_per_stored_version"
            ),
            models.CheckConstraint(
                condition=Q(size__gte=0), name="uploads_size_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} ({self.key} @ {self.version_id})"

    @property
    def file_name(self) -> str:
        """The object's name inside :attr:`location`: what the loader asks the store for."""
        return self.key.rsplit("/", 1)[-1]

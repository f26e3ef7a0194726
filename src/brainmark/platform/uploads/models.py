"""Data packages: files users uploaded to the object store, one row per stored version."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

sha1_validator = RegexValidator(r"^[0-9a-f]{40}$", "A SHA1 is 40 lower-case hex digits.")


class DataPackage(models.Model):
    """One uploaded file in the object store: where it is, its SHA1 and its version id.

    ``(key, version_id)`` names one stored version, so it is recorded once.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="data_packages",
        help_text="Empty once the uploader deleted their account; the record stays.",
    )
    identifier = models.CharField(max_length=200, help_text="e.g. Kriegeskorte2008.IT")
    key = models.CharField(max_length=1024, help_text="Key in the object store.")
    sha1 = models.CharField(max_length=40, validators=[sha1_validator])
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

"""The upload form: one file, what it is, its identifier and the SHA1 its uploader computed.

The page and the API validate with this one form, so both refuse the same input with the
same words.
"""

from __future__ import annotations

from django import forms

from brainmark.platform.uploads.models import UploadKind, sha1_validator
from brainmark.platform.uploads.services import UploadError, validate_upload_identifier


class UploadForm(forms.Form):
    """What an uploader states about their file; the file itself arrives already hashed."""

    kind = forms.ChoiceField(
        choices=UploadKind.choices,
        help_text="Checked against the file's bytes, not its name.",
    )
    identifier = forms.CharField(
        max_length=200,
        help_text="The stimulus set (e.g. Kriegeskorte2008), assembly (e.g. "
        "Kriegeskorte2008.IT) or model (e.g. my-cornet-s) the file belongs to.",
    )
    sha1 = forms.CharField(
        label="SHA1",
        max_length=64,
        help_text="From 'sha1sum FILE' or the sha1 that package_*_locally returned; the "
        "upload is refused unless the bytes that arrive have it.",
    )
    file = forms.FileField(allow_empty_file=False)

    def clean_sha1(self) -> str:
        """Upper-case hex is the same SHA1; anything but 40 hex digits is not one."""
        sha1 = self.cleaned_data["sha1"].strip().lower()
        sha1_validator(sha1)
        return sha1

    def clean_identifier(self) -> str:
        return self.cleaned_data["identifier"].strip()

    def clean(self) -> dict:
        cleaned = super().clean()
        kind, identifier = cleaned.get("kind"), cleaned.get("identifier")
        if kind and identifier:
            try:
                validate_upload_identifier(kind, identifier)
            except UploadError as error:
                self.add_error("identifier", error.message)
        return cleaned

    def error_text(self) -> str:
        """Every error as one line per field, for the API's 400 answer."""
        return " ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in self.errors.items()
        )

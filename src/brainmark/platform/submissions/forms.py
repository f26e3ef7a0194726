"""The site's submit form: a zip of plugin folders and the private switch, checked at the edge.

The form refuses only what is plainly not a submission (no ``.zip`` name, not a zip, over
the archive size limit) before :func:`.intake.receive_submission` stores and validates it;
every other rule is the archive validator's, so the site, the API and ``brainmark submit``
refuse the same archives with the same problems.
"""

from __future__ import annotations

import zipfile

from django import forms

from brainmark.pipeline.archive import ArchiveLimits


def archive_too_big(limits: ArchiveLimits) -> str:
    """Why an archive over ``limits.max_archive_bytes`` is refused, and what to do."""
    return (
        f"The archive is over the limit of {limits.max_archive_bytes:,} bytes. Leave weights "
        f"and data out of the zip: upload them as data and load them by SHA1. Nothing was "
        f"stored."
    )


class SubmissionForm(forms.Form):
    """A zip of plugin folders (``models/``, ``benchmarks/``, ``data/``, ``metrics/``)."""

    file = forms.FileField(
        label="Zip of plugin folders",
        help_text="A .zip holding models/, benchmarks/, data/ or metrics/ with your plugin "
        "folders in them.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    private = forms.BooleanField(
        required=False,
        label="Private",
        help_text="Scores shown only to you and staff.",
    )

    def __init__(self, *args: object, limits: ArchiveLimits | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.limits = ArchiveLimits() if limits is None else limits

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        name = upload.name or ""
        if not name.lower().endswith(".zip"):
            raise forms.ValidationError(
                f"{name or 'The file'} is not a .zip: zip the folder that holds models/ (or "
                f"benchmarks/, ...) and choose the .zip, or use 'brainmark submit FOLDER'.",
                code="not_zip_name",
            )
        if upload.size > self.limits.max_archive_bytes:
            raise forms.ValidationError(archive_too_big(self.limits), code="too_big")
        position = upload.tell()
        try:
            is_zip = zipfile.is_zipfile(upload)
        finally:
            upload.seek(position)
        if not is_zip:
            raise forms.ValidationError(
                f"{name} is not a zip archive (its bytes are not a ZIP file's); create it "
                f"with a zip tool or 'brainmark submit FOLDER'.",
                code="not_zip",
            )
        return upload

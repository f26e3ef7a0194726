"""Uploading a file for a plugin: check it, store it, record it, say how to load it.

A received file (streamed to disk and hashed by :mod:`brainmark.platform.uploads.handlers`)
is compared with the SHA1 its uploader stated, checked by its bytes for its kind, stored in
the object store (the ``store`` setting, read at each upload) under
``uploads/<user id>/<identifier>/<file name>`` and recorded as a :class:`DataPackage`. The
file name is the one the library's loaders ask for (``stimulus_<id>.csv``,
``stimulus_<id>.zip``, ``assy_<id>.nc``; weights keep their own name, made safe), so the
registration snippet shown afterwards works as pasted.

Nothing is half-done: a mismatch, bad content or a full quota refuses the file before
anything is stored, and no row exists without its stored object.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest

from brainmark._files import safe_file_name
from brainmark.platform.accounts import ratelimit
from brainmark.platform.schemas import RequestRefused
from brainmark.platform.uploads.models import DataPackage, UploadKind

UPLOAD_PREFIX = "uploads"
# Content-Length counts the multipart framing and the form's small fields besides the file;
# a request longer than the quota left by more than this holds a file that cannot fit.
FORM_OVERHEAD_BYTES = 64 << 10
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
CLASSIC_NETCDF_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
# The attribute package_data_assembly_locally writes on an assembly's variable.
PACKAGED_CLASS_ATTRIBUTE = "brainmark_class"
_READ_CHUNK = 1 << 20
# What the identifier names, for the library's identifier rule and its messages.
_IDENTIFIER_KINDS = {
    UploadKind.STIMULUS_CSV: "stimulus set",
    UploadKind.STIMULUS_ZIP: "stimulus set",
    UploadKind.ASSEMBLY: "assembly",
    UploadKind.WEIGHTS: "model",
}


class UploadError(RequestRefused):
    """An upload refused, with the message for its uploader and the HTTP status to answer."""


def check_rate(user: Any, *, count: bool = True) -> None:
    """Refuse (429) an upload over the per-minute limit of the user's attempts
    (``ratelimit.UPLOAD_USER``), saying when it frees up; ``count`` records this attempt
    (the form checks first and counts once its CSRF check passed)."""
    try:
        ratelimit.attempt(ratelimit.UPLOAD_USER, str(user.pk), count=count)
    except ratelimit.RateLimited as refusal:
        raise UploadError(f"{refusal.message()} Nothing was stored.", status=429) from None


# --- quota ----------------------------------------------------------------------------------


def quota_bytes() -> int:
    """Bytes each user may store (``BRAINMARK_UPLOAD_QUOTA_BYTES``, from the brainmark setting
    ``upload_quota_bytes``)."""
    return int(settings.BRAINMARK_UPLOAD_QUOTA_BYTES)


def used_bytes(user: Any) -> int:
    """Bytes of every file ``user`` has stored through the upload."""
    total = DataPackage.objects.filter(owner=user).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def remaining_quota(user: Any) -> tuple[int, int]:
    """``(used, quota)`` of ``user`` in bytes."""
    return used_bytes(user), quota_bytes()


def format_bytes(size: int, *, exact: bool = True) -> str:
    """``'1.5 MB (1,500,000 bytes)'``: decimal units, as the quota is set, and (``exact``)
    the byte count."""
    value, unit = float(size), "bytes"
    for name in ("kB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, name
    if unit == "bytes":
        return f"{size:,} bytes"
    return f"{value:.1f} {unit}" + (f" ({size:,} bytes)" if exact else "")


def quota_message(used: int, quota: int, size: int, *, at_least: bool = False,
                  raced: bool = False) -> str:
    """Why a file does not fit: what is used, the quota, and the file's size."""
    this = f"{'at least ' if at_least else ''}{format_bytes(size)}"
    outcome = (
        "Another upload of yours was recorded while this one was stored, so this one is not "
        "recorded (its stored copy counts nowhere)" if raced else "Nothing was stored"
    )
    return (
        f"Upload quota exceeded: you have stored {format_bytes(used)} of your "
        f"{format_bytes(quota)}, and this file is {this}, more than the "
        f"{format_bytes(max(quota - used, 0))} left. {outcome}; the site's maintainers can "
        f"raise your quota."
    )


def check_request_size(request: HttpRequest, used: int, quota: int) -> None:
    """Refuse, before reading a byte of it, a request too long to fit the quota left."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise UploadError("The request's Content-Length is not a number.") from None
    if length - FORM_OVERHEAD_BYTES > quota - used:
        size = length - FORM_OVERHEAD_BYTES
        raise UploadError(quota_message(used, quota, size, at_least=True), status=413)


# --- identifiers and keys -------------------------------------------------------------------


def validate_upload_identifier(kind: str, identifier: str) -> str:
    """Refuse an identifier the library would refuse for this kind (the one naming rule)."""
    from brainmark.data.packaging import validate_identifier  # pandas/xarray: on first use.
    from brainmark.exceptions import ValidationError

    try:
        return validate_identifier(identifier, _IDENTIFIER_KINDS[UploadKind(kind)])
    except ValidationError as error:
        raise UploadError(str(error)) from None


def stored_file_name(kind: str, identifier: str, uploaded_name: str) -> str:
    """The name the file gets in the store: the one the library's loader asks for."""
    from brainmark.data.packaging import assembly_filename, stimulus_set_filenames

    kind = UploadKind(kind)
    if kind == UploadKind.STIMULUS_CSV:
        return stimulus_set_filenames(identifier)[0]
    if kind == UploadKind.STIMULUS_ZIP:
        return stimulus_set_filenames(identifier)[1]
    if kind == UploadKind.ASSEMBLY:
        return assembly_filename(identifier)
    return safe_file_name(PurePosixPath(uploaded_name).name or "weights")


def upload_folder(user: Any, identifier: str) -> str:
    """The user's key prefix for ``identifier``: each user's files apart from everyone's."""
    return f"{UPLOAD_PREFIX}/{user.pk}/{identifier}"


# --- content checks -------------------------------------------------------------------------


def check_content(kind: str, path: Path, name: str, identifier: str) -> dict[str, str]:
    """Refuse a file whose bytes are not what ``kind`` says, whatever its name; return what
    its content records that the snippet uses (an assembly's stimulus set and class)."""
    kind = UploadKind(kind)
    if kind == UploadKind.STIMULUS_CSV:
        _check_stimulus_csv(path, name)
    elif kind == UploadKind.STIMULUS_ZIP:
        _check_zip(path, name)
    elif kind == UploadKind.ASSEMBLY:
        return _check_netcdf(path, name, identifier)
    # Weights: any bytes; the SHA1 is their check.
    return {}


def _check_stimulus_csv(path: Path, name: str) -> None:
    """UTF-8 text whose header has the columns a packaged stimulus set needs, one row per
    stimulus with a unique ``stimulus_id`` (the library's rule for stimulus sets)."""
    from brainmark.data.packaging import FILENAME_COLUMN

    _check_utf8(path, name)
    required = ("stimulus_id", FILENAME_COLUMN)
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not any(header):
                raise UploadError(
                    f"{name} is empty: a stimulus CSV starts with a header row naming its "
                    f"columns, including {list(required)}."
                )
            missing = [column for column in required if column not in header]
            if missing:
                raise UploadError(
                    f"{name} has no column {missing} in its header row {header[:20]}. A "
                    f"packaged stimulus CSV has 'stimulus_id' and {FILENAME_COLUMN!r}: upload "
                    f"the CSV that package_stimulus_set_locally (or 'brainmark package "
                    f"stimuli') wrote."
                )
            id_column = header.index("stimulus_id")
            seen: dict[str, int] = {}
            for row in reader:
                line = reader.line_num
                if len(row) != len(header):
                    raise UploadError(
                        f"{name}, line {line}: {len(row)} fields, but the header has "
                        f"{len(header)}."
                    )
                stimulus_id = row[id_column]
                if not stimulus_id:
                    raise UploadError(f"{name}, line {line}: empty stimulus_id.")
                if stimulus_id in seen:
                    raise UploadError(
                        f"{name}, line {line}: stimulus_id {stimulus_id!r} repeats line "
                        f"{seen[stimulus_id]}; each stimulus needs a unique id."
                    )
                seen[stimulus_id] = line
        except csv.Error as error:
            raise UploadError(f"{name} is not a readable CSV file: {error}.") from None
    if not seen:
        raise UploadError(f"{name} has a header but no stimulus rows.")


def _check_utf8(path: Path, name: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_READ_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                raise UploadError(
                    f"{name} is not UTF-8 text (byte {offset + error.start:,} cannot be "
                    f"decoded); a stimulus CSV is the UTF-8 text package_stimulus_set_locally "
                    f"writes."
                ) from None
            if not chunk:
                return
            if b"\x00" in chunk:
                raise UploadError(f"{name} holds NUL bytes: it is not a text (CSV) file.")
            offset += len(chunk)


def _check_zip(path: Path, name: str) -> None:
    """A real ZIP archive, every member intact (CRC-32) and inside its folder."""
    if not zipfile.is_zipfile(path):
        raise UploadError(
            f"{name} is not a ZIP archive (its bytes have no ZIP directory). Upload the "
            f"stimulus ZIP that package_stimulus_set_locally wrote."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for info in members:
                member = PurePosixPath(info.filename)
                if member.is_absolute() or ".." in member.parts:
                    raise UploadError(
                        f"{name} holds the member {info.filename!r}, outside the archive's "
                        f"folder; the loader refuses such archives."
                    )
            broken = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise UploadError(f"{name} is a damaged ZIP archive: {error}.") from None
    if broken is not None:
        raise UploadError(
            f"{name} is a damaged ZIP archive: member {broken!r} fails its CRC-32 check."
        )
    if not any(not info.is_dir() for info in members):
        raise UploadError(f"{name} is a ZIP archive without files.")


def _check_netcdf(path: Path, name: str, identifier: str) -> dict[str, str]:
    """A netCDF-4 (HDF5) file that opens as netCDF and holds a variable: what the library's
    assembly reader (h5netcdf) reads. A file packaged by the library records the assembly's
    identifier (which must be the one it is uploaded as), its stimulus set and its class."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[:4] in CLASSIC_NETCDF_SIGNATURES:
        raise UploadError(
            f"{name} is a classic netCDF-3 file; the library reads netCDF-4 (HDF5) files as "
            f"package_data_assembly_locally writes them. Package the assembly with it."
        )
    if head != HDF5_SIGNATURE:
        raise UploadError(
            f"{name} is not a netCDF file (it does not start with the netCDF-4/HDF5 "
            f"signature). Upload the .nc file package_data_assembly_locally wrote."
        )
    from brainmark.platform.uploads.netcdf_probe import ProbeError, probe

    try:
        variables = probe(path)  # in a child process: HDF5 can loop on a damaged file
    except ProbeError as error:
        raise UploadError(f"{name} was refused: {error}.") from None
    if not variables:
        raise UploadError(f"{name} opens as netCDF but holds no data variable.")
    recorded = next(
        (attrs for attrs in variables.values() if PACKAGED_CLASS_ATTRIBUTE in attrs), {}
    )
    packaged_as = recorded.get("identifier")
    if isinstance(packaged_as, str) and packaged_as != identifier:
        raise UploadError(
            f"{name} was packaged as assembly {packaged_as!r}, not {identifier!r}: upload it "
            f"as {packaged_as!r}, or package it again under the identifier you mean."
        )
    return {
        key: value for key, value in (
            ("stimulus_set_identifier", recorded.get("stimulus_set_identifier")),
            ("class", recorded.get(PACKAGED_CLASS_ATTRIBUTE)),
        ) if isinstance(value, str) and value
    }


# --- storing --------------------------------------------------------------------------------


def store_upload(
    *,
    user: Any,
    kind: str,
    identifier: str,
    stated_sha1: str,
    path: Path,
    sha1: str,
    size: int,
    uploaded_name: str,
) -> DataPackage:
    """Check a received file, store it and record it; return the new :class:`DataPackage`.

    ``sha1`` and ``size`` are what arrived (hashed while streaming); ``stated_sha1`` what the
    uploader computed. Everything is checked before the store is touched.
    """
    from brainmark.data.store import default_store, open_store
    from brainmark.exceptions import StoreError

    validate_upload_identifier(kind, identifier)
    if sha1 != stated_sha1.lower():
        raise UploadError(
            f"SHA1 mismatch: {uploaded_name} arrived with SHA1 {sha1} ({format_bytes(size)}), "
            f"but you stated {stated_sha1}. The file changed, or the upload was cut short: "
            f"compute it again ('sha1sum {uploaded_name}') and upload the file that has it. "
            f"Nothing was stored."
        )
    details = check_content(kind, path, uploaded_name, identifier)
    used, quota = remaining_quota(user)
    if used + size > quota:
        raise UploadError(quota_message(used, quota, size), status=413)

    folder = upload_folder(user, identifier)
    file_name = stored_file_name(kind, identifier, uploaded_name)
    try:
        # The loader opens the folder as its store and asks for the file by name, so the
        # file is stored through that same store: its version ids are the folder's.
        store = open_store(f"{default_store().location}/{folder}")
        _, version_id = store.upload(path, file_name)
    except StoreError as error:
        raise UploadError(f"The object store refused the file: {error}", status=502) from None
    if version_id is None:
        raise UploadError(
            f"The object store {store.location} keeps no versions (S3 versioning is off), so "
            f"this upload cannot be pinned and may have replaced an earlier one. The site's "
            f"maintainers must enable versioning on the bucket.",
            status=502,
        )
    with transaction.atomic():
        # Two uploads of one user at once both passed the check above: the second to get
        # here sees the first's row (the user's row is locked on PostgreSQL; SQLite lets one
        # writer in at a time) and is refused, so the rows never pass the quota.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        used = used_bytes(user)
        if used + size > quota:
            raise UploadError(quota_message(used, quota, size, raced=True), status=413)
        return DataPackage.objects.create(
            owner=user,
            identifier=identifier,
            kind=kind,
            key=f"{folder}/{file_name}",
            location=store.location,
            sha1=sha1,
            version_id=version_id,
            size=size,
            details=details,
        )


def uploads_of(user: Any) -> list[DataPackage]:
    """The user's uploads, newest first."""
    return list(DataPackage.objects.filter(owner=user).order_by("-created", "-pk"))


# --- the registration snippet ---------------------------------------------------------------


def registration_snippet(
    package: DataPackage, others: Iterable[DataPackage] | None = None
) -> str:
    """The Python a data plugin (or a model plugin, for weights) pastes to load this file.

    A stimulus set needs its CSV and its ZIP: the snippet of one fills in the other from the
    uploader's latest upload of it (looked up in ``others``, the uploader's packages newest
    first, when given, else in the database), or says to upload it.
    """
    kind = UploadKind(package.kind)
    if kind in (UploadKind.STIMULUS_CSV, UploadKind.STIMULUS_ZIP):
        return _stimulus_set_snippet(package, others)
    if kind == UploadKind.ASSEMBLY:
        return _assembly_snippet(package)
    return _weights_snippet(package)


def _python_name(identifier: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in identifier).lower()
    return name if name[:1].isalpha() else f"x{name}"


def _stimulus_set_snippet(package: DataPackage, others: Iterable[DataPackage] | None) -> str:
    other_kind = (
        UploadKind.STIMULUS_ZIP if package.kind == UploadKind.STIMULUS_CSV
        else UploadKind.STIMULUS_CSV
    )
    if others is None:
        others = DataPackage.objects.filter(
            owner_id=package.owner_id, identifier=package.identifier, kind=other_kind,
            location=package.location,
        ).order_by("-created", "-pk")[:1]
    other = next(
        (
            row for row in others
            if row.kind == other_kind and row.location == package.location
            and row.identifier == package.identifier
        ),
        None,
    )
    pinned = {package.kind: package, **({other_kind: other} if other else {})}
    lines = [
        "from brainmark.data import load_stimulus_set_from_store",
        "from brainmark.registry import stimulus_set_registry",
        "",
        f"{_python_name(package.identifier).upper()}_BUCKET = {package.location!r}",
        "",
        "",
        f"def load_{_python_name(package.identifier)}_stimuli():",
        "    return load_stimulus_set_from_store(",
        f"        {package.identifier!r},",
        f"        {_python_name(package.identifier).upper()}_BUCKET,",
    ]
    missing = []
    for kind, field in ((UploadKind.STIMULUS_CSV, "csv"), (UploadKind.STIMULUS_ZIP, "zip")):
        row = pinned.get(kind)
        if row is None:
            missing.append(kind)
            lines.append(f"        {field}_sha1=...,  # upload the stimulus {field.upper()} too")
            lines.append(f"        {field}_version_id=...,")
        else:
            lines.append(f"        {field}_sha1={row.sha1!r},")
            lines.append(f"        {field}_version_id={row.version_id!r},")
    lines += [
        "    )",
        "",
        "",
        f"stimulus_set_registry[{package.identifier!r}] = "
        f"load_{_python_name(package.identifier)}_stimuli",
    ]
    if missing:
        names = ", ".join(UploadKind(kind).label for kind in missing)
        lines.insert(0, f"# Still to upload for {package.identifier!r}: {names}.")
    return "\n".join(lines) + "\n"


def _assembly_snippet(package: DataPackage) -> str:
    name = _python_name(package.identifier)
    stimulus_set = (package.details or {}).get("stimulus_set_identifier")
    # The stimulus set the file records: the loader checks the assembly's ids against it
    # and adds its metadata to the presentations, as the built-in data plugins do.
    joined = (
        [f"        stimulus_set_loader=lambda: stimulus_set_registry.load({stimulus_set!r}),"]
        if stimulus_set else []
    )
    registries = "data_registry, stimulus_set_registry" if stimulus_set else "data_registry"
    return "\n".join([
        "from brainmark.data import load_assembly_from_store",
        f"from brainmark.registry import {registries}",
        "",
        f"{name.upper()}_BUCKET = {package.location!r}",
        "",
        "",
        f"def load_{name}():",
        "    return load_assembly_from_store(",
        f"        {package.identifier!r},",
        f"        {name.upper()}_BUCKET,",
        f"        sha1={package.sha1!r},",
        f"        version_id={package.version_id!r},",
        *joined,
        "    )",
        "",
        "",
        f"data_registry[{package.identifier!r}] = load_{name}",
    ]) + "\n"


def _weights_snippet(package: DataPackage) -> str:
    name = _python_name(package.identifier)
    return "\n".join([
        "from brainmark.data import fetch_file",
        "",
        f"{name.upper()}_WEIGHTS = {package.location!r}",
        "",
        "",
        f"def {name}_weights_path():",
        '    """The weights file, downloaded once and verified by its SHA1 on every load."""',
        "    return fetch_file(",
        f"        {name.upper()}_WEIGHTS,",
        f"        {package.file_name!r},",
        f"        sha1={package.sha1!r},",
        f"        version_id={package.version_id!r},",
        f"        identifier={package.identifier!r},",
        "    )",
        "",
        "",
        f"# In the model's loader: torch.load({name}_weights_path(), weights_only=True)",
    ]) + "\n"


def package_summary(
    package: DataPackage, others: Iterable[DataPackage] | None = None
) -> dict[str, Any]:
    """A DataPackage as the API shows it, with its registration snippet (``others``: see
    :func:`registration_snippet`)."""
    return {
        "id": package.pk,
        "identifier": package.identifier,
        "kind": package.kind,
        "key": package.key,
        "location": package.location,
        "file_name": package.file_name,
        "sha1": package.sha1,
        "version_id": package.version_id,
        "size": package.size,
        "created": package.created,
        "details": package.details or {},
        "snippet": registration_snippet(package, others),
    }


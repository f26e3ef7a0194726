"""``brainmark package`` and ``brainmark upload``: a scientist's data, ready for a data plugin.

``package stimuli`` turns a metadata CSV and a folder of images into the packaged CSV + ZIP
(:func:`~brainmark.data.package_stimulus_set_locally`), ``upload`` puts packaged files
into an object store as new versions. Both print JSON: the identifiers, SHA1s and version
ids a data plugin's loader pins.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath

import click

from brainmark.exceptions import ValidationError


@click.group()
def package() -> None:
    """Package data into the files a data plugin loads (CSV + ZIP, netCDF)."""


@package.command(name="stimuli")
@click.argument("metadata", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("identifier")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder the file names are relative to (default: the CSV's).")
@click.option("--file-column", default="filename", show_default=True,
              help="Column of METADATA naming each stimulus's image file.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the packaged files (default: BRAINMARK_HOME/packages).")
def package_stimuli(
    metadata: Path, identifier: str, images: Path | None, file_column: str, output: Path | None
) -> None:
    """Package the stimuli listed in METADATA (a CSV) as stimulus set IDENTIFIER.

    METADATA has one row per stimulus: a unique `stimulus_id`, the image file in
    --file-column and any other columns (object_name, ...), which are kept with their types.
    Prints the packaged files and their SHA1s as JSON.
    """
    from brainmark.data import StimulusSet, package_stimulus_set_locally

    frame = _read_metadata(metadata, file_column)
    folder = (images or metadata.parent).resolve()
    paths = {
        str(sid): _image_path(folder, str(name), str(sid), metadata)
        for sid, name in zip(frame["stimulus_id"], frame[file_column], strict=True)
    }
    stimuli = StimulusSet(frame.drop(columns=file_column), stimulus_paths=paths,
                          identifier=identifier)
    record = package_stimulus_set_locally(stimuli, identifier, output)
    click.echo(json.dumps({key: str(value) for key, value in record.items()}, indent=2))


def _read_metadata(metadata: Path, file_column: str):  # -> pandas.DataFrame
    import pandas as pd

    try:
        frame = pd.read_csv(metadata)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationError(f"{metadata} is not a readable CSV file: {error}") from None
    missing = [column for column in ("stimulus_id", file_column) if column not in frame]
    if missing:
        raise ValidationError(
            f"{metadata} has no column {missing}; it needs 'stimulus_id' (unique per row) and "
            f"{file_column!r} (each stimulus's image file). Columns: {list(frame.columns)}."
        )
    return frame


def _image_path(folder: Path, name: str, stimulus_id: str, metadata: Path) -> Path:
    """The image of one stimulus, which must lie inside ``folder``."""
    path = (folder / name).resolve()
    if PurePath(name).is_absolute() or not path.is_relative_to(folder):
        raise ValidationError(
            f"Stimulus {stimulus_id!r} of {metadata} names {name!r}, which is not inside "
            f"{folder}. Give file names relative to the images folder (--images)."
        )
    return path


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", "store_location", metavar="LOCATION", default=None,
              help="file:///path, s3://bucket/prefix or bucket/prefix. Default: the 'store' "
              "setting (a folder under BRAINMARK_HOME).")
def upload(files: tuple[Path, ...], store_location: str | None) -> None:
    """Upload packaged FILES to the object store, each as a new version under its name.

    Prints, per file, the key, the object's location, its version id and its SHA1: what a
    loader pins (load_stimulus_set_from_store / load_assembly_from_store).
    """
    from brainmark._files import sha1_of_file
    from brainmark.data import open_store
    from brainmark.settings import get_settings

    store = open_store(store_location or get_settings().store_location)
    uploaded = []
    for path in files:
        location, version_id = store.upload(path, path.name)
        uploaded.append({"key": path.name, "location": location, "version_id": version_id,
                         "sha1": sha1_of_file(path)})
    click.echo(json.dumps(uploaded, indent=2))


COMMANDS = [package, upload]

"""Show stimuli at the size they had in the experiment, relative to the model's field of view.

An image that spanned D degrees for the subjects, shown to a model that sees V degrees,
must fill D / V of the model's input. :func:`place_on_screen` shrinks it onto a gray
canvas (D < V) or crops its centre (D > V) and scales that crop back up, keeping each
image's pixel size, as Brain-Score does. Placed images are written once per (content of
the stimulus files, D, V, brainmark code) under ``<home>/cache/placed`` and reused while
every file still has the SHA1 its ``manifest.json`` recorded.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from brainmark._files import (
    content_sha1,
    distrust_cache_file,
    read_checked_json,
    replace_folder,
    sha1_of_file,
    write_checked_json,
)
from brainmark._provenance import library_sha1
from brainmark.data.hashing import stimulus_set_sha1
from brainmark.data.images import open_image
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.settings import get_settings

GRAY = (128, 128, 128)


def place_on_screen(
    stimulus_set: StimulusSet, *, target_visual_degrees: float, source_visual_degrees: float
) -> StimulusSet:
    """The stimulus set as a model seeing ``target_visual_degrees`` sees it.

    Parameters
    ----------
    stimulus_set
        Stimuli as shown in the experiment, each image spanning ``source_visual_degrees``.
    target_visual_degrees
        The model's field of view (``model.visual_degrees()``).
    source_visual_degrees
        Size of the stimuli in the experiment.

    Returns
    -------
    StimulusSet
        Same rows; ``stimulus_paths`` point to the placed images (RGB PNGs of each
        original's pixel size) and the identifier says how they were placed. When both
        sizes are equal the set is returned unchanged.
    """
    for name, value in (("target", target_visual_degrees), ("source", source_visual_degrees)):
        if not float(value) > 0:
            raise ValidationError(f"{name}_visual_degrees must be > 0. Got {value!r}.")
    if float(target_visual_degrees) == float(source_visual_degrees):
        return stimulus_set
    ratio = float(source_visual_degrees) / float(target_visual_degrees)
    degrees = f"{float(source_visual_degrees)}|{float(target_visual_degrees)}"
    key = f"{stimulus_set_sha1(stimulus_set)}|{degrees}|{library_sha1()}"
    settings = get_settings()
    folder = settings.placed_dir / hashlib.sha1(key.encode()).hexdigest()
    ids = list(dict.fromkeys(str(sid) for sid in stimulus_set["stimulus_id"]))
    sources = {sid: Path(stimulus_set.get_stimulus(sid)) for sid in ids}
    # One placed file per distinct source file, so stimuli sharing a file still share one.
    first_id: dict[Path, str] = {}
    for sid, path in sources.items():
        first_id.setdefault(path, sid)
    names = {path: f"{n:06d}-{path.stem}.png" for n, path in enumerate(first_id)}
    if not (settings.reuse_cache and _is_verified(folder, set(names.values()))):
        _place_all(names, first_id, ratio, folder, stimulus_set.identifier)
    placed = StimulusSet(stimulus_set)
    placed.stimulus_paths = {sid: folder / names[sources[sid]] for sid in ids}
    placed.identifier = (
        f"{stimulus_set.identifier or 'stimuli'}-{source_visual_degrees:g}deg"
        f"-in-{target_visual_degrees:g}deg"
    )
    return placed


def place_image(image: Image.Image, ratio: float) -> Image.Image:
    """One image occupying ``ratio`` of the output's width and height, output size unchanged.

    ``ratio < 1``: shrunk onto a gray canvas; ``ratio > 1``: the central ``1 / ratio``
    cropped and enlarged.
    """
    image = image.convert("RGB")
    width, height = image.size
    if ratio < 1:
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        canvas = Image.new("RGB", (width, height), GRAY)
        canvas.paste(image.resize(size, Image.Resampling.BILINEAR),
                     ((width - size[0]) // 2, (height - size[1]) // 2))
        return canvas
    crop_w, crop_h = max(1, round(width / ratio)), max(1, round(height / ratio))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    cropped = image.crop((left, top, left + crop_w, top + crop_h))
    return cropped.resize((width, height), Image.Resampling.BILINEAR)


def _place_all(
    names: dict[Path, str],
    first_id: dict[Path, str],
    ratio: float,
    folder: Path,
    identifier: str | None,
) -> None:
    """Write every placed image into a temporary folder, then rename it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for source, name in tqdm(names.items(), desc=f"placing {identifier}", unit="image",
                                 leave=False, disable=len(names) < 100):
            try:
                placed = place_image(open_image(source), ratio)  # within the pixel budget
            except Exception as error:
                raise ModelError(
                    f"Stimulus {first_id[source]!r} of stimulus set {identifier!r} could not "
                    f"be decoded from {source} for placement: {type(error).__name__}: "
                    f"{error}. Replace the file."
                ) from error
            placed.save(temporary / name)
        manifest = {name: sha1_of_file(temporary / name) for name in names.values()}
        write_checked_json(temporary / "manifest.json", {"files": manifest})
        replace_folder(temporary, folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _is_verified(folder: Path, names: set[str]) -> bool:
    """Whether every placed image is there with the SHA1 the manifest recorded.

    A damaged folder (a file edited, missing or truncated) is reported with a
    :class:`~brainmark.exceptions.CacheIntegrityWarning` naming the bad file.
    """
    if not folder.exists():
        return False
    manifest = read_checked_json(folder / "manifest.json", what="placed-images manifest")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        if manifest is None and not (folder / "manifest.json").exists():
            distrust_cache_file(folder, "placed images", "it has no manifest.json")
        return False
    if set(files) != names:
        distrust_cache_file(folder, "placed images", "it holds other files than the stimuli")
        return False
    for name, sha1 in files.items():
        path = folder / name
        if not path.is_file() or content_sha1(path) != sha1:
            distrust_cache_file(path, "placed image", "it is missing or its bytes changed")
            return False
    return True

"""Small deterministic stimulus sets for tests, examples and plugin templates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainmark._files import safe_file_name
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ValidationError


def make_stimulus_set(
    folder: str | Path,
    stimulus_ids: int | Sequence[str] = 8,
    *,
    identifier: str = "brainmark-test",
    labels: Sequence[str] = ("disk", "stripes"),
    image_size: int = 32,
    seed: int = 0,
    **columns: Sequence[Any],
) -> StimulusSet:
    """Write one small PNG image per stimulus into ``folder``; return them as a StimulusSet.

    Stimulus ``n`` shows the pattern of class ``labels[n % len(labels)]`` in a color drawn
    from ``seed`` on a gray background: the first class a centred disk, every other class
    stripes at its own angle (the second horizontal). So a readout can tell the classes
    apart, every image differs from the others, and the same arguments always give the same
    bytes. Images are named after their stimulus ids; a file already there is replaced.

    Parameters
    ----------
    folder
        Where the images are written (created if needed).
    stimulus_ids
        The ids, or how many stimuli to make (ids ``stimulus0``, ``stimulus1``, ...).
    identifier
        The stimulus set's identifier.
    labels
        The classes, assigned in turn; each stimulus' class is its ``image_label``.
    image_size
        Width and height of each image in pixels.
    seed
        Seed of the colors.
    **columns
        More metadata columns, one value per stimulus (e.g. ``object_name=[...]``).

    Returns
    -------
    StimulusSet
        Columns ``stimulus_id``, ``image_label`` and ``columns``, with the image paths.

    Examples
    --------
    >>> stimuli = make_stimulus_set("images", 4, object_name=["a", "a", "b", "b"])
    >>> list(stimuli["image_label"])
    ['disk', 'stripes', 'disk', 'stripes']
    """
    from PIL import Image

    if isinstance(stimulus_ids, int):
        ids = [f"stimulus{n}" for n in range(stimulus_ids)]
    else:
        ids = [str(sid) for sid in stimulus_ids]
    wrong = {name: len(values) for name, values in columns.items() if len(values) != len(ids)}
    if wrong:
        raise ValidationError(
            f"make_stimulus_set makes {len(ids)} stimuli, but columns {sorted(wrong)} have "
            f"{sorted(set(wrong.values()))} values. Give one value per stimulus."
        )
    if not labels or image_size < 8:
        raise ValidationError(
            f"make_stimulus_set needs at least one label and images of 8 pixels or more; got "
            f"labels={list(labels)!r}, image_size={image_size!r}."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:image_size, :image_size] / image_size
    paths, image_labels = {}, []
    for n, sid in enumerate(ids):
        label_index = n % len(labels)
        image = np.full((image_size, image_size, 3), 128, dtype=np.uint8)
        image[_pattern(label_index, len(labels), x, y)] = rng.integers(64, 256, size=3)
        paths[sid] = folder / f"{safe_file_name(sid)}.png"
        Image.fromarray(image).save(paths[sid])
        image_labels.append(labels[label_index])
    metadata = {name: list(values) for name, values in columns.items()}
    return StimulusSet(
        {"stimulus_id": ids, "image_label": image_labels, **metadata},
        stimulus_paths=paths,
        identifier=identifier,
    )


def _pattern(label_index: int, n_labels: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pixels of class ``label_index``: a disk for the first, then stripes turning by class."""
    if label_index == 0:
        return (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1
    angle = np.pi * (label_index - 1) / max(n_labels - 1, 1)
    return np.sin(20 * (y * np.cos(angle) + x * np.sin(angle))) > 0

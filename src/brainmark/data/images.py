"""Decode stimulus images within a pixel budget, so one huge image cannot take gigabytes.

Pillow decodes an image at its full size before anything can shrink it: a 13,000 x 13,000
PNG of a few kilobytes becomes 169 M pixels, 0.8 to 1.3 GB of memory by the time it is
converted to RGB and resized.
:func:`open_image` reads the size from the header first and keeps the decoded image within
the budget (the ``max_image_pixels`` setting, ``BRAINMARK_MAX_IMAGE_PIXELS``):

- a baseline JPEG over the budget is decoded at 1/2, 1/4 or 1/8 of its width and height
  (libjpeg's DCT scaling, Pillow's ``Image.draft``), the smallest reduction that fits,
  without ever holding the full-size image;
- any other image over the budget is refused with
  :class:`~brainmark.exceptions.ImageTooLargeError`. Pillow decodes PNG, GIF, TIFF, BMP,
  WebP and the rest into a full-size buffer (its ``reduce`` works on decoded images only),
  and a progressive JPEG keeps every DCT coefficient of the full image while decoding, about
  3 bytes per pixel even when reduced.

Pillow's own decompression-bomb guard (a warning above 89 M pixels, an error above 179 M)
would speak first, on the header, and refuse JPEGs the budget can reduce; while brainmark
opens a stimulus the budget replaces it.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from brainmark.exceptions import ImageTooLargeError
from brainmark.settings import get_settings

# Reductions libjpeg applies while decoding (scale 1/2, 1/4, 1/8 of width and height).
JPEG_REDUCTIONS = (2, 4, 8)

_guard_lock = threading.Lock()
_guard_users = 0
_pillow_limit: int | None = None


def open_image(path: str | Path, *, max_pixels: int | None = None) -> Image.Image:
    """Decode an image file with at most ``max_pixels`` pixels.

    Parameters
    ----------
    path
        The image file.
    max_pixels
        Pixel budget (width x height of the decoded image); default the
        ``max_image_pixels`` setting.

    Returns
    -------
    PIL.Image.Image
        The decoded image, in the file's mode, its file closed. A baseline JPEG over the
        budget comes back reduced by 2, 4 or 8 in each dimension (the least that fits).

    Raises
    ------
    ImageTooLargeError
        When the image is over the budget and cannot be reduced while decoding: a format
        other than baseline JPEG, or a JPEG still over the budget at 1/8. The message names
        the file, its size, the budget and the setting that raises it.
    """
    budget = _budget(max_pixels)
    with _budget_replaces_pillow_guard(), Image.open(path) as image:
        reduction = _reduction(image, Path(path), budget)
        if reduction > 1:
            width, height = image.size
            image.draft(image.mode, (width // reduction, height // reduction))
            if image.size[0] * image.size[1] > budget:  # libjpeg chose a smaller reduction
                raise _too_large(Path(path), (width, height), budget, "JPEG")
        image.load()
    return image


def verify_image(path: str | Path, *, max_pixels: int | None = None) -> None:
    """Check, without decoding its pixels, that :func:`open_image` can decode ``path``.

    The header must fit the budget (or be a baseline JPEG that reduces to fit) and Pillow's
    ``verify`` must find the file intact.

    Raises
    ------
    ImageTooLargeError
        As :func:`open_image` would.
    Exception
        Whatever Pillow raises for a file that is not an intact image.
    """
    budget = _budget(max_pixels)
    with _budget_replaces_pillow_guard(), Image.open(path) as image:
        _reduction(image, Path(path), budget)
        image.verify()


def _budget(max_pixels: int | None) -> int:
    return get_settings().max_image_pixels if max_pixels is None else max_pixels


def _reduction(image: Image.Image, path: Path, budget: int) -> int:
    """The JPEG reduction (1 for none) that fits the image within ``budget``, or refuse it."""
    width, height = image.size
    if width * height <= budget:
        return 1
    progressive = image.info.get("progressive") or image.info.get("progression")
    if image.format == "JPEG" and not progressive:
        for reduction in JPEG_REDUCTIONS:
            if math.ceil(width / reduction) * math.ceil(height / reduction) <= budget:
                return reduction
    kind = f"progressive {image.format}" if progressive else str(image.format)
    raise _too_large(path, (width, height), budget, kind)


def _too_large(
    path: Path, size: tuple[int, int], budget: int, kind: str
) -> ImageTooLargeError:
    width, height = size
    if kind == "JPEG":
        why = (f"even reduced while decoding (at most to 1/{JPEG_REDUCTIONS[-1]} of its width "
               f"and height) it is over it")
    else:
        why = f"{kind} images cannot be reduced while decoding"
    return ImageTooLargeError(
        f"Stimulus image {path} is {width} x {height} = {width * height:,} pixels, over the "
        f"decoding budget of {budget:,} pixels, and {why}. Save it smaller (e.g. within "
        f"{math.isqrt(budget)} x {math.isqrt(budget)}), or raise the budget with the setting "
        f"BRAINMARK_MAX_IMAGE_PIXELS if the memory allows (decoding takes about 4 bytes per "
        f"pixel)."
    )


@contextlib.contextmanager
def _budget_replaces_pillow_guard() -> Iterator[None]:
    """Pillow's process-wide guard is off while any thread decodes through this module.

    The first user switches it off and the last one puts the previous limit back, so
    overlapping uses in threads never leave it off.
    """
    global _guard_users, _pillow_limit
    with _guard_lock:
        if _guard_users == 0:
            _pillow_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _guard_users += 1
    try:
        yield
    finally:
        with _guard_lock:
            _guard_users -= 1
            if _guard_users == 0:
                Image.MAX_IMAGE_PIXELS = _pillow_limit

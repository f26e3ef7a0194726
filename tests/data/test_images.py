"""Decoding within the pixel budget: huge images refused from the header, JPEGs reduced."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainmark.data import StimulusSet, validate_stimulus_set
from brainmark.data.images import open_image, verify_image
from brainmark.exceptions import ImageTooLargeError, ModelError
from brainmark.models.placement import place_on_screen
from brainmark.settings import get_settings, override_settings

HUGE_SIDE = 13_000


def write_blank_png(path: Path, width: int, height: int) -> Path:
    """A black 1-bit PNG written row by row with zlib: the full image never exists in memory.

    13,000 x 13,000 pixels compress to about 20 KB; Pillow decodes them to 169 MB (mode
    "1" takes a byte per pixel) and 507 MB once converted to RGB.
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


def write_jpeg(path: Path, width: int, height: int, **options) -> Path:
    """A smooth RGB gradient as a JPEG (so that reduced decodes can be compared)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(path, quality=95, **options)
    return path


_PEAK_OF_DECODING = textwrap.dedent(
    """
    import json, resource, sys
    from brainmark.data.images import open_image
    from brainmark.models.preprocessing import ImagePreprocessing

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    result = {}
    for name, decode in (("open_image", open_image), ("decode", ImagePreprocessing().decode)):
        before = peak_mib()
        try:
            decode(sys.argv[1])
            result[name] = {"error": None}
        except Exception as error:
            result[name] = {"error": f"{type(error).__name__}: {error}"}
        result[name]["peak_increase_mib"] = peak_mib() - before
    print(json.dumps(result))
    """
)


def test_a_huge_png_is_refused_from_its_header_with_bounded_memory(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", HUGE_SIDE, HUGE_SIDE)
    assert path.stat().st_size < 100_000
    child = subprocess.run([sys.executable, "-c", _PEAK_OF_DECODING, str(path)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    for name in ("open_image", "decode"):
        error = result[name]["error"]
        assert error is not None and error.startswith("ImageTooLargeError: "), (name, error)
        for part in (str(path), "13000 x 13000 = 169,000,000 pixels", "25,000,000 pixels",
                     "PNG images cannot be reduced", "BRAINMARK_MAX_IMAGE_PIXELS"):
            assert part in error
        # Decoding it whole takes 819 MiB (decode: RGB conversion and resize) here.
        assert result[name]["peak_increase_mib"] < 32, result


def test_validation_refuses_a_huge_png_naming_it_without_pillows_warning(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", HUGE_SIDE, HUGE_SIDE)
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 8)).save(small)
    stimuli = StimulusSet({"stimulus_id": ["small", "huge"]},
                          stimulus_paths={"small": small, "huge": path}, identifier="bombs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning included
        with pytest.raises(ImageTooLargeError, match=(
            rf"'bombs' has 1 stimulus images too large .*\['huge'\]\. First, stimulus_id "
            rf"'huge': Stimulus image {re.escape(str(path))} is 13000 x 13000"
        )):
            validate_stimulus_set(stimuli)


def test_placing_a_huge_png_names_the_stimulus_and_leaves_no_placed_folder(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", HUGE_SIDE, HUGE_SIDE)
    stimuli = StimulusSet({"stimulus_id": ["huge"]}, stimulus_paths={"huge": path},
                          identifier="bombs")
    with pytest.raises(ModelError, match=r"Stimulus 'huge' of stimulus set 'bombs' could not be "
                                         r"decoded .*ImageTooLargeError: .*13000 x 13000"):
        place_on_screen(stimuli, target_visual_degrees=8, source_visual_degrees=4)
    placed = get_settings().placed_dir
    assert not placed.exists() or list(placed.iterdir()) == []


def test_a_jpeg_over_the_budget_is_reduced_while_decoding(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", 1000, 600)
    full = Image.open(path).convert("RGB")
    # 1000 x 600 = 600,000 pixels; at 1/2, 500 x 300 = 150,000 > 40,000; at 1/4,
    # 250 x 150 = 37,500 <= 40,000: the least reduction that fits.
    reduced = open_image(path, max_pixels=40_000)
    assert reduced.size == (250, 150)
    with override_settings(max_image_pixels=40_000):
        assert open_image(path).size == (250, 150)
        verify_image(path)
    # The DCT-scaled decode shows the same picture as the full decode shrunk.
    shrunk = np.asarray(full.resize((250, 150), Image.Resampling.BOX), dtype=float)
    assert np.abs(np.asarray(reduced.convert("RGB"), dtype=float) - shrunk).mean() < 2.0


def test_a_jpeg_still_over_the_budget_at_an_eighth_is_refused(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", 1000, 600)
    # At 1/8: 125 x 75 = 9,375 pixels > 5,000.
    with pytest.raises(ImageTooLargeError, match=r"1000 x 600 = 600,000 pixels, over the "
                       r"decoding budget of 5,000 pixels, and even reduced while decoding"):
        open_image(path, max_pixels=5_000)


def test_a_progressive_jpeg_over_the_budget_is_refused(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", 1000, 600, progressive=True)
    with pytest.raises(ImageTooLargeError, match="progressive JPEG images cannot be reduced"):
        open_image(path, max_pixels=40_000)
    assert open_image(path, max_pixels=600_000).size == (1000, 600)


def test_a_jpeg_header_over_pillows_own_limit_is_judged_by_the_budget(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", 64, 48)
    content = bytearray(path.read_bytes())
    frame = content.index(b"\xff\xc0")  # SOF0: length, precision, height, width
    content[frame + 5:frame + 9] = struct.pack(">HH", 15_000, 15_000)  # 225 M pixels
    path.write_bytes(bytes(content))
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verify_image(path)  # 1/8 of it, 1875 x 1875, is within the default budget
        with pytest.raises(ImageTooLargeError, match="15000 x 15000 = 225,000,000 pixels"):
            verify_image(path, max_pixels=1_000_000)
    assert limit == Image.MAX_IMAGE_PIXELS  # Pillow's guard is back for everyone else


def test_an_image_within_the_budget_decodes_as_pillow_decodes_it(tmp_path):
    path = tmp_path / "small.png"
    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    decoded = open_image(path, max_pixels=1_200)
    assert decoded.size == (40, 30)
    np.testing.assert_array_equal(np.asarray(decoded), pixels)
    with pytest.raises(ImageTooLargeError, match="40 x 30 = 1,200 pixels"):
        open_image(path, max_pixels=1_199)

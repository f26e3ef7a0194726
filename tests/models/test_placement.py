"""place_on_screen: shrink onto gray or crop the centre, once per (stimuli, D, V)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from brainmark.data import StimulusSet
from brainmark.exceptions import CacheIntegrityWarning, ModelError, ValidationError
from brainmark.models import place_on_screen
from brainmark.settings import get_settings


@pytest.fixture
def square(tmp_path):
    """A 40 px image: white 20 px square in the middle of a black field."""
    pixels = np.zeros((40, 40, 3), dtype=np.uint8)
    pixels[10:30, 10:30] = 255
    Image.fromarray(pixels).save(tmp_path / "square.png")
    return StimulusSet(
        {"stimulus_id": ["square", "same-file"], "kind": ["a", "b"]},
        stimulus_paths={"square": tmp_path / "square.png", "same-file": tmp_path / "square.png"},
        identifier="squares",
    )


def load(stimuli, sid):
    return np.asarray(Image.open(stimuli.get_stimulus(sid)).convert("RGB")).astype(int)


def test_a_smaller_stimulus_is_shrunk_onto_a_gray_canvas(square):
    placed = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    image = load(placed, "square")
    assert image.shape == (40, 40, 3)
    # The 40 px image now spans 20 px centred: the black border of the original becomes
    # rows 10-14, the white square rows 15-24; outside, gray.
    assert (image[:10] == 128).all() and (image[30:] == 128).all()
    assert (image[16:24, 16:24] == 255).all()
    assert (image[11, 11] == 0).all()
    original = Image.open(square.get_stimulus("square"))
    expected = np.asarray(original.resize((20, 20), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(image[10:30, 10:30], expected)


def test_a_larger_stimulus_is_cropped_to_its_centre_and_enlarged(square):
    placed = place_on_screen(square, target_visual_degrees=4, source_visual_degrees=8)
    image = load(placed, "square")
    assert image.shape == (40, 40, 3)
    # The central 20 px (the white square) fills the whole image.
    assert (image == 255).all()


def test_equal_sizes_return_the_stimuli_unchanged(square):
    assert place_on_screen(square, target_visual_degrees=8, source_visual_degrees=8) is square


def test_placed_sets_keep_rows_and_share_files_like_the_original(square):
    placed = place_on_screen(square, target_visual_degrees=10, source_visual_degrees=5)
    assert list(placed["kind"]) == ["a", "b"]
    assert placed.get_stimulus("square") == placed.get_stimulus("same-file")
    assert placed.identifier == "squares-5deg-in-10deg"


def test_placement_is_written_once_per_stimuli_and_degrees(square):
    first = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    written = first.get_stimulus("square").stat().st_mtime_ns
    again = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    assert again.get_stimulus("square") == first.get_stimulus("square")
    assert again.get_stimulus("square").stat().st_mtime_ns == written
    other = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=2)
    assert other.get_stimulus("square").parent != first.get_stimulus("square").parent


def test_non_positive_degrees_are_refused(square):
    with pytest.raises(ValidationError, match="source_visual_degrees must be > 0"):
        place_on_screen(square, target_visual_degrees=8, source_visual_degrees=0)


def test_an_undecodable_stimulus_is_named_and_nothing_is_cached(square, tmp_path):
    (tmp_path / "square.png").write_bytes(b"not an image")
    with pytest.raises(ModelError, match=r"Stimulus 'square'.*square\.png"):
        place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    assert not list((get_settings().placed_dir).iterdir())


def test_a_changed_image_under_the_same_name_and_id_is_placed_anew(square, tmp_path):
    before = load(place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4),
                  "square")
    pixels = np.full((40, 40, 3), 255, dtype=np.uint8)  # now all white, same file name
    Image.fromarray(pixels).save(tmp_path / "square.png")
    after = load(place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4),
                 "square")
    assert (before[20, 5] == 128).all() and (before[12, 12] == 0).all()
    assert (after[12, 12] == 255).all()


def test_a_same_size_change_to_a_placed_image_is_reported_and_placed_again(square):
    placed = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    expected = load(placed, "square")
    path = placed.get_stimulus("square")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same name, same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.warns(CacheIntegrityWarning, match=f"{path}.*bytes changed"):
        again = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    np.testing.assert_array_equal(load(again, "square"), expected)


def test_placed_images_without_their_manifest_are_placed_again(square):
    placed = place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    folder = placed.get_stimulus("square").parent
    (folder / "manifest.json").unlink()
    with pytest.warns(CacheIntegrityWarning, match="no manifest.json"):
        place_on_screen(square, target_visual_degrees=8, source_visual_degrees=4)
    assert (folder / "manifest.json").is_file()

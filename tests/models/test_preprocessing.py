"""ImagePreprocessing: an image file -> a normalized tensor."""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainmark.models import ImagePreprocessing


def test_grayscale_preprocessing_gives_one_normalized_channel(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    tensor = ImagePreprocessing(size=4, mean=(0.5,), std=(0.25,), grayscale=True)(
        tmp_path / "white.png"
    )
    assert tensor.shape == (1, 4, 4)
    np.testing.assert_allclose(tensor.numpy(), (1 - 0.5) / 0.25)

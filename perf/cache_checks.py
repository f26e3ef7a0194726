"""What checking derived files costs; prints JSON and writes results/cache_checks.json.

- SHA1 throughput (seconds per GB): what verifying a cached activations file costs the
  first time a process reads it.
- Reading a cached activations entry of about 1 GB (5,000 stimuli x 50,000 units, float32)
  through ``extract_activations``: first read in a process (hash verified) and a later
  read (hash remembered), against ``numpy.load`` of the same file with no check.
- Keying a stimulus set by its files' bytes (Kriegeskorte 2008, 92 images).
- ``brainmark score pixels Coggan2024.V1-rdm`` answered from the result cache: in-process
  and as a command (including Python start-up and imports).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from data_loading import median_seconds  # perf/ is on sys.path when run

RESULTS = Path(__file__).parent / "results" / "cache_checks.json"
ROWS, UNITS = 5_000, 50_000


class Wide(torch.nn.Module):
    """Emits UNITS values per image at almost no compute: the cost measured is the cache's."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Identity()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), -1)[:, :1]
        return self.features(flat.repeat(1, UNITS))


def main() -> None:
    from brainmark import _files
    from brainmark._files import sha1_of_file
    from brainmark.data import StimulusSet
    from brainmark.data.hashing import stimulus_set_sha1
    from brainmark.models import ImagePreprocessing, extract_activations
    from brainmark.settings import override_settings

    results: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory() as folder, override_settings(home=Path(folder) / "home"):
        folder = Path(folder)
        block = folder / "block.bin"
        block.write_bytes(os.urandom(256 << 20))
        results["sha1_s_per_gb"] = round(median_seconds(lambda: sha1_of_file(block)) * 4, 3)
        block.unlink()

        # One tiny image file shared by every stimulus row would be de-duplicated; write
        # ROWS distinct 8 px images instead.
        images = folder / "images"
        images.mkdir()
        rng = np.random.default_rng(0)
        from PIL import Image

        paths = {}
        for n in range(ROWS):
            paths[f"s{n:05d}"] = images / f"s{n:05d}.png"
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(paths[f"s{n:05d}"])
        stimuli = StimulusSet({"stimulus_id": list(paths)}, stimulus_paths=paths, identifier="wide")
        model = Wide()
        extract = lambda: extract_activations(  # noqa: E731
            model, stimuli, ["features"], preprocessing=ImagePreprocessing(size=8),
            identifier="wide", batch_size=500, num_workers=0, progress=False,
        )
        extract()  # fill the cache
        [npy] = (folder / "home" / "cache" / "activations").rglob("activations.npy")
        results["activations_file_gb"] = round(npy.stat().st_size / 1e9, 3)
        old = time.time() - 3600  # old enough for the per-process hash memo
        for path in [npy, *paths.values()]:
            os.utime(path, (old, old))
        time.sleep(2.1)  # the ctime is now; wait until the memo may remember it

        _files._content_memo.clear()
        start = time.perf_counter()
        _files.content_sha1(npy)
        results["verify_activations_s_per_gb"] = round(
            (time.perf_counter() - start) / (npy.stat().st_size / 1e9), 3
        )
        _files._content_memo.clear()
        start = time.perf_counter()
        extract()
        results["read_cached_first_in_process_s"] = round(time.perf_counter() - start, 3)
        results["read_cached_again_s"] = round(median_seconds(extract), 3)
        results["numpy_load_unchecked_s"] = round(
            median_seconds(lambda: np.array(np.load(npy, mmap_mode="r"))), 3
        )
        _files._content_memo.clear()
        first_key = median_seconds(lambda: stimulus_set_sha1(stimuli), 1)
        results["stimuli_key_5000_files_first_s"] = round(first_key, 3)
        again_key = median_seconds(lambda: stimulus_set_sha1(stimuli))
        results["stimuli_key_5000_files_again_s"] = round(again_key, 4)

        from brainmark.scoring import score_model

        score_model("pixels", "Coggan2024.V1-rdm")
        results["score_from_result_cache_in_process_s"] = round(
            median_seconds(lambda: score_model("pixels", "Coggan2024.V1-rdm"), 5), 4
        )
        command = [str(Path(sys.executable).parent / "brainmark"), "score", "pixels",
                   "Coggan2024.V1-rdm"]
        environment = {**os.environ, "BRAINMARK_HOME": str(folder / "home")}
        results["score_from_result_cache_command_s"] = round(
            median_seconds(lambda: subprocess.run(command, env=environment, check=True,
                                           capture_output=True)), 3
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

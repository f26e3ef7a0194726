"""Time packaging and loading of the Kriegeskorte 2008 data plugin; prints JSON.

Cold loads use a fresh BRAINMARK_HOME (empty cache: copy, verify SHA1, extract the ZIP);
warm loads hit the cache (SHA1 still verified). Median of several repeats; also written to
results/data_loading.json.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import brainmark
from brainmark.data import package_data_assembly_locally, package_stimulus_set_locally
from brainmark.settings import override_settings

REPEATS = 5
RESULTS = Path(__file__).parent / "results" / "data_loading.json"


def median_seconds(function, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        counter = iter(range(10**6))

        def cold(load):
            with override_settings(home=folder / f"home{next(counter)}"):
                load()

        results["stimulus_set_cold_load_s"] = median_seconds(
            lambda: cold(lambda: brainmark.load_stimulus_set("Kriegeskorte2008")))
        results["mIT_cold_load_s"] = median_seconds(
            lambda: cold(lambda: brainmark.load_dataset("Kriegeskorte2008.mIT")))
        with override_settings(home=folder / "warm"):
            stimuli = brainmark.load_stimulus_set("Kriegeskorte2008")
            rdm = brainmark.load_dataset("Kriegeskorte2008.mIT")
            results["stimulus_set_cache_hit_load_s"] = median_seconds(
                lambda: brainmark.load_stimulus_set("Kriegeskorte2008"))
            results["mIT_cache_hit_load_s"] = median_seconds(
                lambda: brainmark.load_dataset("Kriegeskorte2008.mIT"))
            results["behavior_16_subjects_cache_hit_load_s"] = median_seconds(
                lambda: brainmark.load_dataset("Kriegeskorte2008.behavior-similarity"))
            results["package_stimulus_set_s"] = median_seconds(
                lambda: package_stimulus_set_locally(stimuli, "bench", folder / "out"))
            results["package_mIT_s"] = median_seconds(
                lambda: package_data_assembly_locally(
                    rdm, "bench.mIT", "bench", "PropertyAssembly", folder / "out"))
    text = json.dumps({name: round(value, 4) for name, value in results.items()}, indent=2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

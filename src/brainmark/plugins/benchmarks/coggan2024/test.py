import pytest

from brainmark import load_benchmark, load_model
from brainmark.testing import check_benchmark

REGIONS = ["V1", "V2", "V4", "IT"]
# Computed by this implementation once (brainmark 0.1.0) and pinned: any change to the
# data, the metric, the ceiling or the models that moves a number must be deliberate.
CEILINGS = {
    "V1": 0.3781266151290333,
    "V2": 0.3910091130000496,
    "V4": 0.30960408092644776,
    "IT": 0.21776204629514814,
}
RAW = {
    "pixels": {
        "V1": 0.023545099230647137,
        "IT": 0.04282263386660376,
    },
    "gabor-v1": {
        "V1": 0.08807840850383407,
        "V2": 0.08595727024337368,
        "V4": 0.05104308111982045,
        "IT": 0.07013610001751223,
    },
}


@pytest.mark.parametrize("region", REGIONS)
def test_benchmark_passes_the_generic_checks_with_the_pinned_ceiling(region):
    benchmark = load_benchmark(f"Coggan2024.{region}-rdm")
    check_benchmark(benchmark)
    assert benchmark.parent == region
    assert float(benchmark.ceiling) == pytest.approx(CEILINGS[region], rel=1e-6)


@pytest.mark.parametrize("model", sorted(RAW))
def test_scores_of_built_in_models_are_pinned(model):
    for region, raw in RAW[model].items():
        score = load_benchmark(f"Coggan2024.{region}-rdm")(load_model(model))
        assert float(score.attrs["raw"]) == pytest.approx(raw, rel=1e-6)
        assert float(score) == pytest.approx(raw / CEILINGS[region], rel=1e-6)
        assert score.attrs["raw"].attrs["raw"].sizes["subject"] == 9

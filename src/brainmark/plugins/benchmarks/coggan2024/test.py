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
    "pixels": {"V1": 0.023553920100387857, "IT": 0.04281392064068007},
    "gabor-v1": {
        "V1": 0.08805877991060172,
        "V2": 0.08593799294776738,
        "V4": 0.05103144719322041,
        "IT": 0.0701315781723423,
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

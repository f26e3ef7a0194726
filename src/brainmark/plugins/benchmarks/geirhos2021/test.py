import pytest

from brainmark import load_benchmark, load_model
from brainmark.testing import check_benchmark

SETS = ["edge", "silhouette"]
# Computed by this implementation once (brainmark 0.1.0) and pinned.
CEILINGS = {"edge": 0.3184364338405932, "silhouette": 0.4757093214647689}
SCORES = {  # ceiled scores; top1 has ceiling 1
    "pixels": {
        "Geirhos2021edge-top1": 0.1,
        "Geirhos2021edge-error_consistency": 0.011503311696532853,
        "Geirhos2021silhouette-top1": 0.16875,
        "Geirhos2021silhouette-error_consistency": -0.010667478561121633,
    },
    "gabor-v1": {
        "Geirhos2021edge-top1": 0.275,
        "Geirhos2021edge-error_consistency": 0.1862392538921789,
        "Geirhos2021silhouette-top1": 0.3375,
        "Geirhos2021silhouette-error_consistency": 0.2468133403182346,
    },
}


@pytest.mark.parametrize("image_set", SETS)
def test_benchmarks_pass_the_generic_checks_with_their_ceilings(image_set):
    top1 = load_benchmark(f"Geirhos2021{image_set}-top1")
    consistency = load_benchmark(f"Geirhos2021{image_set}-error_consistency")
    check_benchmark(top1)
    check_benchmark(consistency)
    assert (top1.parent, consistency.parent) == ("engineering", "behavior")
    assert float(top1.ceiling) == 1.0
    assert float(consistency.ceiling) == pytest.approx(CEILINGS[image_set], rel=1e-6)


def test_readout_is_fitted_on_the_other_image_set_only():
    for image_set, other in [("edge", "silhouette"), ("silhouette", "edge")]:
        benchmark = load_benchmark(f"Geirhos2021{image_set}-top1")
        fitting = benchmark._fitting_source()
        assert set(fitting["image_set"]) == {other}
        assert not set(fitting["stimulus_id"]) & set(benchmark.stimulus_set["stimulus_id"])
        # Both sets render the same photos: the readout is cross-fitted by object.
        assert benchmark.cross_fit_by == "object_id"
        assert set(fitting["object_id"]) == set(benchmark.stimulus_set["object_id"])


@pytest.mark.parametrize("model", sorted(SCORES))
def test_scores_of_built_in_models_are_pinned(model):
    for identifier, expected in SCORES[model].items():
        score = load_benchmark(identifier)(load_model(model))
        assert float(score) == pytest.approx(expected, rel=1e-6), identifier

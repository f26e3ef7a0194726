import numpy as np
import pytest

from brainmark import load_benchmark, load_model
from brainmark.data import BehavioralAssembly, StimulusSet
from brainmark.testing import check_benchmark

BENCHMARKS = ["Kriegeskorte2008.IT-rdm", "Kiani2007.IT-rdm", "Mur2013-rdm"]
# Computed by this implementation once (brainmark 0.1.0) and pinned.
CEILINGS = {
    "Kriegeskorte2008.IT-rdm": 0.37856374906211765,
    "Kiani2007.IT-rdm": 1.0,
    "Mur2013-rdm": 0.47759987284941974,
}
RAW = {
    "pixels": {
        "Kriegeskorte2008.IT-rdm": 0.07905366005149692,
        "Kiani2007.IT-rdm": 0.14483041082048842,
        "Mur2013-rdm": 0.09646020597365795,
    },
    "gabor-v1": {
        "Kriegeskorte2008.IT-rdm": 0.08563889378526243,
        "Kiani2007.IT-rdm": 0.2198154434958364,
        "Mur2013-rdm": 0.08017671017186884,
    },
}


@pytest.mark.parametrize("identifier", BENCHMARKS)
def test_benchmark_passes_the_generic_checks_with_the_pinned_ceiling(identifier):
    benchmark = load_benchmark(identifier)
    check_benchmark(benchmark)
    assert float(benchmark.ceiling) == pytest.approx(CEILINGS[identifier], rel=1e-6)


@pytest.mark.parametrize("model", sorted(RAW))
def test_scores_of_built_in_models_are_pinned(model):
    for identifier, raw in RAW[model].items():
        score = load_benchmark(identifier)(load_model(model))
        assert float(score.attrs["raw"]) == pytest.approx(raw, rel=1e-6), identifier
        assert float(score) == pytest.approx(raw / CEILINGS[identifier], rel=1e-6)


def test_triplet_rdm_counts_how_often_each_pair_stays_together():
    from brainmark.registry import benchmark_registry

    module = benchmark_registry["Mur2013-rdm"].__module__
    import sys

    benchmark_module = sys.modules[module]
    ids = ["a", "b", "c", "d"]
    stimuli = StimulusSet({"stimulus_id": ids}, stimulus_paths={i: f"{i}.png" for i in ids})
    trials = benchmark_module.odd_one_out_trials(stimuli)
    assert len(trials) == 4  # 4 choose 3
    # Triplets abc, abd, acd, bcd; odd ones c, d, d, d: kept pairs ab, ab, ac, bc.
    odd = BehavioralAssembly(
        ["c", "d", "d", "d"], dims=("presentation",),
        coords={"stimulus_id": ("presentation", list(trials["stimulus_id"]))},
    )
    rdm = benchmark_module.triplet_rdm(trials, odd, ids)
    # Each pair is in n - 2 = 2 triplets: similarity ab = 2/2, ac = bc = 1/2, *d = 0.
    expected_similarity = np.array(
        [[1, 1, 0.5, 0], [1, 1, 0.5, 0], [0.5, 0.5, 1, 0], [0, 0, 0, 1]]
    )
    np.testing.assert_allclose(rdm.values, 1 - expected_similarity)
    assert list(rdm["stimulus_row"].values) == ids

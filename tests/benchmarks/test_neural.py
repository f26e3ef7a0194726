import numpy as np
import pytest
import scipy.stats

from brainmark import load_metric, load_model, load_stimulus_set
from brainmark.benchmarks import NeuralBenchmark
from brainmark.data import NeuroidAssembly


def _responses(stimulus_ids, repetitions=4, neuroids=30, seed=0):
    """Seeded responses: a stimulus signal per neuroid plus trial noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(len(stimulus_ids), neuroids))
    values = np.concatenate(
        [signal + 0.5 * rng.normal(size=signal.shape) for _ in range(repetitions)]
    )
    return NeuroidAssembly(
        values,
        dims=("presentation", "neuroid"),
        coords={
            "stimulus_id": ("presentation", list(stimulus_ids) * repetitions),
            "repetition": ("presentation", np.repeat(np.arange(repetitions), len(stimulus_ids))),
            "neuroid_id": ("neuroid", [f"n{i}" for i in range(neuroids)]),
            "region": ("neuroid", ["IT"] * neuroids),
        },
    )


def _upper(rdm):
    return rdm[np.triu_indices_from(rdm, k=1)]


def test_neural_benchmark_compares_the_region_with_repetition_averaged_data():
    stimuli = load_stimulus_set("Coggan2024")
    data = _responses(list(stimuli["stimulus_id"]))
    model = load_model("pixels")
    benchmark = NeuralBenchmark(
        "Test2024.IT-rdm", version=1, assembly=data, stimulus_set=stimuli, region="IT",
        visual_degrees=model.visual_degrees(), metric=load_metric("rdm"), parent="IT",
        bibtex="@article{test}",
    )
    score = benchmark(model)

    # Independently: the model's IT responses and the mean over repetitions, compared as
    # RDMs (1 - Pearson r) with a Spearman correlation of the upper triangles.
    model.start_recording("IT", time_bins=[(70, 170)])
    features = model.look_at(stimuli).values.reshape(len(stimuli), -1)
    means = data.values.reshape(4, len(stimuli), -1).mean(axis=0)
    expected = scipy.stats.spearmanr(
        _upper(1 - np.corrcoef(features)), _upper(1 - np.corrcoef(means))
    ).statistic
    assert float(score.attrs["raw"]) == pytest.approx(expected, rel=1e-9)
    ceiling = load_metric("internal_consistency")(data)
    assert float(score.attrs["ceiling"]) == pytest.approx(float(ceiling))
    assert float(score) == pytest.approx(expected / float(ceiling))


def test_neural_benchmark_loads_its_data_only_when_first_used():
    def explode():
        raise AssertionError("loaded at construction")

    benchmark = NeuralBenchmark(
        "Test2024.IT-pls", version=1, assembly=explode, stimulus_set=explode, region="IT",
        visual_degrees=8, metric=load_metric("pls"), parent="IT", bibtex="@article{test}",
    )
    assert benchmark.identifier == "Test2024.IT-pls"

import re

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from brainmark import load_metric, load_model, load_stimulus_set
from brainmark.benchmarks import NeuralBenchmark
from brainmark.data import NeuroidAssembly, average_repetitions
from brainmark.exceptions import ModelError, ValidationError


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


class ShownStimuli:
    """Wraps a model, remembering the stimulus ids it was shown; can skip the first one."""

    def __init__(self, model, skip_first=False):
        self.model, self.skip_first, self.shown = model, skip_first, []
        self.identifier = f"{model.identifier}-wrapped"

    def visual_degrees(self):
        return self.model.visual_degrees()

    def start_recording(self, region, time_bins):
        self.model.start_recording(region, time_bins=time_bins)

    def look_at(self, stimuli, number_of_trials=1):
        self.shown.append(list(stimuli["stimulus_id"]))
        if self.skip_first:
            stimuli = stimuli.subset(list(stimuli["stimulus_id"])[1:])
        return self.model.look_at(stimuli, number_of_trials=number_of_trials)


class NeverLooks(ShownStimuli):
    def look_at(self, stimuli, number_of_trials=1):
        raise AssertionError("the model ran")


def _rdm_benchmark(data, stimuli, model):
    return NeuralBenchmark(
        "Test2024.IT-rdm", version=1, assembly=data, stimulus_set=stimuli, region="IT",
        visual_degrees=model.visual_degrees(), metric="rdm", parent="IT",
        bibtex="@article{test}",
    )


def _expected_rdm_score(model, stimuli, means):
    """Spearman r of the upper triangles of the model's and the data's RDMs (1 - Pearson)."""
    model.start_recording("IT", time_bins=[(70, 170)])
    features = model.look_at(stimuli).values.reshape(len(stimuli), -1)
    return scipy.stats.spearmanr(
        _upper(1 - np.corrcoef(features)), _upper(1 - np.corrcoef(means))
    ).statistic


def test_stimuli_the_data_has_no_responses_to_are_not_shown():
    stimuli = load_stimulus_set("Coggan2024")
    recorded = list(stimuli["stimulus_id"])[:20]
    data = _responses(recorded)
    model = ShownStimuli(load_model("pixels"))
    score = _rdm_benchmark(data, stimuli, model)(model)

    assert model.shown == [recorded]
    means = data.values.reshape(4, 20, -1).mean(axis=0)
    expected = _expected_rdm_score(load_model("pixels"), stimuli.subset(recorded), means)
    assert float(score.attrs["raw"]) == pytest.approx(expected, rel=1e-9)


def test_data_stimuli_missing_from_the_stimulus_set_are_refused_before_the_model_runs():
    stimuli = load_stimulus_set("Coggan2024")
    data = _responses([*list(stimuli["stimulus_id"])[:5], "photo_of_a_cat"])
    model = NeverLooks(load_model("pixels"))
    with pytest.raises(ValidationError, match=re.escape(
        "Benchmark 'Test2024.IT-rdm': the data has responses to 1 stimuli that are not in its "
        "stimulus set 'Coggan2024': stimulus_id ['photo_of_a_cat']. A model can only be shown "
        "stimuli of the stimulus set: give the benchmark the stimulus set the data was "
        "recorded with"
    )):
        _rdm_benchmark(data, stimuli, model)(model)


def test_a_model_that_skips_a_stimulus_is_blamed_by_name():
    stimuli = load_stimulus_set("Coggan2024")
    data = _responses(list(stimuli["stimulus_id"]))
    model = ShownStimuli(load_model("pixels"), skip_first=True)
    first = stimuli["stimulus_id"].iloc[0]
    with pytest.raises(ModelError, match=re.escape(
        f"Model 'pixels-wrapped' on benchmark 'Test2024.IT-rdm': it returned nothing for 1 of "
        f"the 24 stimuli shown: stimulus_id [{first!r}]. A BrainModel's look_at must return "
        f"one presentation per stimulus given"
    )):
        _rdm_benchmark(data, stimuli, model)(model)


def test_nan_padded_repetitions_are_left_out_of_the_data_means():
    stimuli = load_stimulus_set("Coggan2024")
    data = _responses(list(stimuli["stimulus_id"]), repetitions=5)
    values = data.values.copy()
    values[4 * 24:, :10] = np.nan  # the last repetition was not recorded for 10 neuroids
    values[3 * 24 + 2, :] = np.nan  # nor the fourth of stimulus 2
    padded = data.copy(data=values)
    model = load_model("pixels")
    score = _rdm_benchmark(padded, stimuli, model)(model)

    means = np.nanmean(values.reshape(5, 24, -1), axis=0)
    expected = _expected_rdm_score(model, stimuli, means)
    assert float(score.attrs["raw"]) == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(float(score.attrs["ceiling"]))


def test_time_bins_are_scored_bin_by_bin_by_the_metric_and_averaged():
    stimuli = load_stimulus_set("Coggan2024")
    ids = list(stimuli["stimulus_id"])
    bins = [_responses(ids, seed=seed) for seed in (0, 1)]
    data = NeuroidAssembly(xr.concat(bins, dim="time_bin").transpose(
        "presentation", "neuroid", "time_bin").assign_coords(
        time_bin_start=("time_bin", [70, 170]), time_bin_end=("time_bin", [170, 270])))
    model = load_model("pixels")
    benchmark = NeuralBenchmark(
        "Test2024.IT-ridge", version=1, assembly=data, stimulus_set=stimuli, region="IT",
        visual_degrees=model.visual_degrees(), metric="ridge", parent="IT",
        bibtex="@article{test}", time_bins=[(70, 170), (170, 270)],
    )
    score = benchmark(model)

    model.start_recording("IT", time_bins=[(70, 170), (170, 270)])
    recording = model.look_at(stimuli)
    ridge = load_metric("ridge")
    per_bin = [
        float(ridge(recording.isel(time_bin=[k]), average_repetitions(bins[k])))
        for k in range(2)
    ]
    assert float(score.attrs["raw"]) == pytest.approx(np.mean(per_bin), rel=1e-9)

"""What every benchmark checks when built, and its cached ceiling."""

import re

import numpy as np
import pytest

from brainmark._files import read_checked_json, write_checked_json
from brainmark.benchmarks import (
    BehavioralBenchmark,
    BenchmarkBase,
    NeuralBenchmark,
    RSABenchmark,
)
from brainmark.data import PropertyAssembly, assembly_sha1
from brainmark.data.packaging import benchmark_identifier_parts, validate_identifier
from brainmark.exceptions import (
    BenchmarkError,
    CacheIntegrityWarning,
    UnknownPluginError,
    ValidationError,
)
from brainmark.metrics import no_ceiling
from brainmark.model_interface import Task


def _never_loaded():
    raise AssertionError("data loaded while building the benchmark")


def _neural(identifier="Test2024.IT-pls", visual_degrees=8, metric="pls"):
    return NeuralBenchmark(
        identifier, version=1, assembly=_never_loaded, stimulus_set=_never_loaded,
        region="IT", visual_degrees=visual_degrees, metric=metric, parent="IT",
        bibtex="@article{x}",
    )


def _rsa(identifier="Test2024.IT-rdm", visual_degrees=8, metric=None):
    return RSABenchmark(
        identifier, version=1, rdms=_never_loaded, stimulus_set=_never_loaded, region="IT",
        visual_degrees=visual_degrees, metric=metric, parent="IT", bibtex="@article{x}",
    )


def _behavioral(identifier="Test2024-top1", visual_degrees=8, metric="accuracy"):
    return BehavioralBenchmark(
        identifier, version=1, assembly=_never_loaded, stimulus_set=_never_loaded,
        task=Task.label, fitting_stimuli=_never_loaded, visual_degrees=visual_degrees,
        metric=metric, ceiler=lambda _: no_ceiling(), parent="engineering",
        bibtex="@article{x}",
    )


BUILDERS = {"neural": _neural, "rsa": _rsa, "behavioral": _behavioral}
IDENTIFIERS = {"neural": "Test2024.IT-pls", "rsa": "Test2024.IT-rdm",
               "behavioral": "Test2024-top1"}


def _rdm(values):
    ids = [f"s{n}" for n in range(values.shape[-1])]
    return PropertyAssembly(
        values, dims=("stimulus_row", "stimulus_column"),
        coords={"stimulus_row": ids, "stimulus_column": ids},
    )


class CountingBenchmark(BenchmarkBase):
    """A benchmark whose ceiling is a known number and counts how often it is computed."""

    def __init__(self, version=1, data=0.0, ceiling=0.8):
        self.calls = 0
        self.data = _rdm(np.full((3, 3), data))

        def ceiling_func():
            from brainmark.metrics import Score

            self.calls += 1
            return Score(ceiling)

        super().__init__("Test2024.IT-rdm", version, ceiling_func, "IT", "@article{x}")

    def data_sha1(self):
        return assembly_sha1(self.data)

    def raw_score(self, model):
        from brainmark.metrics import Score

        raw = Score(0.4)
        raw.attrs["error"] = 0.05
        return raw


@pytest.mark.parametrize(
    "identifier", ["Kriegeskorte2008.IT-rdm", "Coggan2024.V1-rdm", "Geirhos2021edge-top1",
                   "Geirhos2021silhouette-error_consistency", "Mur2013-rdm"]
)
def test_identifiers_of_the_documented_forms_are_accepted(identifier):
    validate_identifier(identifier)


@pytest.mark.parametrize(
    "identifier",
    ["IT-rdm", "kriegeskorte.IT", "Smith2024", "Smith2024.IT", "Smith2024.IT-", "", None,
     "Smith 2024.IT-rdm", "Smith2024..IT-rdm"],
)
def test_identifiers_without_author_year_and_metric_are_refused(identifier):
    with pytest.raises(ValidationError, match="AuthorYear"):
        validate_identifier(identifier)


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [("Kriegeskorte2008.IT-rdm", ("Kriegeskorte2008", "IT", "rdm")),
     ("Geirhos2021edge-error_consistency", ("Geirhos2021edge", None, "error_consistency")),
     ("Marques2020_Ringach2002.V1-or_bandwidth", ("Marques2020_Ringach2002", "V1",
                                                  "or_bandwidth"))],
)
def test_identifier_parts_are_author_year_region_and_metric(identifier, parts):
    assert tuple(benchmark_identifier_parts(identifier).values()) == parts


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_benchmark_refuses_an_identifier_not_of_the_form_when_built(kind):
    with pytest.raises(ValidationError, match=r"AuthorYear.*Got 'Smith2024\.IT'"):
        BUILDERS[kind](identifier="Smith2024.IT")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("degrees", [8, 2.9, np.float64(7.5), np.int64(4), 180])
def test_visual_degrees_in_range_are_kept_as_given(kind, degrees):
    assert BUILDERS[kind](visual_degrees=degrees).visual_degrees is degrees


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("degrees", ["8", None, 0, -4, float("nan"), float("inf"), 360, True])
def test_visual_degrees_that_are_no_size_are_refused_naming_benchmark_and_value(kind, degrees):
    message = (
        f"The 'visual_degrees' parameter of benchmark '{IDENTIFIERS[kind]}' must be the size "
        f"of the stimuli in the experiment in degrees of visual angle, a number in (0, 180]. "
        f"Got {degrees!r} instead."
    )
    with pytest.raises(ValidationError, match=re.escape(message)):
        BUILDERS[kind](visual_degrees=degrees)


@pytest.mark.parametrize("kind", ["neural", "behavioral"])
def test_a_metric_is_given_by_its_registered_name_and_loaded_on_first_use(kind):
    benchmark = BUILDERS[kind]()
    assert type(benchmark.metric).__name__ == {
        "neural": "PLSRegressionCorrelation", "behavioral": "Accuracy"}[kind]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_an_unknown_metric_name_is_refused_with_the_closest_names(kind):
    with pytest.raises(UnknownPluginError, match=(
        rf"The 'metric' parameter of benchmark '{re.escape(IDENTIFIERS[kind])}': No plugin "
        r"registers metric 'plss'. Did you mean one of \['pls'\]\?"
    )):
        BUILDERS[kind](metric="plss")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_metric_that_is_neither_a_name_nor_callable_is_refused(kind):
    with pytest.raises(ValidationError, match=(
        rf"The 'metric' parameter of benchmark '{re.escape(IDENTIFIERS[kind])}' must be a "
        r"metric \(e.g. load_metric\('pls'\)\) or the name of a registered one.*Got a "
        r"float: 0.5"
    )):
        BUILDERS[kind](metric=0.5)


def test_a_neural_benchmark_without_a_metric_says_how_to_give_one():
    with pytest.raises(ValidationError, match=r"needs a metric: a registered name such as"):
        _neural(metric=None)


def test_an_rsa_benchmark_refuses_several_time_bins():
    with pytest.raises(ValidationError, match=r"compares RDMs, which have no time"):
        RSABenchmark(
            "Test2024.IT-rdm", version=1, rdms=_never_loaded, stimulus_set=_never_loaded,
            region="IT", visual_degrees=8, parent="IT", bibtex="@article{x}",
            time_bins=[(70, 170), (170, 270)],
        )


def test_ceiling_is_computed_once_and_cached_on_disk():
    first = CountingBenchmark()
    assert float(first.ceiling) == pytest.approx(0.8)
    assert float(first.ceiling) == pytest.approx(0.8)
    again = CountingBenchmark()  # a new instance, e.g. in another process
    assert float(again.ceiling) == pytest.approx(0.8)
    assert first.calls == 1 and again.calls == 0
    record = read_checked_json(first.ceiling_cache_path(), what="ceiling")
    assert record["key"]["version"] == 1 and record["value"] == pytest.approx(0.8)


def test_ceiling_is_recomputed_when_version_changes():
    assert float(CountingBenchmark(version=1).ceiling) == pytest.approx(0.8)
    bumped = CountingBenchmark(version=2, ceiling=0.6)
    assert float(bumped.ceiling) == pytest.approx(0.6)
    assert bumped.calls == 1


def test_ceiling_is_recomputed_when_the_data_changes():
    assert float(CountingBenchmark(data=0.0).ceiling) == pytest.approx(0.8)
    changed = CountingBenchmark(data=1.0, ceiling=0.7)
    assert float(changed.ceiling) == pytest.approx(0.7)
    assert changed.calls == 1


def test_calling_a_benchmark_ceils_the_raw_score_and_records_provenance():
    benchmark = CountingBenchmark()
    score = benchmark(object())
    assert float(score.attrs["raw"]) == pytest.approx(0.4)
    assert float(score.attrs["ceiling"]) == pytest.approx(0.8)
    assert float(score) == pytest.approx(0.5)  # 0.4 / 0.8
    assert score.attrs["benchmark_identifier"] == "Test2024.IT-rdm"
    assert score.attrs["benchmark_version"] == 1
    assert score.attrs["model_identifier"] == "object"


def test_a_nan_ceiling_is_refused_naming_the_benchmark():
    with pytest.raises(BenchmarkError, match=r"Test2024.IT-rdm"):
        _ = CountingBenchmark(ceiling=float("nan")).ceiling


@pytest.mark.parametrize("cached_value", [float("nan"), 0.0, -0.2])
def test_an_unusable_cached_ceiling_is_reported_and_recomputed(cached_value):
    first = CountingBenchmark()
    path = first.ceiling_cache_path()
    float(first.ceiling)
    record = read_checked_json(path, what="ceiling")
    # A checksum-valid file holding a value no data gives (say, from an older brainmark).
    write_checked_json(path, {**record, "value": None if np.isnan(cached_value) else cached_value})
    again = CountingBenchmark()
    with pytest.warns(CacheIntegrityWarning, match="no usable ceiling"):
        assert float(again.ceiling) == pytest.approx(0.8)
    assert again.calls == 1


def test_an_edited_cached_ceiling_is_reported_and_recomputed():
    first = CountingBenchmark()
    float(first.ceiling)
    path = first.ceiling_cache_path()
    path.write_text(path.read_text().replace("0.8", "0.0"))
    again = CountingBenchmark()
    with pytest.warns(CacheIntegrityWarning, match=f"{path}.*checksum"):
        assert float(again.ceiling) == pytest.approx(0.8)


@pytest.mark.parametrize("computed", [0.0, float("nan")])
def test_a_computed_ceiling_of_zero_or_nan_blames_the_data_and_is_not_cached(computed):
    benchmark = CountingBenchmark(ceiling=computed)
    with pytest.raises(BenchmarkError, match="computed a ceiling of"):
        float(benchmark.ceiling)
    assert not benchmark.ceiling_cache_path().exists()


class ResampledBenchmark(CountingBenchmark):
    """A CountingBenchmark whose raw score and ceiling carry resamples on the same draws."""

    raw_values = np.array([0.3, 0.5, 0.4, 0.45])
    ceiling_values = np.array([0.7, 0.9, 0.8, 0.75]) + np.pi * 1e-9  # not float32-exact

    def __init__(self):
        from brainmark.metrics.intervals import attach_interval

        super().__init__()
        counted = self._ceiling_func

        def ceiling_func():
            ceiling = counted()
            return attach_interval(ceiling, self.ceiling_values, method="test", resamples=4,
                                   seed=3)

        self._ceiling_func = ceiling_func
        self._attach = attach_interval

    def raw_score(self, model):
        raw = super().raw_score(model)
        return self._attach(raw, self.raw_values, method="test", resamples=4, seed=3)


def test_the_cached_ceiling_keeps_its_resamples_exactly_and_the_ceiled_score_divides_them():
    first = ResampledBenchmark()
    fresh = first(object())
    again = ResampledBenchmark()  # reads the cache
    cached = again(object())
    assert again.calls == 0
    np.testing.assert_array_equal(again.ceiling.attrs["resample_values"],
                                  ResampledBenchmark.ceiling_values)
    assert again.ceiling.attrs["interval"] == first.ceiling.attrs["interval"]
    expected = ResampledBenchmark.raw_values / ResampledBenchmark.ceiling_values
    for score in (fresh, cached):
        np.testing.assert_array_equal(score.attrs["resample_values"], expected)
        assert score.attrs["interval"] == pytest.approx(
            list(np.percentile(expected, [2.5, 97.5])))


def test_a_cached_ceiling_without_its_resamples_is_reported_and_recomputed():
    first = ResampledBenchmark()
    float(first.ceiling)
    path = first.ceiling_cache_path()
    record = read_checked_json(path, what="ceiling")
    write_checked_json(path, {key: value for key, value in record.items() if key != "interval"})
    again = ResampledBenchmark()
    with pytest.warns(CacheIntegrityWarning, match="no usable ceiling"):
        assert "resample_values" in again.ceiling.attrs
    assert again.calls == 1


def test_the_ceiling_cache_key_names_the_resampling():
    key = CountingBenchmark().ceiling_key()
    assert key["format"] == 2 and key["resampling"] == [1000, 14]

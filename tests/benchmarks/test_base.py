
import numpy as np
import pytest

from brainmark._files import read_checked_json, write_checked_json
from brainmark.benchmarks import BenchmarkBase, validate_identifier
from brainmark.data import PropertyAssembly, assembly_sha1
from brainmark.exceptions import BenchmarkError, CacheIntegrityWarning, ValidationError


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


@pytest.mark.parametrize("identifier", ["IT-rdm", "kriegeskorte.IT", "Smith2024", ""])
def test_identifiers_without_author_year_and_metric_are_refused(identifier):
    with pytest.raises(ValidationError, match="AuthorYear"):
        validate_identifier(identifier)


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

"""Score: float-like behaviour, ceiling, and a lossless strict-JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainmark import load_metric
from brainmark.exceptions import MetricError
from brainmark.metrics import Score, ceil_score
from brainmark.testing import assert_scores_equal
from brainmark.testing._metrics import neural_assemblies


def test_score_behaves_like_a_float():
    score = Score(0.25)
    assert float(score * 2 + 0.5) == 1.0
    assert score < 0.3 and score > 0.2
    assert round(score, 1) == 0.2
    assert f"{score:.2f}" == "0.25"


def test_ceil_score_divides_and_keeps_raw_ceiling_and_scaled_error():
    raw = Score(0.3)
    raw.attrs["error"] = 0.02
    ceiling = Score(0.6)
    ceiling.attrs["error"] = 0.01
    ceiled = ceil_score(raw, ceiling)
    assert float(ceiled) == pytest.approx(0.5)
    assert ceiled.attrs["error"] == pytest.approx(0.02 / 0.6)
    assert ceiled.attrs["raw"] is raw and ceiled.attrs["ceiling"] is ceiling


@pytest.mark.parametrize("bad", [0.0, -0.2, np.nan])
def test_a_ceiling_that_is_not_positive_is_refused(bad):
    with pytest.raises(MetricError, match="finite positive"):
        ceil_score(Score(0.3), Score(bad))


def test_json_round_trip_keeps_every_split_value_to_the_last_bit():
    model, data = neural_assemblies(n_repetitions=2)
    raw = load_metric("pls", n_components=5)(model, data)
    ceiled = ceil_score(raw, load_metric("internal_consistency")(data))
    ceiled.attrs["model_identifier"] = "pixels"
    ceiled.attrs["comment"] = None
    text = ceiled.to_json()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
    restored = Score.from_json(text)
    assert_scores_equal(restored, ceiled)
    assert restored.attrs["model_identifier"] == "pixels"
    restored_raw = restored.attrs["raw"].attrs["raw"]
    assert list(restored_raw["neuroid_id"].values) == [f"n{k}" for k in range(8)]
    np.testing.assert_array_equal(restored.attrs["raw"].attrs["n_components_used"], [5] * 10)


def test_json_round_trip_keeps_nan_multiindex_and_nested_lists():
    score = Score(np.nan)
    score.attrs["error"] = np.nan
    score.attrs["raw"] = [Score(0.5), Score(0.25)]
    score.attrs["table"] = {"a": np.array([1.0, np.inf, np.nan]), "b": [1, "x", True]}
    restored = Score.from_json(score.to_json())
    assert np.isnan(float(restored)) and np.isnan(restored.attrs["error"])
    assert [float(s) for s in restored.attrs["raw"]] == [0.5, 0.25]
    np.testing.assert_array_equal(restored.attrs["table"]["a"], [1.0, np.inf, np.nan])
    assert restored.attrs["table"]["b"] == [1, "x", True]
    _, data = neural_assemblies()
    wrapped = Score(1.0)
    wrapped.attrs["raw"] = data
    back = Score.from_json(wrapped.to_json()).attrs["raw"]
    assert type(back).__name__ == "NeuroidAssembly"
    assert back.indexes["presentation"].names == data.indexes["presentation"].names
    np.testing.assert_array_equal(back.values, data.values)


def test_from_dict_refuses_something_that_is_not_a_score():
    _, data = neural_assemblies()
    wrapped = Score(1.0)
    wrapped.attrs["raw"] = data
    with pytest.raises(MetricError, match="not a Score"):
        Score.from_dict(wrapped.to_dict()["attrs"]["raw"])

import math
import subprocess
import sys

import pytest

from brainmark.benchmarks.tree import (
    TREE,
    aggregate_scores,
    aggregate_table,
    clamp_score,
    parent_node,
)
from brainmark.exceptions import ValidationError

PARENTS = {
    "A2020.V1-rdm": "V1",
    "B2021.V1-pls": "V1",
    "C2022.IT-rdm": "IT",
    "D2023-error_consistency": "behavior",
    "E2024-top1": "engineering",
}


def test_node_score_is_mean_of_children_up_to_the_root():
    scores = {
        "A2020.V1-rdm": 0.2,
        "B2021.V1-pls": 0.4,
        "C2022.IT-rdm": 0.6,
        "D2023-error_consistency": 0.5,
        "E2024-top1": 0.9,
    }
    nodes = aggregate_scores(scores, PARENTS)
    assert nodes["V1"] == pytest.approx(0.3)
    assert nodes["IT"] == pytest.approx(0.6)
    assert nodes["neural_vision"] == pytest.approx(0.45)  # V2, V4 have no benchmarks
    assert nodes["behavior_vision"] == pytest.approx(0.5)
    assert nodes["average_vision"] == pytest.approx((0.45 + 0.5) / 2)
    assert nodes["engineering_vision"] == pytest.approx(0.9)


def test_engineering_is_not_averaged_into_the_vision_average():
    low = aggregate_scores({"E2024-top1": 0.0, "C2022.IT-rdm": 0.6}, PARENTS)
    high = aggregate_scores({"E2024-top1": 1.0, "C2022.IT-rdm": 0.6}, PARENTS)
    assert low["average_vision"] == high["average_vision"]


def test_missing_and_nan_children_count_as_zero():
    nodes = aggregate_scores({"A2020.V1-rdm": 0.2, "B2021.V1-pls": math.nan}, PARENTS)
    assert nodes["V1"] == pytest.approx(0.1)
    # IT and behavior have no score at all: empty, yet each counts 0 in its parent.
    assert nodes["IT"] is None and nodes["behavior_vision"] is None
    assert nodes["neural_vision"] == pytest.approx((0.1 + 0) / 2)
    assert nodes["average_vision"] == pytest.approx((0.05 + 0) / 2)
    assert nodes["engineering_vision"] is None


def test_a_model_with_no_score_at_all_has_empty_nodes():
    nodes = aggregate_scores({}, PARENTS)
    assert set(nodes) == {"average_vision", "neural_vision", "behavior_vision", "V1", "IT",
                          "engineering_vision"}
    assert all(value is None for value in nodes.values())


def test_leaf_scores_are_clamped_to_the_unit_interval_before_averaging():
    nodes = aggregate_scores({"A2020.V1-rdm": 1.6, "B2021.V1-pls": -0.3}, PARENTS)
    assert nodes["V1"] == pytest.approx((1.0 + 0.0) / 2)
    assert clamp_score(1.6) == 1.0 and clamp_score(-0.3) == 0.0 and clamp_score(0.25) == 0.25
    assert clamp_score(None) is None and clamp_score(math.nan) is None


def test_nodes_without_benchmarks_are_left_out():
    nodes = aggregate_scores({}, {"C2022.IT-rdm": "IT"})
    assert set(nodes) == {"IT", "neural_vision", "average_vision"}


def test_unknown_parent_is_refused_with_the_valid_names():
    with pytest.raises(ValidationError, match="V1"):
        parent_node("retina")
    assert parent_node("behavior") == "behavior_vision"
    assert TREE["neural_vision"] == "average_vision"


def test_aggregate_table_gives_every_model_the_same_nodes():
    scores = {"m1": {"A2020.V1-rdm": 0.2, "C2022.IT-rdm": 0.6},
              "m2": {"A2020.V1-rdm": None, "C2022.IT-rdm": 0.4}}
    nodes = aggregate_table(scores, {"A2020.V1-rdm": "V1", "C2022.IT-rdm": "IT"})
    assert list(nodes) == ["m1", "m2"]
    assert list(nodes["m1"]) == list(nodes["m2"]) == [
        "average_vision", "neural_vision", "V1", "IT"
    ]
    assert nodes["m2"]["V1"] is None  # its one benchmark has no score
    assert nodes["m2"]["neural_vision"] == pytest.approx((0 + 0.4) / 2)
    assert nodes["m1"]["neural_vision"] == pytest.approx(0.4)
    # (0.2 + 0.6) / 2 over V1 and IT, then over neural_vision alone: behavior is absent.
    assert nodes["m1"]["average_vision"] == pytest.approx(0.4)


def test_the_tree_imports_neither_pandas_nor_xarray_nor_the_benchmarks():
    code = (
        "import sys\n"
        "import brainmark.benchmarks.tree\n"
        "loaded = {'pandas', 'xarray', 'brainmark.benchmarks.base'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "from brainmark.benchmarks import NeuralBenchmark\n"
        "assert 'xarray' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr

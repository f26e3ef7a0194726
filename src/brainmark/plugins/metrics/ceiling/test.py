import pytest

from brainmark import load_metric
from brainmark.testing import check_metric


@pytest.mark.parametrize(
    "name", ["internal_consistency", "rdm_subject_ceiling", "error_consistency_ceiling"]
)
def test_metric_passes_the_conformance_checks(name):
    check_metric(load_metric(name))

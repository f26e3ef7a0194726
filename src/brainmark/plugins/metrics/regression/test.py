import pytest

from brainmark import load_metric
from brainmark.testing import check_metric


@pytest.mark.parametrize("name", ["pls", "ridge", "ridgecv", "linear"])
def test_metric_passes_the_conformance_checks(name):
    check_metric(load_metric(name))

"""Conformance checks and assertions for plugin authors (as sklearn's estimator_checks).

Each plugin's ``test.py``, ``brainmark test PATH`` and the submission pipeline call these;
:func:`make_stimulus_set` writes small deterministic images for tests and templates.
"""

from brainmark.testing._benchmarks import check_benchmark as check_benchmark
from brainmark.testing._metrics import assert_scores_equal as assert_scores_equal
from brainmark.testing._metrics import check_metric as check_metric
from brainmark.testing._models import check_model as check_model
from brainmark.testing._stimuli import make_stimulus_set as make_stimulus_set

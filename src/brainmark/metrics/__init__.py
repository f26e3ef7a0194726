"""Metrics, ceilings and scores: how a model's responses compare with experimental data.

Every metric is called as ``metric(model_assembly, data_assembly) -> Score`` and every
ceiling as ``ceiling(data_assembly) -> Score``; both are registered in ``metric_registry``
by the plugins in ``brainmark/plugins/metrics``. ``resolve_metric(name_or_metric,
**kwargs)`` turns a registered name into the metric (as ``brainmark.load_metric``) and
passes a metric through, for code that accepts either. ``docs/scores.md`` says what raw,
ceiling and ceiled mean for each family.
"""

from brainmark.metrics.behavior import Accuracy, ErrorConsistency, I2n, cohen_kappa
from brainmark.metrics.ceiling import (
    ErrorConsistencyCeiling,
    InternalConsistency,
    RDMSubjectCeiling,
    no_ceiling,
    spearman_brown,
)
from brainmark.metrics.regression import (
    LinearRegressionCorrelation,
    PLSRegressionCorrelation,
    RegressionCorrelation,
    RidgeCVRegressionCorrelation,
    RidgeRegressionCorrelation,
)
from brainmark.metrics.resolve import resolve_metric
from brainmark.metrics.score import Score, ceil_score, standard_error
from brainmark.metrics.similarity import CKASimilarity, RDMSimilarity, linear_cka
from brainmark.metrics.splits import stratified_splits

__all__ = [
    "Accuracy",
    "CKASimilarity",
    "ErrorConsistency",
    "ErrorConsistencyCeiling",
    "I2n",
    "InternalConsistency",
    "LinearRegressionCorrelation",
    "PLSRegressionCorrelation",
    "RDMSimilarity",
    "RDMSubjectCeiling",
    "RegressionCorrelation",
    "RidgeCVRegressionCorrelation",
    "RidgeRegressionCorrelation",
    "Score",
    "ceil_score",
    "cohen_kappa",
    "linear_cka",
    "no_ceiling",
    "resolve_metric",
    "spearman_brown",
    "standard_error",
    "stratified_splits",
]

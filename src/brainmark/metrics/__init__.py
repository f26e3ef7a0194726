"""Metrics, ceilings and scores: how a model's responses compare with experimental data.

Every metric is called as ``metric(model_assembly, data_assembly) -> Score`` and every
ceiling as ``ceiling(data_assembly) -> Score``; both are registered in ``metric_registry``
by the plugins in ``brainmark/plugins/metrics``. ``resolve_metric(name_or_metric,
**kwargs)`` turns a registered name into the metric (as ``brainmark.load_metric``) and
passes a metric through, for code that accepts either. ``docs/scores.md`` says what raw,
ceiling and ceiled mean for each family.

Nothing is imported with the package: each name loads its module (and with it xarray,
scipy or scikit-learn) when first asked for, so the site can import
:mod:`brainmark.metrics.intervals` to compare stored resamples without paying for them.
"""

from __future__ import annotations

from brainmark._lazy import lazy_exports

# Name -> the module defining it, imported on first use.
_DEFINED_IN = {
    **dict.fromkeys(("Accuracy", "ErrorConsistency", "I2n", "cohen_kappa"),
                    "brainmark.metrics.behavior"),
    **dict.fromkeys(("ErrorConsistencyCeiling", "InternalConsistency", "RDMSubjectCeiling",
                     "no_ceiling", "spearman_brown"), "brainmark.metrics.ceiling"),
    **dict.fromkeys(("LinearRegressionCorrelation", "PLSRegressionCorrelation",
                     "RegressionCorrelation", "RidgeCVRegressionCorrelation",
                     "RidgeRegressionCorrelation"), "brainmark.metrics.regression"),
    "resolve_metric": "brainmark.metrics.resolve",
    **dict.fromkeys(("Score", "ceil_score", "standard_error"), "brainmark.metrics.score"),
    **dict.fromkeys(("CKASimilarity", "RDMSimilarity", "linear_cka"),
                    "brainmark.metrics.similarity"),
    "stratified_splits": "brainmark.metrics.splits",
}

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _DEFINED_IN)

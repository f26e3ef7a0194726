from brainmark.metrics import (
    LinearRegressionCorrelation,
    PLSRegressionCorrelation,
    RidgeCVRegressionCorrelation,
    RidgeRegressionCorrelation,
)
from brainmark.registry import metric_registry

metric_registry["pls"] = PLSRegressionCorrelation
metric_registry["ridge"] = RidgeRegressionCorrelation
metric_registry["ridgecv"] = RidgeCVRegressionCorrelation
metric_registry["linear"] = LinearRegressionCorrelation

from brainmark.metrics import Accuracy, ErrorConsistency, I2n
from brainmark.registry import metric_registry

metric_registry["accuracy"] = Accuracy
metric_registry["i2n"] = I2n
metric_registry["error_consistency"] = ErrorConsistency

from brainmark.metrics import CKASimilarity, RDMSimilarity
from brainmark.registry import metric_registry

metric_registry["rdm"] = RDMSimilarity
metric_registry["cka"] = CKASimilarity

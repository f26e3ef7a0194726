from brainmark.metrics import ErrorConsistencyCeiling, InternalConsistency, RDMSubjectCeiling
from brainmark.registry import metric_registry

metric_registry["internal_consistency"] = InternalConsistency
metric_registry["rdm_subject_ceiling"] = RDMSubjectCeiling
metric_registry["error_consistency_ceiling"] = ErrorConsistencyCeiling

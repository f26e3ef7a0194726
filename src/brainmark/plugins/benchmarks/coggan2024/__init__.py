from brainmark.registry import benchmark_registry

from .benchmark import coggan2024_it, coggan2024_v1, coggan2024_v2, coggan2024_v4

benchmark_registry["Coggan2024.V1-rdm"] = coggan2024_v1
benchmark_registry["Coggan2024.V2-rdm"] = coggan2024_v2
benchmark_registry["Coggan2024.V4-rdm"] = coggan2024_v4
benchmark_registry["Coggan2024.IT-rdm"] = coggan2024_it

from brainmark.registry import benchmark_registry

from .benchmark import (
    geirhos2021_edge_error_consistency,
    geirhos2021_edge_top1,
    geirhos2021_silhouette_error_consistency,
    geirhos2021_silhouette_top1,
)

benchmark_registry["Geirhos2021edge-top1"] = geirhos2021_edge_top1
benchmark_registry["Geirhos2021edge-error_consistency"] = geirhos2021_edge_error_consistency
benchmark_registry["Geirhos2021silhouette-top1"] = geirhos2021_silhouette_top1
benchmark_registry["Geirhos2021silhouette-error_consistency"] = (
    geirhos2021_silhouette_error_consistency
)

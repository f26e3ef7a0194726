from brainmark.registry import data_registry, stimulus_set_registry

from .data import (
    load_edge_stimuli,
    load_edge_trials,
    load_silhouette_stimuli,
    load_silhouette_trials,
)

stimulus_set_registry["Geirhos2021edge"] = load_edge_stimuli
stimulus_set_registry["Geirhos2021silhouette"] = load_silhouette_stimuli
data_registry["Geirhos2021edge"] = load_edge_trials
data_registry["Geirhos2021silhouette"] = load_silhouette_trials

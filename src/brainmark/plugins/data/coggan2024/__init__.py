from brainmark.registry import data_registry, stimulus_set_registry

from .data import load_it, load_stimuli, load_v1, load_v2, load_v4

stimulus_set_registry["Coggan2024"] = load_stimuli
data_registry["Coggan2024.V1"] = load_v1
data_registry["Coggan2024.V2"] = load_v2
data_registry["Coggan2024.V4"] = load_v4
data_registry["Coggan2024.IT"] = load_it

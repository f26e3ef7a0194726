"""Data standards: stimulus sets, assemblies, packaging, stores and loaders."""

from brainmark.data.assemblies import (
    BehavioralAssembly,
    DataAssembly,
    NeuroidAssembly,
    PropertyAssembly,
    assembly_class,
    attach_stimulus_set_meta,
    average_repetitions,
    coords_frame,
    gather_indexes,
    walk_coords,
)
from brainmark.data.stimuli import StimulusSet

__all__ = [
    "BehavioralAssembly",
    "DataAssembly",
    "NeuroidAssembly",
    "PropertyAssembly",
    "StimulusSet",
    "assembly_class",
    "attach_stimulus_set_meta",
    "average_repetitions",
    "coords_frame",
    "gather_indexes",
    "walk_coords",
]

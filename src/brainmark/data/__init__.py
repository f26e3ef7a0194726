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
from brainmark.data.hashing import assembly_sha1, stimulus_set_sha1
from brainmark.data.images import open_image
from brainmark.data.loaders import (
    fetch_file,
    load_assembly_from_s3,
    load_assembly_from_store,
    load_stimulus_set_from_s3,
    load_stimulus_set_from_store,
)
from brainmark.data.packaging import (
    package_data_assembly_locally,
    package_stimulus_set_locally,
)
from brainmark.data.stimuli import StimulusSet
from brainmark.data.store import LocalStore, S3Store, Store, open_store
from brainmark.data.validation import (
    validate_alignment,
    validate_assembly,
    validate_stimulus_set,
)

__all__ = [
    "BehavioralAssembly",
    "DataAssembly",
    "LocalStore",
    "NeuroidAssembly",
    "PropertyAssembly",
    "S3Store",
    "StimulusSet",
    "Store",
    "assembly_class",
    "assembly_sha1",
    "attach_stimulus_set_meta",
    "average_repetitions",
    "coords_frame",
    "fetch_file",
    "gather_indexes",
    "load_assembly_from_s3",
    "load_assembly_from_store",
    "load_stimulus_set_from_s3",
    "load_stimulus_set_from_store",
    "open_image",
    "open_store",
    "package_data_assembly_locally",
    "package_stimulus_set_locally",
    "stimulus_set_sha1",
    "validate_alignment",
    "validate_assembly",
    "validate_stimulus_set",
    "walk_coords",
]

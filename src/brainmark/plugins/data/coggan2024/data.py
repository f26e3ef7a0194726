"""Loaders of the Coggan2024 files shipped in this folder (SHA1s pinned, verified on load)."""

from __future__ import annotations

from pathlib import Path

from brainmark.data import (
    PropertyAssembly,
    StimulusSet,
    load_assembly_from_store,
    load_stimulus_set_from_store,
)

BUCKET = Path(__file__).parent.as_uri()
STIMULUS_SET_SHA1S = {
    "csv_sha1": "69f23f76dab023d2d2cbaf8584489553ed7e71d8",
    "zip_sha1": "0a29688ec91b5ea65194b265a09c7cc19887185f",
}
RDM_SHA1S = {
    "V1": "05e9787aaa77e904f9e28c5dae82cba1a0502213",
    "V2": "33c819a2cda62b1e6d8609a368f754886ece9907",
    "V4": "219324548608493e32680a8588408635bf56ea45",
    "IT": "f81c40766f893642421fbd986e0fadc753082845",
}


def load_stimuli() -> StimulusSet:
    """The 24 occlusion images (8 objects x complete/upper/lower)."""
    return load_stimulus_set_from_store("Coggan2024", BUCKET, **STIMULUS_SET_SHA1S)


def load_rdms(region: str) -> PropertyAssembly:
    """RDMs (1 - cross-run r) of ``region``: subject x stimulus_row x stimulus_column."""
    return load_assembly_from_store(
        f"Coggan2024.{region}",
        BUCKET,
        RDM_SHA1S[region],
        cls=PropertyAssembly,
        stimulus_set_loader=load_stimuli,
    )


def load_v1() -> PropertyAssembly:
    return load_rdms("V1")


def load_v2() -> PropertyAssembly:
    return load_rdms("V2")


def load_v4() -> PropertyAssembly:
    return load_rdms("V4")


def load_it() -> PropertyAssembly:
    return load_rdms("IT")

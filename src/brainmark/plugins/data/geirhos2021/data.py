"""Loaders of the Geirhos2021 files shipped in this folder (SHA1s pinned, verified on load)."""

from __future__ import annotations

from pathlib import Path

from brainmark.data import (
    BehavioralAssembly,
    StimulusSet,
    load_assembly_from_store,
    load_stimulus_set_from_store,
)

BUCKET = Path(__file__).parent.as_uri()
STIMULUS_SET_SHA1S = {
    "edge": {
        "csv_sha1": "6b441fc6fea95ceeba6095608472cff243d61e40",
        "zip_sha1": "799d6ab67664fb0a31f608ded5ea9ad6144fe9c9",
    },
    "silhouette": {
        "csv_sha1": "9f6f8c04683d98a4e166533d756df9fd3ce1c467",
        "zip_sha1": "c8a3f626d1b20b8d69ad2da35945f76c918f80f3",
    },
}
ASSEMBLY_SHA1S = {
    "edge": "41455b05a7e5525132c1fb1c0a3614ed2b7a7dec",
    "silhouette": "65238200ef4827c14a88d75b0b1f03d14bb1756a",
}


def load_stimuli(image_set: str) -> StimulusSet:
    """160 images of ``image_set`` ('edge' or 'silhouette') with their ``image_label``."""
    return load_stimulus_set_from_store(
        f"Geirhos2021{image_set}", BUCKET, **STIMULUS_SET_SHA1S[image_set]
    )


def load_trials(image_set: str) -> BehavioralAssembly:
    """Every human trial on ``image_set``: values are the chosen category."""
    return load_assembly_from_store(
        f"Geirhos2021{image_set}",
        BUCKET,
        ASSEMBLY_SHA1S[image_set],
        cls=BehavioralAssembly,
        stimulus_set_loader=lambda: load_stimuli(image_set),
    )


def load_edge_stimuli() -> StimulusSet:
    return load_stimuli("edge")


def load_silhouette_stimuli() -> StimulusSet:
    return load_stimuli("silhouette")


def load_edge_trials() -> BehavioralAssembly:
    return load_trials("edge")


def load_silhouette_trials() -> BehavioralAssembly:
    return load_trials("silhouette")

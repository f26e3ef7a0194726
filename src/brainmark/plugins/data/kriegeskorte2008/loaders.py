"""Loaders of the Kriegeskorte 2008 92-image data, pinned to the files shipped beside them.

The packaged files in this folder are read through the standard checksum-verified loaders
with a ``file://`` store on the folder, so a changed file is refused rather than scored.
``data_packaging.py`` regenerates the files and prints the SHA1s pinned here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainmark.data import (
    PropertyAssembly,
    StimulusSet,
    load_assembly_from_store,
    load_stimulus_set_from_store,
)

BUCKET = Path(__file__).parent.absolute().as_uri()
STIMULUS_SET_IDENTIFIER = "Kriegeskorte2008"
STIMULUS_SET_SHA1S = {
    "csv_sha1": "c2e122dab7204b842fb8f9f5daf436dc92c6fa03",
    "zip_sha1": "5ba7f1a3a4a16ac89c622cd90b67ec556af59227",
}
ASSEMBLY_SHA1S = {
    "Kriegeskorte2008.mIT": "1090ddca71468f4ee2c0f0bb30f667ba4f325dc6",
    "Kriegeskorte2008.hIT": "8e4672d95ab47457be0c3b4ed00bec33385338f5",
    "Kriegeskorte2008.hIT-sessions": "c6735cb1ffef3549d3bdfd411573ee20380e6c27",
    "Kriegeskorte2008.behavior-similarity": "bf94d7019e87768002b106e492d300347da3860b",
    "Kriegeskorte2008.model-RDMs": "d55b9c649102011f9f5b750e74b56e4547c5feac",
}


def load_stimulus_set() -> StimulusSet:
    """The 92 images (175x175 RGB PNG) with category flags; ids 'image01'..'image92'."""
    return load_stimulus_set_from_store(STIMULUS_SET_IDENTIFIER, BUCKET, **STIMULUS_SET_SHA1S)


def load_rdm(identifier: str) -> PropertyAssembly:
    """One of the packaged RDM assemblies (``stimulus_row x stimulus_column``, maybe led by
    ``subject`` or ``model``), with the stimulus set attached as ``attrs['stimulus_set']``."""
    return load_assembly_from_store(
        identifier,
        BUCKET,
        ASSEMBLY_SHA1S[identifier],
        cls=PropertyAssembly,
        stimulus_set_loader=load_stimulus_set,
    )


def load_monkey_it() -> PropertyAssembly:
    """Monkey IT RDM (Kiani et al. 2007; 674 neurons), 1 - Pearson r."""
    return load_rdm("Kriegeskorte2008.mIT")


def load_human_it() -> PropertyAssembly:
    """Human IT fMRI RDM (316 voxels, four subjects), 1 - Pearson r."""
    return load_rdm("Kriegeskorte2008.hIT")


def load_human_it_sessions() -> PropertyAssembly:
    """Human IT RDMs per subject and session: ``subject`` 'BE-1', 'BE-2', ... 'TI-2' with
    coordinates ``participant`` ('BE') and ``session`` (1 or 2)."""
    return load_rdm("Kriegeskorte2008.hIT-sessions")


def load_human_it_subjects() -> PropertyAssembly:
    """Human IT RDMs of the four subjects ('BE', 'KO', 'SN', 'TI'), each the mean of its two
    sessions (computed from the per-session file, in float64)."""
    sessions = load_human_it_sessions()
    participants = np.asarray(sessions["participant"].values)
    subjects = list(dict.fromkeys(participants.tolist()))
    values = np.asarray(sessions.values, dtype=np.float64)
    means = np.stack([values[participants == subject].mean(axis=0) for subject in subjects])
    attrs = {
        **sessions.attrs,
        "identifier": "Kriegeskorte2008.hIT-subjects",
        "recording": "fMRI, per subject (mean of two sessions)",
    }
    return PropertyAssembly(
        means,
        dims=("subject", "stimulus_row", "stimulus_column"),
        coords={
            "subject": subjects,
            "stimulus_row": sessions["stimulus_row"].values,
            "stimulus_column": sessions["stimulus_column"].values,
        },
        attrs=attrs,
    )


def load_behavior_similarity() -> PropertyAssembly:
    """Similarity-judgement RDMs of 16 subjects (Mur et al. 2013), ``subject`` 'subject1'..."""
    return load_rdm("Kriegeskorte2008.behavior-similarity")


def load_model_rdms() -> PropertyAssembly:
    """The eight reference RDMs of the paper along a ``model`` dimension (animacy, ...)."""
    return load_rdm("Kriegeskorte2008.model-RDMs")

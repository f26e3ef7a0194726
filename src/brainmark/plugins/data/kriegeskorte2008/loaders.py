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
    "csv_sha1": "eeb77953891fce91178d7ce8aa5e6d20c87c695e",
    "zip_sha1": "5ba7f1a3a4a16ac89c622cd90b67ec556af59227",
}
ASSEMBLY_SHA1S = {
    "Kriegeskorte2008.mIT": "88c46203ee3ed9fed98298e6a605ce77a3b0bd73",
    "Kriegeskorte2008.hIT": "782585245674b258d53c061aa67253a8887424e9",
    "Kriegeskorte2008.hIT-sessions": "66070e8eb1b90a62b79da20eda0aaf3c24a4f9f6",
    "Kriegeskorte2008.behavior-similarity": "b26a74855fc1b8383ff0a79fa14c6acc4fe6963d",
    "Kriegeskorte2008.model-RDMs": "a56754defe919db99a9c12e98a6f1bd40c13fa24",
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

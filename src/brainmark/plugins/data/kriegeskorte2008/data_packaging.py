"""Regenerate this plugin's packaged files from the raw rsatoolbox .mat files (provenance).

Run by hand from the repository root::

    python src/brainmark/plugins/data/kriegeskorte2008/data_packaging.py RAW_FOLDER

where RAW_FOLDER holds ``Kriegeskorte_Neuron2008_supplementalData.mat``, ``92_brainRDMs.mat``,
``92_behavRDMs.mat`` and ``92_modelRDMs.mat`` (rsatoolbox ``demos/92imageData/``). It writes
the CSV, ZIP and netCDF files next to this script and prints their SHA1s, which
``loaders.py`` pins. (Named ``data_packaging.py``, not ``packaging.py``: run as a script, its
folder comes first on ``sys.path`` and would shadow the ``packaging`` library.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image
from scipy.spatial.distance import squareform

from brainmark.data import (
    PropertyAssembly,
    StimulusSet,
    package_data_assembly_locally,
    package_stimulus_set_locally,
)

IDENTIFIER = "Kriegeskorte2008"
# categoryLabels of the .mat -> column names; 'animate', 'human' and 'face' repeat the
# per-stimulus flags 'animal', 'human' and 'face' (checked below) and are not repeated.
CATEGORY_COLUMNS = {
    "inanim": "inanimate",
    "nonhumani": "nonhuman",
    "body": "body",
    "natObj": "natural_object",
    "artiObj": "artificial_object",
    "monkeyape": "monkey_ape",
    "rand24": "rand24",
    "rand48": "rand48",
    "other48": "other48",
}
DUPLICATE_CATEGORIES = {"animate": "animal", "human": "human", "face": "face"}


def stimulus_ids() -> list[str]:
    return [f"image{number:02d}" for number in range(1, 93)]


def build_stimulus_set(raw: Path, image_folder: Path) -> StimulusSet:
    """The 92 images as PNG files in ``image_folder`` with their category metadata."""
    supplement = scipy.io.loadmat(raw / "Kriegeskorte_Neuron2008_supplementalData.mat")
    stimuli = supplement["stimuli_92objs"][0]
    ids = stimulus_ids()
    paths = {}
    for sid, stimulus in zip(ids, stimuli, strict=True):
        path = image_folder / f"{sid}.png"
        Image.fromarray(stimulus["image"]).save(path, format="PNG", optimize=True)
        paths[sid] = path
    columns: dict[str, object] = {
        "stimulus_id": ids,
        "category": [str(stimulus["category"][0]) for stimulus in stimuli],
    }
    for flag in ("human", "face", "animal", "natural"):
        columns[flag] = np.array([bool(stimulus[flag][0, 0]) for stimulus in stimuli])
    vectors = supplement["categoryVectors"].astype(bool)
    labels = [str(label[0]) for label in supplement["categoryLabels"].ravel()]
    for position, label in enumerate(labels):
        if label in DUPLICATE_CATEGORIES:
            flag = columns[DUPLICATE_CATEGORIES[label]]
            assert (vectors[:, position] == flag).all(), f"{label} differs from its flag"
        else:
            columns[CATEGORY_COLUMNS[label]] = vectors[:, position]
    return StimulusSet(columns, stimulus_paths=paths, identifier=IDENTIFIER)


def rdm(values: np.ndarray, **coords: object) -> PropertyAssembly:
    """An RDM assembly over the 92 stimuli, with an optional leading dim (subject/model)."""
    ids = stimulus_ids()
    leading = list(coords)
    dims = [*leading[:1], "stimulus_row", "stimulus_column"]
    all_coords: dict[str, object] = {"stimulus_row": ids, "stimulus_column": ids}
    for name in leading:
        all_coords[name] = (dims[0], coords[name])
    return PropertyAssembly(values, dims=dims, coords=all_coords)


def build_assemblies(raw: Path) -> dict[str, PropertyAssembly]:
    supplement = scipy.io.loadmat(raw / "Kriegeskorte_Neuron2008_supplementalData.mat")
    fig1 = {str(entry["name"][0]): entry["RDM"].ravel() for entry in supplement[
        "RDMs_mIT_hIT_fig1"][0]}
    monkey = rdm(squareform(fig1["mIT_674neurons"]))
    monkey.attrs.update(
        species="macaque", region="IT", recording="single-unit (674 neurons, 2 monkeys)",
        dissimilarity="1 - Pearson r across neurons", source="Kiani et al. 2007",
    )
    human = rdm(squareform(fig1["hITvisStim_316vx"]))
    human.attrs.update(
        species="human", region="IT", recording="fMRI (316 voxels, 4 subjects)",
        dissimilarity="1 - Pearson r across voxels", source="Kriegeskorte et al. 2008",
    )

    brain = scipy.io.loadmat(raw / "92_brainRDMs.mat")["RDMs"][0]
    names, participants, sessions, matrices = [], [], [], []
    for participant_index in range(brain.shape[0]):
        for session_index in range(brain.shape[1]):
            entry = brain[participant_index, session_index]
            # Names read 'hIT | BE | Session: 1'.
            _, participant, session = (part.strip() for part in str(entry["name"][0]).split("|"))
            session_number = int(session.split(":")[1])
            names.append(f"{participant}-{session_number}")
            participants.append(participant)
            sessions.append(session_number)
            matrices.append(entry["RDM"])
    sessions_rdm = rdm(
        np.stack(matrices), subject=names, participant=participants, session=sessions
    )
    sessions_rdm.attrs.update(
        species="human", region="IT", recording="fMRI, per subject and session",
        dissimilarity="1 - Pearson r across voxels", source="Kriegeskorte et al. 2008",
    )

    behavior = scipy.io.loadmat(raw / "92_behavRDMs.mat")["rdms_behav_92"][0]
    subjects = [str(entry["name"][0]).split("|")[1].strip() for entry in behavior]
    behavior_rdm = rdm(np.stack([entry["RDM"] for entry in behavior]), subject=subjects)
    behavior_rdm.attrs.update(
        species="human", task="similarity judgements by multi-arrangement",
        dissimilarity="judged dissimilarity (inverse MDS of arrangements)",
        source="Mur et al. 2013",
    )

    models = scipy.io.loadmat(raw / "92_modelRDMs.mat")["Models"][0]
    model_rdm = rdm(
        np.stack([entry["RDM"].astype(np.float64) for entry in models]),
        model=[str(entry["name"][0]) for entry in models],
    )
    model_rdm.attrs.update(
        description="reference RDMs of Kriegeskorte et al. 2008: categorical models, "
        "image-computable models (EVA, HMAX, V1, silhouette, RADON) and monkey IT",
        source="rsatoolbox demos/92imageData",
    )
    return {
        f"{IDENTIFIER}.mIT": monkey,
        f"{IDENTIFIER}.hIT": human,
        f"{IDENTIFIER}.hIT-sessions": sessions_rdm,
        f"{IDENTIFIER}.behavior-similarity": behavior_rdm,
        f"{IDENTIFIER}.model-RDMs": model_rdm,
    }


def package(raw: Path, output: Path) -> dict[str, dict[str, str]]:
    """Write every packaged file into ``output``; return identifier -> SHA1s."""
    with tempfile.TemporaryDirectory() as images:
        stimulus_set = build_stimulus_set(raw, Path(images))
        record = package_stimulus_set_locally(stimulus_set, IDENTIFIER, output)
    pins = {IDENTIFIER: {"csv_sha1": record["csv_sha1"], "zip_sha1": record["zip_sha1"]}}
    for identifier, assembly in build_assemblies(raw).items():
        record = package_data_assembly_locally(
            assembly, identifier, IDENTIFIER, "PropertyAssembly", output,
            stimulus_set=stimulus_set,
        )
        pins[identifier] = {"sha1": record["sha1"]}
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="folder with the four rsatoolbox .mat files")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent,
        help="where to write the packaged files (default: this plugin folder)",
    )
    arguments = parser.parse_args()
    print(json.dumps(package(arguments.raw, arguments.output), indent=2))


if __name__ == "__main__":
    main()
